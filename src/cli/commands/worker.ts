// `kubeadm2ha worker`: a standalone worker for a shared or production Temporal server. Run several on one task
// queue to spread hosts over machines; each keeps one SSH connection per host it works on. Whom it trusts over
// SSH (host keys, keys) comes from its own flags or an inventory file given here, never from workflow input.
import type { Command } from 'commander';
import { DEFAULT_SSH_TRUST, sshTrustOf, type SshTrust } from '../../activities/ssh-trust.js';
import { InvalidInputError } from '../../errors.js';
import { loadInventory } from '../../inventory/index.js';
import {
  addTemporalOptions,
  createNativeConnection,
  resolveTemporalOptions,
  type TemporalFlags,
} from '../../temporal/connection.js';
import { createKubeadmHaWorker } from '../../worker.js';
import { positiveInteger } from '../flags.js';

interface WorkerFlags extends TemporalFlags {
  taskQueue: string;
  maxConcurrentActivities?: string;
  activityLog?: string;
  inventory?: string;
  knownHosts?: string;
  hostKeyPolicy?: string;
  identity?: string;
  sshConfig?: string;
  agent?: boolean;
}

/** The worker's SSH trust: defaults, then an inventory file it was given, then single flags on top. */
export async function workerSshTrust(flags: WorkerFlags): Promise<SshTrust> {
  const base = flags.inventory ? sshTrustOf((await loadInventory(flags.inventory)).inventory) : DEFAULT_SSH_TRUST;
  const policy = flags.hostKeyPolicy;
  if (policy !== undefined && policy !== 'strict' && policy !== 'accept-new')
    throw new InvalidInputError(`--host-key-policy must be strict or accept-new, not ${JSON.stringify(policy)}`);
  return {
    ...base,
    ...(policy !== undefined && { hostKeyPolicy: policy }),
    ...(flags.knownHosts !== undefined && { knownHostsFile: flags.knownHosts }),
    ...(flags.identity !== undefined && { identityFile: flags.identity }),
    ...(flags.sshConfig !== undefined && { configFile: flags.sshConfig }),
    ...(flags.agent === false && { useAgent: false }),
  };
}

export async function runWorkerCommand(flags: WorkerFlags): Promise<void> {
  // Checked before connecting: an open connection keeps the process alive after the error.
  const maxConcurrentActivities =
    flags.maxConcurrentActivities === undefined
      ? undefined
      : positiveInteger('--max-concurrent-activities', flags.maxConcurrentActivities);
  const opts = resolveTemporalOptions(flags);
  const sshTrust = await workerSshTrust(flags);
  const connection = await createNativeConnection(opts);
  try {
    const w = await createKubeadmHaWorker({
      connection,
      namespace: opts.namespace,
      taskQueue: flags.taskQueue,
      sshTrust,
      ...(flags.activityLog && { activityLogFile: flags.activityLog }),
      ...(maxConcurrentActivities !== undefined && { maxConcurrentActivities }),
    });
    process.stderr.write(
      `worker: polling task queue ${flags.taskQueue} on ${opts.address} (namespace ${opts.namespace}); ` +
        `host keys ${sshTrust.hostKeyPolicy} against ${sshTrust.knownHostsFile ?? '~/.ssh/known_hosts'}\n`,
    );
    // The SDK shuts the worker down gracefully on SIGINT/SIGTERM; run() returns then.
    await w.run();
  } finally {
    // Also when the worker could not be created: an open connection would keep the process from exiting.
    await connection.close();
  }
}

export function register(program: Command): void {
  addTemporalOptions(
    program
      .command('worker')
      .description('run a worker that executes kubeadm2ha workflows and activities')
      .option('--task-queue <name>', 'task queue to poll', 'kubeadm2ha')
      .option('--max-concurrent-activities <n>', 'activities run at once by this worker')
      .option('--activity-log <file>', 'append a JSON line per activity start/completion/failure')
      .option(
        '-i, --inventory <file>',
        'take SSH trust (host-key policy, known_hosts, keys, ssh config) from this inventory',
      )
      .option('--known-hosts <file>', 'known_hosts file to check host keys against (default ~/.ssh/known_hosts)')
      .option('--host-key-policy <policy>', 'strict (default): refuse unknown hosts; accept-new: record them')
      .option('--identity <file>', 'private key for every host (default: ssh config IdentityFile, else ~/.ssh/id_*)')
      .option('--ssh-config <file>', 'OpenSSH client config (default ~/.ssh/config)')
      .option('--no-agent', 'do not use $SSH_AUTH_SOCK'),
  ).action(runWorkerCommand);
}
