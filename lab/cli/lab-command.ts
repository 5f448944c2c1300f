// `npm run lab -- up|down|status`: a lab of SSH hosts on this machine (network namespaces on 10.200.0.0/16, see
// lab/) that outlives the command, for trying kubeadm2ha by hand: `lab up` prints an inventory to pass to other
// commands and an `ssh -F` line; `npm run lab -- down` removes it from any later process.
import type { Command } from 'commander';
import { InvalidInputError } from '../../src/errors.js';
import { cleanupStaleLabs, createLab, destroyLabById, ensureLabPackages, labStatus } from '../index.js';
import { MAX_K8S_HOSTS } from '../k8s/addresses.js';
import { createK8sLab } from '../k8s/k8s-lab.js';
import { MAX_HOSTS } from '../names.js';

interface UpFlags {
  hosts: string;
  unprepared?: boolean;
  json?: boolean;
  /** `--kubernetes` alone: the lab's current version; `--kubernetes 1.33.13`: that one. */
  kubernetes?: string | boolean;
}

interface DownFlags {
  id?: string;
  all?: boolean;
  force?: boolean;
}

export async function labUp(flags: UpFlags): Promise<void> {
  const hosts = Number(flags.hosts);
  if (!Number.isInteger(hosts) || hosts < 1 || hosts > MAX_HOSTS) {
    throw new InvalidInputError(`--hosts: expected 1..${MAX_HOSTS}, got ${flags.hosts}`);
  }
  await ensureLabPackages();
  if (flags.kubernetes) return labUpKubernetes(hosts, flags);
  const t0 = performance.now();
  const lab = await createLab({ hosts, prepared: !flags.unprepared, detached: true });
  const inventory = await lab.writeInventory();
  const ms = Math.round(performance.now() - t0);
  if (flags.json) {
    console.log(
      JSON.stringify(
        {
          id: lab.id,
          dir: lab.dir,
          subnet: lab.subnet,
          vip: lab.vip,
          inventory,
          sshConfig: lab.sshConfigPath,
          hosts: lab.hosts,
          startMs: ms,
        },
        null,
        2,
      ),
    );
    return;
  }
  console.log(`Lab ${lab.id} up in ${ms} ms: ${hosts} host(s) on ${lab.subnet}, VIP ${lab.vip}`);
  for (const h of lab.hosts) console.log(`  ${h.name}  ${h.address}`);
  console.log(`Directory: ${lab.dir}`);
  console.log(`Inventory: ${inventory}`);
  console.log(`Log in:    ssh -F ${lab.sshConfigPath} h1`);
  console.log(`Remove:    npm run lab -- down --id ${lab.id}`);
}

/** The real-Kubernetes variant: a registry and an apt mirror on the lab bridge, hosts ready for kubeadm. */
async function labUpKubernetes(hosts: number, flags: UpFlags): Promise<void> {
  if (hosts > MAX_K8S_HOSTS) throw new InvalidInputError(`--hosts: a Kubernetes lab has 1..${MAX_K8S_HOSTS} hosts`);
  if (flags.unprepared) throw new InvalidInputError('--unprepared and --kubernetes do not go together');
  const version = typeof flags.kubernetes === 'string' ? flags.kubernetes : undefined;
  const t0 = performance.now();
  const lab = await createK8sLab({ hosts, detached: true, ...(version && { version }) });
  const inventory = await lab.writeInventory();
  const ms = Math.round(performance.now() - t0);
  const k = lab.kubernetes;
  if (flags.json) {
    const { binaries: _binaries, podRange: _podRange, ...info } = k;
    const out = {
      id: lab.id,
      dir: lab.dir,
      subnet: lab.subnet,
      vip: lab.vip,
      inventory,
      hosts: lab.hosts,
      startMs: ms,
    };
    console.log(JSON.stringify({ ...out, sshConfig: lab.sshConfigPath, kubernetes: info }, null, 2));
    return;
  }
  console.log(`Kubernetes lab ${lab.id} up in ${ms} ms: ${hosts} host(s) on ${lab.subnet}, VIP ${lab.vip}`);
  for (const h of lab.hosts) console.log(`  ${h.name}  ${h.address}  pods ${k.podRange(h)}`);
  console.log(`Images:    ${k.imageRepository} (Kubernetes v${k.version}, no etcd image: etcd is external)`);
  console.log(
    `Packages:  ${k.aptMirror}  ${Object.values(k.packageVersions)
      .map((v) => `kubeadm=${v}`)
      .join(' ')}`,
  );
  console.log(`           etcd-server=${k.etcd.packageVersion}; hosts' apt knows only this mirror`);
  console.log(`Services:  ${k.serviceSubnet}`);
  console.log(`Inventory: ${inventory}`);
  console.log(`Log in:    ssh -F ${lab.sshConfigPath} h1`);
  console.log(`Remove:    npm run lab -- down --id ${lab.id}`);
}

