// Each preflight check is one read-only probe script (one SSH round trip) plus a pure `evaluate` that turns its
// `key=value` output into a verdict. Keeping evaluation pure lets unit tests cover every verdict without a host.
//
// The scripts run under `sh -c` (src/ssh/exec.ts: dash on Debian and Ubuntu, bash on the RHEL family), so they are
// POSIX sh. They are also cheap for the host: a preflight of many hosts runs them all at once, and each fork+exec of a
// utility costs a host 1-3 ms of CPU (a Go binary 5-20 ms), while a shell builtin reading a /proc file costs
// microseconds. So files are read with `IFS= read -r` (a single-line file: the same text `$(cat f)` gives), lines
// are counted and fields picked by `while read` loops and parameter expansion instead of wc/awk/cut/head pipelines,
// and a utility is run only for what no file holds. bench/probe-cpu.ts measures each script's CPU on a lab host;
// test/activities/preflight-probes.test.ts checks each fact against an independent read on real hosts.
import type { CheckResult, CheckSpec, CheckStatus, PreflightCheckId } from '../plan/types.js';
import { quote } from '../ssh/quote.js';

export type Facts = Map<string, string[]>;

/** Parse `key=value` lines; a key may repeat (e.g. one `mac=` per interface). */
export function parseFacts(text: string): Facts {
  const facts: Facts = new Map();
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i <= 0) continue;
    const k = line.slice(0, i).trim();
    facts.set(k, [...(facts.get(k) ?? []), line.slice(i + 1).trim()]);
  }
  return facts;
}
const one = (f: Facts, k: string): string => f.get(k)?.[0] ?? '';

type Verdict = Omit<CheckResult, 'host' | 'check'>;
const v = (status: CheckStatus, message: string, facts?: CheckResult['facts']): Verdict => ({
  status,
  message,
  ...(facts && { facts }),
});

export interface ProbeContext {
  /** The probe's raw stdout, for probes whose output is not key=value. */
  raw: string;
  /** Host clock minus operator clock, corrected for half the round trip. */
  skewMs?: number;
  /** The clock probe's round trip: the host read its clock somewhere inside it, so the skew is known to ± half. */
  roundTripMs?: number;
}

export interface Probe {
  script(spec: CheckSpec): string;
  evaluate(facts: Facts, spec: CheckSpec, ctx: ProbeContext): Verdict;
}

/** Distributions kubeadm packages are published for, with the oldest release still supported upstream. */
const supportedOs: Record<string, number> = {
  debian: 11,
  ubuntu: 20.04,
  rhel: 8,
  rocky: 8,
  almalinux: 8,
  centos: 9,
  ol: 8,
};

function versionAtLeast(actual: string, min: number[]): boolean {
  const a = actual.split(/[.-]/).map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < min.length; i++) {
    if ((a[i] ?? 0) !== min[i]) return (a[i] ?? 0) > (min[i] ?? 0);
  }
  return true;
}

