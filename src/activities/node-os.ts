// OS preparation for a Kubernetes node, made persistent: the kernel modules containerd and kube-proxy need
// (/etc/modules-load.d), the sysctls kubeadm's preflight checks (/etc/sysctl.d), and swap off now and at boot
// (/etc/fstab's swap lines commented out). A rerun finds everything in place and changes nothing.
//
// Where a value cannot be set (a container or network namespace: some sysctls are machine-wide or read-only there,
// modules cannot be loaded) but already has the wanted value, that is fine; when it differs, the result says so and
// the caller decides (kubeadm's preflight will name it too).
import type { HostContext } from '../plan/types.js';
import type { ActivityDeps } from './deps.js';
import { withFailures } from './failures.js';

export const MODULES_FILE = '/etc/modules-load.d/kubeadm2ha.conf';
export const SYSCTL_FILE = '/etc/sysctl.d/99-kubeadm2ha.conf';
export const NODE_MODULES = ['overlay', 'br_netfilter'] as const;
export const NODE_SYSCTLS: Record<string, string> = {
  'net.ipv4.ip_forward': '1',
  'net.bridge.bridge-nf-call-iptables': '1',
  'net.bridge.bridge-nf-call-ip6tables': '1',
};

export interface PrepareNodeOsInput {
  host: HostContext;
  /** Turn swap off now (swapoff) as well as at boot; false where swap is machine-wide (a namespace host). */
  swapOffNow?: boolean;
}

export interface PrepareNodeOsResult {
  host: string;
  changed: string[];
  /** Sysctls that could not be set and do not have the wanted value: key → value found. */
  sysctlsNotApplied: Record<string, string>;
  /** Modules neither loaded nor loadable. */
  modulesMissing: string[];
  swapActive: boolean;
}

export const modulesText = `# Managed by kubeadm2ha: kernel modules for containerd and kube-proxy.\n${NODE_MODULES.join('\n')}\n`;
export const sysctlText = `# Managed by kubeadm2ha: what kubeadm's preflight checks.\n${Object.entries(NODE_SYSCTLS)
  .map(([k, v]) => `${k} = ${v}`)
  .join('\n')}\n`;

// $@ = modules. Loads what is not loaded; prints "missing <m>" for what cannot be.
const modulesScript = `for m in "$@"; do
  [ -d "/sys/module/$m" ] && continue
  modprobe "$m" 2>/dev/null && continue
  echo "missing $m"
done`;

// $@ = key=value pairs. Sets each that differs; prints "notapplied <key> <current>" for those that stay different.
const sysctlScript = `for kv in "$@"; do
  k=\${kv%%=*}; v=\${kv#*=}; f=/proc/sys/$(echo "$k" | tr . /)
  cur=$(cat "$f" 2>/dev/null || echo absent)
  [ "$cur" = "$v" ] && continue
  sysctl -q -w "$k=$v" >/dev/null 2>&1 || true
  cur=$(cat "$f" 2>/dev/null || echo absent)
  [ "$cur" = "$v" ] || echo "notapplied $k $cur"
done`;

// Comment out active swap lines in fstab (a swap entry's third field is "swap"); prints "changed" if it did.
const fstabScript = `f=/etc/fstab; [ -f "$f" ] || exit 0
if awk '$0 !~ /^[[:space:]]*#/ && $3 == "swap" { found=1 } END { exit !found }' "$f"; then
  tmp=$(mktemp "$f.kubeadm2ha.XXXXXX")
  awk '$0 !~ /^[[:space:]]*#/ && $3 == "swap" { print "# kubeadm2ha: swap off for the kubelet # " $0; next } { print }' "$f" > "$tmp"
  chmod --reference="$f" "$tmp"; mv -f "$tmp" "$f"; echo changed
fi`;

export function createNodeOsActivities(deps: ActivityDeps) {
  return {
    async prepareNodeOs({ host, swapOffNow = true }: PrepareNodeOsInput): Promise<PrepareNodeOsResult> {
      return withFailures(async () => {
        const session = deps.session(host);
        const changed: string[] = [];
        if ((await session.putFile(MODULES_FILE, modulesText, { mode: 0o644, timeoutMs: 30_000 })).changed)
          changed.push(MODULES_FILE);
        // Modules before sysctls: the net.bridge keys exist only once br_netfilter is loaded.
        const mods = await session.run(['sh', '-c', modulesScript, 'sh', ...NODE_MODULES], {
          action: 'load kernel modules',
          timeoutMs: 60_000,
        });
        if ((await session.putFile(SYSCTL_FILE, sysctlText, { mode: 0o644, timeoutMs: 30_000 })).changed)
          changed.push(SYSCTL_FILE);
        const sys = await session.run(
          ['sh', '-c', sysctlScript, 'sh', ...Object.entries(NODE_SYSCTLS).map(([k, v]) => `${k}=${v}`)],
          { action: 'apply sysctls', timeoutMs: 60_000 },
        );
        const fstab = await session.run(['sh', '-c', fstabScript], {
          action: 'swap off in /etc/fstab',
          timeoutMs: 30_000,
        });
        if (fstab.stdout.includes('changed')) changed.push('/etc/fstab');
        let swap = await session.run({ script: 'tail -n +2 /proc/swaps | wc -l' }, { action: 'read /proc/swaps' });
        if (swapOffNow && Number(swap.stdout.trim()) > 0) {
          await session.run(['swapoff', '-a'], { action: 'swapoff -a', timeoutMs: 300_000 });
          changed.push('swap');
          swap = await session.run({ script: 'tail -n +2 /proc/swaps | wc -l' }, { action: 'read /proc/swaps' });
        }
        const sysctlsNotApplied = Object.fromEntries(
          sys.stdout
            .split('\n')
            .filter((l) => l.startsWith('notapplied '))
            .map((l) => {
              const [, k = '', v = ''] = l.split(' ');
              return [k, v];
            }),
        );
        return {
          host: host.target.name,
          changed,
          sysctlsNotApplied,
          modulesMissing: mods.stdout.split('\n').flatMap((l) => (l.startsWith('missing ') ? [l.slice(8)] : [])),
          swapActive: Number(swap.stdout.trim()) > 0,
        };
      });
    },
  };
}
