// Each nspawn host gets a cgroup of its own in every hierarchy, before systemd-nspawn starts.
// Why: this machine's PID 1 is not systemd, so nspawn (--keep-unit) leaves the container in the cgroup it was
// started in and puts the guest's systemd in "<that>/payload". Started from one place, every host would share
// /payload/system.slice/etcd.service and so on: one host's systemd would account (and wait for) another host's
// processes. In the v1 controller hierarchies (cpu, memory, pids…) the per-host cgroup is what a kubelet host
// mounts writable as its own tree (./kubelet.ts). Names are k2h<id>-h<N>, derived from the lab id alone, so the
// stale cleanup of another process finds them; removed depth-first once the host's processes are gone.
import { lstatSync, readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { pollForSync } from '../proc.js';

export const cgroupName = (id: number, index: number): string => `k2h${id}-h${index}`;

const CGROUP_FS = '/sys/fs/cgroup';

/**
 * The outer PID 1 of an nspawn host: `sh -c NSPAWN_INIT nspawn-init CGROUP_NAME systemd-nspawn ARGS…`. Joins
 * (creating) its cgroup in every hierarchy (cgroup2-only: /sys/fs/cgroup itself; hybrid: each v1 controller,
 * name=systemd and the unified tree), then execs nspawn.
 */
export const NSPAWN_INIT = `set -eu
cg=$1; shift
for root in ${CGROUP_FS} ${CGROUP_FS}/*; do
  # Symlinks (cpu,cpuacct → cpu) name a hierarchy twice; a tmpfs /sys/fs/cgroup (hybrid) is no hierarchy.
  [ ! -L "$root" ] || continue
  case $(stat -fc %T "$root" 2>/dev/null) in cgroup2fs | cgroupfs) ;; *) continue ;; esac
  mkdir -p "$root/$cg"
  # A new cpuset cgroup has no CPUs or memory nodes: nothing could join it.
  if [ -f "$root/cpuset.cpus" ] && [ -z "$(cat "$root/$cg/cpuset.cpus")" ]; then
    cat "$root/cpuset.cpus" >"$root/$cg/cpuset.cpus"
    cat "$root/cpuset.mems" >"$root/$cg/cpuset.mems"
  fi
  echo $$ >"$root/$cg/cgroup.procs"
done
exec "$@"
`;

/** Every hierarchy's root directory: /sys/fs/cgroup and its subdirectories (not the symlinks to them). */
function hierarchies(): string[] {
  const roots = [CGROUP_FS];
  try {
    for (const n of readdirSync(CGROUP_FS)) {
      const p = join(CGROUP_FS, n);
      if (lstatSync(p).isDirectory()) roots.push(p);
    }
  } catch {
    // No cgroup fs at all: nothing to remove.
  }
  return roots;
}

function removeTree(dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeTree(join(dir, e.name));
  rmdirSync(dir);
}

/** Remove lab `id`'s host cgroups (whatever exists). A cgroup whose last tasks are still exiting refuses rmdir
 * (EBUSY) for a moment: retried for up to 3 s; one still busy then stays, and is returned. */
export function removeNspawnCgroupsSync(id: number): string[] {
  let left: string[] = [];
  pollForSync(() => (left = removeOnce(id)).length === 0, 3000, 50);
  return left;
}

function removeOnce(id: number): string[] {
  const left: string[] = [];
  const mine = new RegExp(`^k2h${id}-h\\d+$`);
  for (const root of hierarchies()) {
    let names: string[];
    try {
      names = readdirSync(root).filter((n) => mine.test(n));
    } catch {
      continue;
    }
    for (const n of names) {
      try {
        removeTree(join(root, n));
      } catch {
        left.push(join(root, n));
      }
    }
  }
  return left;
}
