// The lab's network: one bridge per lab in the root namespace (10.200.<id>.1/24), one named netns per host joined
// by a veth whose inside end is the host's eth0, and the shared blackhole route for 10.200.0.0/16 so that a lab
// address outside a live /24 is dropped instead of following the default route out of eth0.
//
// Hosts get no default route: from inside a host anything but its own /24 is "Network is unreachable".
import {
  bridgeAddressOf,
  bridgeName,
  hostAddress,
  LAB_SUPERNET,
  netnsName,
  netnsPrefix,
  REGISTRY_DIR,
  vethName,
  vethPrefix,
} from './names.js';
import { run, runSync } from './proc.js';
import { registrationDir } from './registry.js';

const ROUTE_LOCK = `${REGISTRY_DIR}/.route.lock`;

/** Bridge, netns and veths for hosts 1..n, addressed and up. */
export async function createNetwork(id: number, n: number): Promise<void> {
  const br = bridgeName(id);
  const root = [`link add ${br} type bridge`, `addr add ${bridgeAddressOf(id)}/24 dev ${br}`, `link set ${br} up`];
  for (let i = 1; i <= n; i++) {
    root.push(
      `netns add ${netnsName(id, i)}`,
      `link add ${vethName(id, i)} type veth peer name eth0 netns ${netnsName(id, i)}`,
      `link set ${vethName(id, i)} master ${br} up`,
    );
  }
  await run('ip', ['-batch', '-'], { input: root.join('\n') + '\n' });
  // Address the inside ends now, before any sshd starts, so the readiness probe gets an immediate RST rather than
  // waiting on ARP for an address that does not exist yet.
  await Promise.all(
    Array.from({ length: n }, (_, k) =>
      run('ip', ['-n', netnsName(id, k + 1), '-batch', '-'], {
        input: `link set lo up\naddr add ${hostAddress(id, k + 1)}/24 dev eth0\nlink set eth0 up\n`,
      }),
    ),
  );
}

/** `ip netns pids` for every netns of this lab: processes that live in the lab's network and so were started in it. */
export function netnsPids(id: number): number[] {
  const pids: number[] = [];
  for (const ns of labNetns(id)) {
    const out = runSync('ip', ['netns', 'pids', ns]);
    for (const line of out.stdout.split('\n')) if (/^\d+$/.test(line.trim())) pids.push(Number(line.trim()));
  }
  return pids;
}

export function labNetns(id: number): string[] {
  const out = runSync('ip', ['netns', 'list']);
  return out.stdout
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((name) => name.startsWith(netnsPrefix(id)));
}

export function labLinks(id: number): string[] {
  const out = runSync('ip', ['-o', 'link', 'show']);
  return out.stdout
    .split('\n')
    .map((l) => (l.split(': ')[1] ?? '').split('@')[0] ?? '')
    .filter((name) => name === bridgeName(id) || name.startsWith(vethPrefix(id)));
}

/** Remove every netns, veth and the bridge of lab `id` (whatever exists). Processes must be gone first, or a
 * netns lingers unnamed until they exit. */
export function removeNetwork(id: number): void {
  const cmds = [...labNetns(id).map((ns) => `netns del ${ns}`), ...labLinks(id).map((l) => `link del ${l}`)];
  // -force: keep going past a veth that vanished with its netns.
  if (cmds.length) runSync('ip', ['-force', '-batch', '-'], cmds.join('\n') + '\n');
}

/** Add the shared blackhole route (idempotent). Under the route lock so it never races a last lab's removal. */
export async function ensureBlackhole(): Promise<void> {
  await run('flock', ['-w', '30', ROUTE_LOCK, 'ip', 'route', 'replace', 'blackhole', LAB_SUPERNET]);
}

/** Delete the blackhole route unless another lab is registered. Lab `id` may still be registered itself. */
export function releaseBlackhole(id: number): void {
  const script =
    'for d in "$1"/[0-9]*; do [ "$d" = "$2" ] || [ ! -d "$d" ] || exit 0; done; ' +
    'ip route del blackhole "$3" 2>/dev/null; exit 0';
  runSync('flock', ['-w', '30', ROUTE_LOCK, 'sh', '-c', script, 'sh', REGISTRY_DIR, registrationDir(id), LAB_SUPERNET]);
}

export function hasBlackhole(): boolean {
  return runSync('ip', ['route', 'show', 'type', 'blackhole', LAB_SUPERNET]).stdout.trim() !== '';
}
