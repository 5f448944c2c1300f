// Taking a lab down, from its own process or any other: hosts first (their daemons die with each pid namespace),
// then anything still inside the lab's netns, then netns + veths + bridge, then the shared blackhole route if no
// other lab is registered, then the lab directory and its registration. Every step is idempotent and works from
// what is on disk (lab.json, the registration, the kernel's own lists), so a crashed run can be cleaned later.
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { stopHostProcessSync } from './host-process.js';
import { REGISTRY_DIR } from './names.js';
import { labLinks, labNetns, netnsPids, releaseBlackhole, removeNetwork } from './network.js';
import { isAlive, pollForSync, procId, runSync, signal, type ProcId } from './proc.js';
import { stopLabServicesSync } from './lab-service.js';
import { undoKubeletSideEffectsSync } from './k8s/side-effects.js';
import { removeNspawnCgroupsSync } from './nspawn/cgroups.js';
import { claimReap, claimSpecificId, isLive, listIds, readOwner, release } from './registry.js';

/** What `${dir}/lab.json` holds: enough for another process to find and remove everything. */
export interface LabRecord {
  id: number;
  dir: string;
  subnet: string;
  vip: string;
  detached: boolean;
  owner: ProcId;
  hosts: Array<{ name: string; address: string; index: number; netns: string; unshare?: ProcId; init?: ProcId }>;
}

export function readRecord(dir: string): LabRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'lab.json'), 'utf8')) as LabRecord;
  } catch {
    return undefined;
  }
}

/** Lab directories are always mktemp'd as /tmp/k2h-lab.XXXXXX; refuse to rm -rf anything else a file claims. */
const isLabDir = (dir: string | undefined): dir is string => !!dir && /^\/tmp\/k2h-lab\.[A-Za-z0-9]+$/.test(dir);

/** Full teardown of lab `id`. Synchronous on purpose: it must also run from process.on('exit'). */
export function teardownLab(id: number, dir?: string): void {
  const record = isLabDir(dir) ? readRecord(dir) : undefined;
  for (const h of record?.hosts ?? [])
    if (h.unshare && h.init) stopHostProcessSync({ unshare: h.unshare, init: h.init });
  killNetnsProcesses(id);
  if (isLabDir(dir)) {
    stopLabServicesSync(dir);
    // After the hosts: their kubelets' cgroups can only go once every process in them is gone.
    undoKubeletSideEffectsSync(dir);
  }
  removeNetwork(id);
  releaseBlackhole(id);
  // nspawn hosts' cgroups (none for namespace hosts): empty once every process of the lab is gone.
  removeNspawnCgroupsSync(id);
  if (isLabDir(dir)) rmSync(dir, { recursive: true, force: true });
  release(id);
}

/** Anything still running in the lab's network namespaces was started in the lab (only the lab puts processes
 * there): e.g. a host whose record was lost. Killed by pid, then waited for (bounded). */
function killNetnsProcesses(id: number): void {
  const victims = netnsPids(id)
    .map((pid) => procId(pid))
    .filter((p): p is ProcId => p !== undefined && p.pid !== process.pid);
  if (!victims.length) return;
  for (const p of victims) signal(p, 'SIGKILL');
  pollForSync(() => victims.every((p) => !isAlive(p)), 3000);
}

/** Remove every lab whose owner is gone (and detached labs none of whose hosts runs), plus orphan netns/links of
 * unregistered ids and half-made registrations. Safe to run from several processes at once. */
export function cleanupStaleLabsSync(): void {
  const registered = new Set(listIds());
  for (const id of registered) {
    const owner = readOwner(id);
    if (isLive(owner)) continue;
    if (!claimReap(id)) continue;
    teardownLab(id, owner?.dir);
  }
  // Kernel objects of ids nobody holds: a lab killed between creating them and registering cannot happen (the id
  // is claimed first), but a registration wiped by hand (/run cleaned) can leave them. Claim the id while clearing
  // them, so a lab starting with that id right now cannot have its fresh network removed under it.
  const orphanIds = new Set<number>();
  for (const name of [...allNetns(), ...allLinks()]) {
    const m = /^k2h(?:br)?(\d+)(?:-h\d+|v\d+)?$/.exec(name);
    if (m && !registered.has(Number(m[1]))) orphanIds.add(Number(m[1]));
  }
  for (const id of orphanIds) {
    if (!claimSpecificId(id, '')) continue;
    killNetnsProcesses(id);
    removeNetwork(id);
    releaseBlackhole(id);
    removeNspawnCgroupsSync(id);
    release(id);
  }
  // Registrations that never got renamed into place.
  try {
    for (const n of readdirSync(REGISTRY_DIR)) {
      const m = /^\.new-(\d+)-\d+$/.exec(n);
      if (m && procId(Number(m[1])) === undefined) rmSync(join(REGISTRY_DIR, n), { recursive: true, force: true });
    }
  } catch {
    // No registry yet.
  }
}

export function cleanupStaleLabs(): Promise<void> {
  return Promise.resolve().then(cleanupStaleLabsSync);
}

function allNetns(): string[] {
  return runSync('ip', ['netns', 'list'])
    .stdout.split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith('k2h'));
}

function allLinks(): string[] {
  return runSync('ip', ['-o', 'link', 'show'])
    .stdout.split('\n')
    .map((l) => (l.split(': ')[1] ?? '').split('@')[0] ?? '')
    .filter((n) => n.startsWith('k2h'));
}

/** Leftover objects of lab `id` (for verification and status). */
export function labLeftovers(id: number): { netns: string[]; links: string[] } {
  return { netns: labNetns(id), links: labLinks(id) };
}

export interface LabStatus {
  id: number;
  dir?: string;
  live: boolean;
  detached: boolean;
  owner?: number;
  hosts: Array<{ name: string; address: string; running: boolean }>;
}

export function labStatus(): LabStatus[] {
  return listIds().map((id) => {
    const owner = readOwner(id);
    const record = isLabDir(owner?.dir) ? readRecord(owner.dir) : undefined;
    return {
      id,
      ...(owner?.dir && { dir: owner.dir }),
      live: isLive(owner),
      detached: owner?.detached ?? false,
      ...(owner && { owner: owner.owner.pid }),
      hosts: (record?.hosts ?? []).map((h) => ({ name: h.name, address: h.address, running: isAlive(h.unshare) })),
    };
  });
}

/** `npm run lab -- down --id N`: refuses a lab a live process still owns (it would pull hosts from under a test),
 * unless it is detached (then no process owns it) or `force`. */
export function destroyLabById(id: number, force = false): void {
  const owner = readOwner(id);
  if (!owner) throw new Error(`no lab with id ${id} (see \`kubeadm2ha lab status\`)`);
  if (!owner.detached && isAlive(owner.owner) && owner.owner.pid !== process.pid && !force) {
    throw new Error(`lab ${id} belongs to running process ${owner.owner.pid}; it removes the lab itself when done`);
  }
  if (!claimReap(id)) throw new Error(`lab ${id} is being removed by another process`);
  teardownLab(id, owner.dir);
}