export async function labDown(flags: DownFlags): Promise<void> {
  if (!flags.all && flags.id === undefined) throw new InvalidInputError('lab down: give --id <n> or --all');
  if (flags.all) {
    await cleanupStaleLabs();
    const refused: string[] = [];
    for (const lab of labStatus()) {
      try {
        destroyLabById(lab.id, flags.force);
        console.log(`Removed lab ${lab.id}`);
      } catch (err) {
        refused.push(`lab ${lab.id}: ${(err as Error).message}`);
      }
    }
    if (refused.length) throw new InvalidInputError(`${refused.join('; ')} (--force removes it anyway)`);
    return;
  }
  const id = Number(flags.id);
  if (!Number.isInteger(id)) throw new InvalidInputError(`--id: not a number: ${flags.id}`);
  try {
    destroyLabById(id, flags.force);
  } catch (err) {
    throw new InvalidInputError((err as Error).message);
  }
  console.log(`Removed lab ${id}`);
}

export function labStatusCommand(flags: { json?: boolean }): void {
  const labs = labStatus();
  if (flags.json) return console.log(JSON.stringify(labs, null, 2));
  if (!labs.length) return console.log('No labs.');
  for (const l of labs) {
    const state = l.live
      ? l.detached
        ? 'detached'
        : `owned by pid ${l.owner}`
      : 'stale (removed by the next lab up/down)';
    console.log(`Lab ${l.id}  10.200.${l.id}.0/24  ${state}  ${l.dir ?? ''}`);
    for (const h of l.hosts) console.log(`  ${h.name}  ${h.address}  ${h.running ? 'running' : 'stopped'}`);
  }
}

/** up, down and status as commands of the lab's own CLI (lab/cli.ts). */
export function register(lab: Command): void {
  lab
    .command('up')
    .description('start a lab that stays up until `npm run lab -- down` (installs missing Debian packages first)')
    .option(
      '--hosts <n>',
      'number of hosts (h1 primary master, h2-h3 secondary masters and etcd, the rest workers)',
      '3',
    )
    .option('--unprepared', 'leave net.ipv4.ip_forward and bridge-nf-call-iptables at kernel defaults')
    .option(
      '--kubernetes [version]',
      'hosts that run a real kubelet, with an image registry and an apt mirror of kubeadm/kubelet/kubectl/etcd on ' +
        'the lab network (builds what the cache lacks: tens of minutes cold)',
    )
    .option('--json', 'machine-readable output')
    .action(labUp);
  lab
    .command('down')
    .description('remove a lab (and any stale ones)')
    .option('--id <n>', 'lab id (see `lab status`)')
    .option('--all', 'every lab on this machine')
    .option('--force', 'also labs a running process (a test) still owns')
    .action(labDown);
  lab
    .command('status')
    .description('list labs and their hosts')
    .option('--json', 'machine-readable output')
    .action(labStatusCommand);
}