export const probes: Record<PreflightCheckId, Probe> = {
  os: {
    // /proc/sys/kernel/osrelease is uname -r; /proc/sys/kernel/arch (Linux 6.1+) is uname -m, which older kernels
    // still ask for. The variable names are lower case: os-release only sets upper-case ones.
    script: () =>
      '. /etc/os-release 2>/dev/null; echo "id=$ID"; echo "version=$VERSION_ID"; echo "pretty=$PRETTY_NAME"; ' +
      'IFS= read -r kernel </proc/sys/kernel/osrelease; echo "kernel=$kernel"; ' +
      'if [ -r /proc/sys/kernel/arch ]; then IFS= read -r arch </proc/sys/kernel/arch; else arch=$(uname -m); fi; ' +
      'echo "arch=$arch"',
    evaluate(f) {
      const id = one(f, 'id');
      const version = one(f, 'version');
      const kernel = one(f, 'kernel');
      const arch = one(f, 'arch');
      const facts = { os: id, version, kernel, arch };
      if (!['x86_64', 'aarch64'].includes(arch))
        return v('fail', `architecture ${arch} has no Kubernetes packages here`, facts);
      const min = supportedOs[id];
      if (min === undefined) return v('warn', `${one(f, 'pretty') || id} is not a tested distribution`, facts);
      if (Number.parseFloat(version) < min)
        return v('fail', `${one(f, 'pretty')} is too old (need ${id} ${min}+)`, facts);
      // Kubernetes 1.32+ documents 4.19 (LTS) as the oldest kernel it supports.
      if (!versionAtLeast(kernel, [4, 19])) return v('warn', `kernel ${kernel} is older than 4.19`, facts);
      return v('pass', `${one(f, 'pretty')}, kernel ${kernel}`, facts);
    },
  },
  resources: {
    // nproc stays: its count follows the affinity mask and, in newer coreutils, the cgroup's CPU quota.
    script: () =>
      'echo "cpus=$(nproc)"; ' +
      'while read -r k v _; do if [ "$k" = MemTotal: ]; then echo "memKiB=$v"; break; fi; done </proc/meminfo',
    evaluate(f, spec) {
      const cpus = Number(one(f, 'cpus'));
      const memMiB = Math.floor(Number(one(f, 'memKiB')) / 1024);
      const facts = { cpus, memoryMiB: memMiB };
      const problems: string[] = [];
      if (cpus < (spec.params.minCpus ?? 1)) problems.push(`${cpus} CPU(s), need ${spec.params.minCpus}`);
      if (memMiB < (spec.params.minMemoryMiB ?? 0))
        problems.push(`${memMiB} MiB memory, need ${spec.params.minMemoryMiB}`);
      if (problems.length) return v('fail', problems.join('; '), facts);
      return v('pass', `${cpus} CPUs, ${memMiB} MiB`, facts);
    },
  },
  swap: {
    // active: the lines of /proc/swaps after its header. fstab: the entries (first field not a comment) whose third
    // field, the type, is swap; `|| [ -n "$dev" ]` counts a last line without a newline, as awk does.
    script: () =>
      'n=0; { read -r _; while read -r _; do n=$((n+1)); done; } </proc/swaps; echo "active=$n"; ' +
      'n=0; if [ -r /etc/fstab ]; then while read -r dev _ type _ || [ -n "$dev" ]; do ' +
      'case $dev in "#"*) ;; *) [ "$type" != swap ] || n=$((n+1)) ;; esac; dev=; done </etc/fstab; fi; ' +
      'echo "fstab=$n"',
    evaluate(f) {
      const active = Number(one(f, 'active'));
      const fstab = Number(one(f, 'fstab'));
      if (active > 0)
        return v('fail', `${active} swap device(s) active: run swapoff -a and remove swap from /etc/fstab`, { active });
      if (fstab > 0) return v('warn', 'swap is off but /etc/fstab would enable it again at boot', { fstab });
      return v('pass', 'no swap', { active });
    },
  },
  hostname: {
    script: () => 'IFS= read -r h </proc/sys/kernel/hostname; echo "hostname=$h"',
    evaluate(f, spec) {
      const actual = one(f, 'hostname');
      const expected = spec.params.expectedHostname ?? '';
      if (actual.toLowerCase() !== expected)
        return v(
          'warn',
          `hostname is ${actual}, inventory says ${expected}; the node will be registered as ${expected}`,
          {
            hostname: actual,
          },
        );
      return v('pass', actual, { hostname: actual });
    },
  },
  identity: {
    // A file that cannot be opened (no machine-id; product_uuid is root's only) leaves its variable empty.
    script: () =>
      'IFS= read -r h </proc/sys/kernel/hostname; echo "hostname=$h"; ' +
      'm=; { IFS= read -r m </etc/machine-id; } 2>/dev/null; echo "machineId=$m"; ' +
      'u=; { IFS= read -r u </sys/class/dmi/id/product_uuid; } 2>/dev/null; echo "productUuid=$u"; ' +
      'for i in /sys/class/net/*; do n=${i##*/}; [ "$n" = lo ] && continue; ' +
      '[ -e "$i/device" ] || [ "$n" = eth0 ] || continue; a=; IFS= read -r a <"$i/address"; echo "mac=$a"; done',
    evaluate(f) {
      const macs = (f.get('mac') ?? []).filter((m) => m && m !== '00:00:00:00:00:00');
      const facts = {
        hostname: one(f, 'hostname'),
        machineId: one(f, 'machineId'),
        productUuid: one(f, 'productUuid').toLowerCase(),
        macs,
      };
      if (!facts.machineId) return v('fail', '/etc/machine-id is empty; run systemd-machine-id-setup', facts);
      const uuid = facts.productUuid
        ? `product_uuid ${facts.productUuid}`
        : 'no product_uuid (not exposed by this platform)';
      return v('pass', `machine-id ${facts.machineId.slice(0, 8)}…, ${uuid}, ${macs.length} MAC(s)`, facts);
    },
  },
  clock: {
    // date prints the key too: no command substitution, so the shell execs date without a fork of its own.
    script: () => 'date +epochNs=%s%N',
    evaluate(_f, spec, ctx) {
      // Judged by the smallest skew the measurement allows: on a loaded host or link the probe's round trip can take
      // seconds, and its middle is only a guess at when the host read its clock.
      const skewMs = Math.round(ctx.skewMs ?? 0);
      const marginMs = Math.round((ctx.roundTripMs ?? 0) / 2);
      const atLeast = Math.abs(skewMs) - marginMs;
      const atMost = Math.abs(skewMs) + marginMs;
      const facts = { skewMs, ...(ctx.roundTripMs !== undefined && { roundTripMs: Math.round(ctx.roundTripMs) }) };
      const measured = marginMs > 0 ? `${skewMs} ± ${marginMs} ms` : `${skewMs} ms`;
      const warnMs = spec.params.warnSkewMs ?? 500;
      if (atLeast > (spec.params.maxSkewMs ?? 2000))
        return v('fail', `clock differs from the operator's by ${measured}; certificates and etcd need NTP`, facts);
      if (atLeast > warnMs) return v('warn', `clock differs by ${measured}`, facts);
      // Passes only when the largest skew the round trip allows is within the warning threshold.
      if (atMost > warnMs)
        return v('warn', `clock skew not measured closer than ${measured}: the probe's round trip was slow`, facts);
      return v('pass', `skew ${measured}`, facts);
    },
  },
  ports: {
    // Only the required ports are listed (ss filters in the kernel), and -p, which names the owner when we are root
    // (or sudo) by reading every process's open files, only runs when one of them is in use; without it we still
    // see the port. (Reading /proc/net/tcp{,6} in the shell instead is no cheaper: the kernel walks its whole
    // established-socket hash for each file, measured 2.5 ms of system CPU per file here, and ss is bounded.)
    script: (spec) => {
      const ports = spec.params.ports ?? [];
      if (!ports.length) return 'true';
      const filter = quote(ports.map((p) => `sport = :${p}`).join(' or '));
      return `l=$(ss -Htln ${filter}) || exit; [ -z "$l" ] || ss -Htlnp ${filter} 2>/dev/null || printf '%s\\n' "$l"`;
    },
    evaluate: (_f, spec, ctx) => evaluatePorts(ctx.raw, spec.params.ports ?? []),
  },
  disk: {
    // df -Pk's Available: f_bavail blocks of f_frsize bytes (stat's %a and %S), in KiB rounded up as df rounds.
    // stat reads only statfs, where df also reads the whole mount table.
    script: () =>
      `if s=$(stat -fc '%a %S' /var/lib); then echo "availKiB=$(( (\${s% *} * \${s#* } + 1023) / 1024 ))"; fi`,
    evaluate(f, spec) {
      const freeMiB = Math.floor(Number(one(f, 'availKiB')) / 1024);
      const min = spec.params.minFreeDiskMiB ?? 0;
      if (freeMiB < min)
        return v('warn', `${freeMiB} MiB free under /var/lib; images and etcd want ${min} MiB`, { freeMiB });
      return v('pass', `${freeMiB} MiB free`, { freeMiB });
    },
  },
  'kernel-modules': {
    script: () =>
      'test -d /proc/sys/net/bridge && echo br_netfilter=1 || echo br_netfilter=0; ' +
      // grep -qw overlay: the word, bounded by a non-word character or the line's ends.
      'o=0; while IFS= read -r l; do case " $l " in *[!A-Za-z0-9_]overlay[!A-Za-z0-9_]*) o=1; break ;; esac; ' +
      'done </proc/filesystems; echo "overlay=$o"; ' +
      'test -d /proc/sys/net/ipv4/vs && echo ip_vs=1 || echo ip_vs=0',
    evaluate(f) {
      const has = (m: string) => one(f, m) === '1';
      const facts = { br_netfilter: has('br_netfilter'), overlay: has('overlay'), ip_vs: has('ip_vs') };
      const missing = ['br_netfilter', 'overlay'].filter((m) => !has(m));
      if (missing.length)
        return v(
          'fail',
          `not loaded: ${missing.join(', ')}; modprobe them and list them in /etc/modules-load.d/k8s.conf`,
          facts,
        );
      // The seed required ip_vs; today kube-proxy defaults to iptables/nftables and only IPVS mode needs it.
      if (!facts.ip_vs) return v('warn', 'ip_vs not loaded (needed only for kube-proxy IPVS mode)', facts);
      return v('pass', 'br_netfilter, overlay, ip_vs', facts);
    },
  },
  sysctl: {
    script: () =>
      'for k in net/bridge/bridge-nf-call-iptables net/ipv4/ip_forward; do ' +
      'v=missing; { IFS= read -r v </proc/sys/$k; } 2>/dev/null; echo "$k=$v"; done',
    evaluate(f) {
      const want: [string, string][] = [
        ['net/bridge/bridge-nf-call-iptables', 'net.bridge.bridge-nf-call-iptables'],
        ['net/ipv4/ip_forward', 'net.ipv4.ip_forward'],
      ];
      const facts: Record<string, string> = {};
      const wrong: string[] = [];
      for (const [path, name] of want) {
        const value = one(f, path);
        facts[name] = value;
        if (value !== '1') wrong.push(`${name}=${value}`);
      }
      if (wrong.length) return v('fail', `${wrong.join(', ')}; set them to 1 in /etc/sysctl.d/k8s.conf`, facts);
      return v('pass', 'bridge-nf-call-iptables=1, ip_forward=1', facts);
    },
  },
  cgroups: {
    // Every cgroup2 directory has cgroup.controllers, the root of a cgroup2 mount too; a v1 or hybrid
    // /sys/fs/cgroup (tmpfs) has none, and stat names its filesystem.
    script: () =>
      'if [ -e /sys/fs/cgroup/cgroup.controllers ]; then echo fs=cgroup2fs; ' +
      'else echo "fs=$(stat -fc %T /sys/fs/cgroup)"; fi',
    evaluate(f, spec) {
      const v2 = one(f, 'fs') === 'cgroup2fs';
      const facts = { cgroupVersion: v2 ? 2 : 1 };
      if (v2) return v('pass', 'cgroup v2', facts);
      // kubelet's failCgroupV1 defaults to true from 1.35: it will not start on cgroup v1.
      if ((spec.params.kubernetesMinor ?? 0) >= 35)
        return v('fail', 'cgroup v1: the kubelet refuses it from Kubernetes 1.35; boot with cgroup v2', facts);
      return v('warn', 'cgroup v1 is deprecated (kubelet refuses it from 1.35); plan a move to cgroup v2', facts);
    },
  },
  'container-runtime': {
    // The versions are what the binaries on the PATH say (a package database can be wrong about them: a binary in
    // /usr/local/bin). Both are Go programs: GOMAXPROCS=1 and GOGC=off spare the runtime's threads and GC cycles
    // while containerd's package init runs, about 3 of its 22 ms CPU. f3 is `cut -d" " -f3` of the first line.
    // No here-documents: bash 4.4 (RHEL 8) writes them to a temp file and, with /tmp full or read-only, skips the
    // command and goes on, so a full disk would read as "not installed". The first line is cut off by expansion.
    script: () =>
      "NL='\n'; " +
      'f3() { case $1 in *" "*" "*) x=${1#* }; x=${x#* }; x=${x%% *} ;; *" "*) x= ;; *) x=$1 ;; esac; }; ' +
      'if command -v containerd >/dev/null; then l=$(GOMAXPROCS=1 GOGC=off containerd --version); l=${l%%"$NL"*}; ' +
      'f3 "$l"; echo "containerd=$x"; fi; ' +
      'if command -v runc >/dev/null; then l=$(GOMAXPROCS=1 GOGC=off runc --version); l=${l%%"$NL"*}; ' +
      'f3 "$l"; echo "runc=$x"; fi; ' +
      'test -S /run/containerd/containerd.sock && echo socket=1 || echo socket=0',
    evaluate(f) {
      const containerd = one(f, 'containerd').replace(/^v/, '');
      const facts = { containerd, runc: one(f, 'runc'), socket: one(f, 'socket') === '1' };
      if (!containerd) return v('warn', 'containerd is not installed; setup will install it', facts);
      if (!versionAtLeast(containerd, [1, 6]))
        return v('fail', `containerd ${containerd} is too old (need 1.6+)`, facts);
      if (!facts.runc) return v('warn', `containerd ${containerd} without runc; setup will install runc`, facts);
      const state = facts.socket ? 'running' : 'installed, not running';
      return v('pass', `containerd ${containerd} (${state}), runc ${facts.runc}`, facts);
    },
  },
  'vip-subnet': {
    script: (spec) => {
      const iface = quote(spec.params.vipInterface ?? 'eth0');
      const vip = quote(spec.params.vip ?? '');
      // `ip -o -4 addr show` prints a line per address: index, device, inet, address/prefix, ... The interface's
      // own call (`dev`) resolves an altname, which a match on the device column would not. The route's first
      // line is cut off by expansion. No
      // here-documents: bash 4.4 (RHEL 8) writes them to a temp file and, with /tmp full or read-only, skips the
      // command and goes on, so a full disk would read as "no IPv4 address". Lines split on IFS=newline, fields on
      // blanks; the word list is expanded before the loop body changes IFS.
      return (
        `NL='\n'; mine=$(ip -o -4 addr show dev ${iface} 2>/dev/null); all=$(ip -o -4 addr show); host=; set -f; ` +
        `IFS=$NL; for line in $mine; do IFS=' \t'; set -- $line; [ -z "$4" ] || echo "addr=$4"; done; ` +
        `IFS=$NL; for line in $all; do IFS=' \t'; set -- $line; [ -n "$4" ] || continue; host="$host\${4%%/*} "; done; ` +
        `IFS=' \t\n'; set +f; route=$(ip -4 -o route get ${vip} 2>&1); echo "route=\${route%%"$NL"*}"; ` +
        `for a in $host; do echo "hostaddr=$a"; done`
      );
    },
    evaluate(f, spec) {
      const vip = spec.params.vip ?? '';
      const prefix = spec.params.vipPrefixLength ?? 24;
      const iface = spec.params.vipInterface ?? 'eth0';
      const addrs = f.get('addr') ?? [];
      const route = one(f, 'route');
      const facts = { interface: iface, addresses: addrs, route };
      if (!addrs.length)
        return v('fail', `interface ${iface} has no IPv4 address (keepalived binds the VIP there)`, facts);
      const inSubnet = addrs.some((a) => sameSubnet(a.split('/')[0] ?? '', vip, prefix));
      if (!inSubnet)
        return v('fail', `VIP ${vip}/${prefix} is not in the subnet of ${iface} (${addrs.join(', ')})`, facts);
      if (/\bvia\b/.test(route))
        return v('fail', `VIP ${vip} is routed through a gateway (${route}); it must be on-link`, facts);
      if ((f.get('hostaddr') ?? []).includes(vip)) return v('warn', `VIP ${vip} is already up on this host`, facts);
      return v('pass', `VIP ${vip} on-link via ${iface}`, facts);
    },
  },
};

