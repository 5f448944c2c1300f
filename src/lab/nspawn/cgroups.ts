// Each nspawn host gets a cgroup of its own in the hierarchies systemd manages, before systemd-nspawn starts.
// Why: this machine's PID 1 is not systemd, so nspawn (--keep-unit) leaves the container in the cgroup it was
// started in and puts the guest's systemd in "<that>/payload". Started from one place, every host would share
// /payload: one host's `systemctl stop etcd` kills the processes in .../system.slice/etcd.service, i.e. every
// host's etcd. Names are k2h<id>-h<N>, derived from the lab id alone, so the stale cleanup of another process finds
// them; removed depth-first once the host's processes are gone (an empty cgroup is all that is left).
import { readdirSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pollForSync } from '../proc.js';

export const cgroupName = (id: number, index: number): string => `k2h${id}-h${index}`;

/** /sys/fs/cgroup itself on a cgroup2-only machine; name=systemd and the unified tree on a hybrid one. */
export const CGROUP_ROOTS = ['/sys/fs/cgroup/systemd', '/sys/fs/cgroup/unified', '/sys/fs/cgroup'];

/**
 * The outer PID 1 of an nspawn host: `sh -c NSPAWN_INIT nspawn-init CGROUP_NAME systemd-nspawn ARGS…`. Joins
 * (creating) its cgroup in every hierarchy root that systemd uses, then execs nspawn.
 */
export const NSPAWN_INIT = `set -eu
cg=$1; shift
for root in ${CGROUP_ROOTS.join(' ')}; do
  # Hybrid machines: /sys/fs/cgroup is a tmpfs of v1 mounts; only its cgroup2 or name=systemd trees are ours here.
  case $(stat -fc %T "$root" 2>/dev/null) in cgroup2fs) ;; cgroupfs) [ "$root" = /sys/fs/cgroup/systemd ] || continue ;; *) continue ;; esac
  mkdir -p "$root/$cg"
  echo $$ >"$root/$cg/cgroup.procs"
done
exec "$@"
`;

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
  for (const root of CGROUP_ROOTS) {
    let names: string[];
    try {
      if (!statSync(root).isDirectory()) continue;
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
