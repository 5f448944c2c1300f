// What a real kubelet does to the machine outside its lab host, and how the lab undoes it. A kubelet is not
// contained by a network namespace: with the cgroupfs driver it makes cgroups in the machine's own hierarchies
// (we give each host its own root, /k2h<lab>-h<n>), and at start it sets "kernel defaults" that are not per
// namespace (vm.overcommit_memory=1, kernel.panic=10, kernel.panic_on_oops=1, root key quotas). The lab saves
// those sysctls before the first kubelet starts and restores them at teardown, and removes its cgroup roots once
// every process in them is gone. Both records live in the lab directory, so any process's teardown can undo them.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runSync } from '../proc.js';

export const KUBELET_SYSCTLS = [
  'vm.overcommit_memory',
  'vm.panic_on_oom',
  'kernel.panic',
  'kernel.panic_on_oops',
  'kernel.keys.root_maxkeys',
  'kernel.keys.root_maxbytes',
] as const;

const CGROUP_FS = '/sys/fs/cgroup';
const k8sDir = (labDir: string): string => join(labDir, 'k8s');
const sysctlFile = (labDir: string): string => join(k8sDir(labDir), 'sysctl.saved');
const cgroupsFile = (labDir: string): string => join(k8sDir(labDir), 'cgroup-roots');

/** First call wins: a later call (a host restarted) must not save values a kubelet already changed. */
export function saveMachineSysctls(labDir: string): void {
  mkdirSync(k8sDir(labDir), { recursive: true });
  if (existsSync(sysctlFile(labDir))) return;
  const lines = KUBELET_SYSCTLS.map((k) => `${k} = ${readFileSync(sysctlPath(k), 'utf8').trim()}`);
  writeFileSync(sysctlFile(labDir), lines.join('\n') + '\n');
}

const sysctlPath = (key: string): string => `/proc/sys/${key.replaceAll('.', '/')}`;

/** The cgroup v1 controller hierarchies the kubelet's cgroupfs driver uses (not the unified one systemd keeps). */
function v1Hierarchies(): string[] {
  try {
    return readdirSync(CGROUP_FS, { withFileTypes: true })
      .filter((d) => d.isDirectory() && d.name !== 'unified' && !d.name.startsWith('.'))
      .map((d) => join(CGROUP_FS, d.name));
  } catch {
    return [];
  }
}

/** Make `/<root>` in every hierarchy (the kubelet refuses a cgroupRoot that does not exist) and remember it. A new
 * cpuset cgroup starts with no CPUs and no memory nodes: it gets its parent's. */
export function createCgroupRoot(labDir: string, root: string): void {
  if (!/^k2h[0-9]+-h[0-9]+$/.test(root)) throw new Error(`unexpected cgroup root name '${root}'`);
  mkdirSync(k8sDir(labDir), { recursive: true });
  const known = readCgroupRoots(labDir);
  if (!known.includes(root)) writeFileSync(cgroupsFile(labDir), [...known, root].join('\n') + '\n');
  for (const h of v1Hierarchies()) {
    const dir = join(h, root);
    mkdirSync(dir, { recursive: true });
    if (existsSync(join(h, 'cpuset.cpus'))) {
      for (const f of ['cpuset.cpus', 'cpuset.mems']) {
        if (readFileSync(join(dir, f), 'utf8').trim() === '') writeFileSync(join(dir, f), readFileSync(join(h, f)));
      }
    }
  }
}

function readCgroupRoots(labDir: string): string[] {
  try {
    return readFileSync(cgroupsFile(labDir), 'utf8')
      .split('\n')
      .filter((l) => /^k2h[0-9]+-h[0-9]+$/.test(l));
  } catch {
    return [];
  }
}

/** Children first: a cgroup directory can only be removed once it has no children and no processes. */
function removeTree(dir: string): void {
  let entries: string[] = [];
  try {
    entries = readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  } catch {
    return;
  }
  for (const e of entries) removeTree(join(dir, e));
  try {
    rmdirSync(dir);
  } catch {
    // Still has a process (a host not yet gone) or already removed; teardown is retried by the stale cleanup.
  }
}

export function undoKubeletSideEffectsSync(labDir: string): void {
  for (const root of readCgroupRoots(labDir)) for (const h of v1Hierarchies()) removeTree(join(h, root));
  if (existsSync(sysctlFile(labDir))) runSync('sysctl', ['-q', '-p', sysctlFile(labDir)]);
}