/** Ports are evaluated against the parsed `ss` listing; kept separate because the listing is not key=value. */
export function evaluatePorts(ssOutput: string, ports: number[]): Verdict {
  const listening = new Map<number, string>();
  for (const line of ssOutput.split('\n')) {
    const cols = line.trim().split(/\s+/);
    const local = cols[3];
    if (!local) continue;
    const port = Number(local.slice(local.lastIndexOf(':') + 1));
    const owner = /users:\(\("([^"]+)"/.exec(line)?.[1] ?? 'unknown process';
    if (Number.isInteger(port)) listening.set(port, owner);
  }
  const busy = ports.filter((p) => listening.has(p)).map((p) => `${p} (${listening.get(p)})`);
  const facts = { required: ports.map(String) };
  if (busy.length) return v('fail', `in use: ${busy.join(', ')}`, facts);
  return v('pass', ports.length ? `${ports.join(', ')} free` : 'no ports required', facts);
}

function toInt(ip: string): number {
  return ip.split('.').reduce((acc, o) => acc * 256 + (Number(o) & 255), 0);
}
export function sameSubnet(a: string, b: string, prefix: number): boolean {
  if (!a || !b) return false;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return (toInt(a) & mask) >>> 0 === (toInt(b) & mask) >>> 0;
}
