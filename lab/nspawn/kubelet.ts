// What an nspawn host needs before a real kubelet runs in it under systemd (the systemd cgroup driver). Each step
// answers one exact failure of kubelet 1.34.12 in a stock nspawn guest on this machine (README.md in this
// directory has the error lines):
//  1. `open /dev/kmsg: no such file or directory`: nspawn gives no /dev/kmsg; like kind, link it to /dev/console.
//  2. `Failed to start ContainerManager: open /proc/sys/vm/overcommit_memory: read-only file system` (and
//     kernel/panic, kernel/panic_on_oops): nspawn mounts /proc/sys read-only, and rightly so — vm.* and kernel.*
//     are not per namespace, a write would change the whole machine. Stand-ins: files holding the values the
//     kubelet wants, bind-mounted over those entries in this guest only, so it reads them and writes nothing.
//  3. `mkdir /sys/fs/cgroup/cpuset/kubepods.slice: read-only file system`: on a cgroup v1 hybrid machine nspawn
//     mounts the v1 controllers read-only (only name=systemd and the unified tree are delegated). The host already
//     runs in its own cgroup of every hierarchy (./cgroups.ts); here each v1 controller is mounted once more,
//     writable, its k2h<id>-h<N> subtree bound over /sys/fs/cgroup/<controller>, and systemd re-executed so that
//     it manages them (kubepods.slice then exists in every controller, as the kubelet checks).
import type { Lab } from '../lab.js';

/** The "kernel defaults" the kubelet sets at start (pkg/kubelet/cm setupKernelTunables) and the values it wants. */
export const KUBELET_SYSCTL_STAND_INS: Record<string, string> = {
  'vm/overcommit_memory': '1',
  'vm/panic_on_oom': '0',
  'kernel/panic': '10',
  'kernel/panic_on_oops': '1',
  'kernel/keys/root_maxkeys': '1000000',
  'kernel/keys/root_maxbytes': '25000000',
};

const V1_CONTROLLERS = ['blkio', 'cpu', 'cpuacct', 'cpuset', 'devices', 'freezer', 'hugetlb', 'memory', 'pids'];

const script = (): string => `set -eu
[ -e /dev/kmsg ] || ln -s /dev/console /dev/kmsg
mkdir -p /run/k2h-sysctl
${Object.entries(KUBELET_SYSCTL_STAND_INS)
  .map(([k, v]) => {
    const f = `/run/k2h-sysctl/${k.replaceAll('/', '.')}`;
    return `if ! mountpoint -q /proc/sys/${k}; then echo ${v} >${f}; mount --bind ${f} /proc/sys/${k}; fi`;
  })
  .join('\n')}
cg=$(sed -n 's/^[0-9]*:cpuset:\\(.*\\)$/\\1/p' /proc/1/cgroup)
[ -n "$cg" ] && [ "$cg" != / ] || { echo "systemd is not in a cgroup of its own in the cpuset hierarchy ($cg)" >&2; exit 1; }
for c in ${V1_CONTROLLERS.join(' ')}; do
  # Only the controllers this machine mounts, and only once (a rerun finds them writable already).
  grep -q " /sys/fs/cgroup/$c ro," /proc/self/mountinfo || continue
  mkdir -p /run/k2h-cgroup/$c
  mount -t cgroup -o $c cgroup /run/k2h-cgroup/$c
  mount --bind /run/k2h-cgroup/$c$cg /sys/fs/cgroup/$c
  umount /run/k2h-cgroup/$c
done
systemctl daemon-reexec
`;

/** Make `host` of an nspawn lab ready for a kubelet (idempotent; again after each boot of the host). */
export async function prepareKubeletHost(lab: Lab, host: string): Promise<void> {
  await lab.exec(host, script());
}
