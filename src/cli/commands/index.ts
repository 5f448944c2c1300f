// The CLI's table of contents. Each command module exports `register(program)`; it is imported only when its
// command is run (or its own --help asked), so `kubeadm2ha --help` and a quick command do not load Temporal's
// worker, the lab or node-forge. The summaries here are what top-level help lists; a unit test checks that they
// are the ones the modules register.
import type { Command } from 'commander';

export type RegisterCommand = (program: Command) => void;

export interface CommandModule {
  /** Top-level command names the module registers, with their one-line descriptions. */
  commands: Record<string, string>;
  load: () => Promise<{ register: RegisterCommand }>;
}

export const commandModules: CommandModule[] = [
  {
    commands: {
      addons: 'cluster addons: list, apply (server-side), remove exactly',
      dashboard: 'the dashboard addon (Headlamp)',
    },
    load: () => import('./addons.js'),
  },
  {
    commands: { certs: 'certificate expiry: check now, check on a schedule, renew' },
    load: () => import('./certs.js'),
  },
  {
    commands: {
      codec:
        'payload encryption: codec server for the Web UI, key rotation (keyring: $KUBEADM2HA_CODEC_KEYRING or ~/.config/kubeadm2ha/codec-keyring.json)',
    },
    load: () => import('./codec.js'),
  },
  { commands: { etcd: 'the external etcd cluster' }, load: () => import('./etcd.js') },
  {
    commands: {
      decide:
        'a step failed for good and the run waits: retry it, skip its host (not masters), roll its host back (upgrade), or abort (undo this run)',
      approve: 'let a phase (or one host of it) that waits for approval go on',
    },
    load: () => import('./gates.js'),
  },
  {
    commands: { images: 'the images a cluster needs: list them, deliver them to hosts' },
    load: () => import('./images.js'),
  },
  {
    commands: { inventory: 'check or convert an inventory without contacting any host' },
    load: () => import('./inventory.js'),
  },
  {
    commands: {
      kubeconfig: 'a kubeconfig through the VIP/load balancer, its client certificate signed by the local cluster CA',
    },
    load: () => import('./kubeconfig.js'),
  },
  {
    commands: { preflight: 'check every host against the kubeadm prerequisites (read-only)' },
    load: () => import('./preflight.js'),
  },
  {
    commands: {
      status: "list a cluster's recent operations with per-host progress of running ones",
      runs: 'list runs (status, start, what each is, what waits for a person), newest first',
      resume: 'attach to a running operation: serve it with a worker if none polls, and follow it to its end',
    },
    load: () => import('./runs.js'),
  },
  {
    commands: {
      setup: 'set up (or converge) the HA cluster: nodes, etcd, VIP and load balancer, kubeadm init and joins',
    },
    load: () => import('./setup.js'),
  },
  {
    commands: {
      upgrade: 'upgrade the cluster to a Kubernetes version: masters one by one, workers in batches',
    },
    load: () => import('./upgrade.js'),
  },
  {
    commands: {
      uninstall: 'tear the cluster down: kubeadm reset everywhere, etcd and its data, VIP, load balancer, CNI state',
    },
    load: () => import('./uninstall.js'),
  },
  {
    commands: { worker: 'run a worker that executes kubeadm2ha workflows and activities' },
    load: () => import('./worker.js'),
  },
  {
    commands: { server: 'run the local Temporal dev server (the default backend)' },
    load: () => import('./server.js'),
  },
];

/**
 * Register the module of the command named in argv in full, and every other command as a one-line entry for help.
 * `kubeadm2ha help <command>` loads that command too.
 */
export async function registerCommands(program: Command, argv: string[]): Promise<void> {
  const words = argv.filter((a) => !a.startsWith('-'));
  const named = words[0] === 'help' ? words[1] : words[0];
  const chosen = commandModules.find((m) => named !== undefined && named in m.commands);
  if (chosen) (await chosen.load()).register(program);
  for (const m of commandModules) {
    if (m === chosen) continue;
    for (const [name, summary] of Object.entries(m.commands)) program.command(name).description(summary);
  }
}
