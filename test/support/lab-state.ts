// What a lab test needs to look at a lab from outside: ssh with the machine's OpenSSH client, a snapshot of the
// lab's ids and pids, everything a lab may leave behind, and a lab held by another process (to SIGKILL it).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Lab } from '../../lab/index.js';

const pexec = promisify(execFile);
const sh = async (cmd: string): Promise<string> => (await pexec('sh', ['-c', cmd])).stdout;

/** `ssh -F <lab ssh_config> host cmd` with the machine's OpenSSH client; never throws. */
export async function ssh(
  lab: Lab,
  host: string,
  cmd: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await pexec('ssh', ['-F', lab.sshConfigPath, host, cmd], { timeout: 20_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

export const alive = (pid: number): boolean => {
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
};

export interface Snapshot {
  id: number;
  dir: string;
  pids: number[];
}

export function snapshot(lab: Lab): Snapshot {
  const rec = JSON.parse(readFileSync(join(lab.dir, 'lab.json'), 'utf8')) as {
    hosts: Array<{ unshare?: { pid: number }; init?: { pid: number } }>;
  };
  return {
    id: lab.id,
    dir: lab.dir,
    pids: rec.hosts.flatMap((h) => [h.unshare?.pid ?? 0, h.init?.pid ?? 0]).filter(Boolean),
  };
}

/** Everything a lab may leave: its netns, links, routes, mounts, cgroups, processes, directory, registration. */
export async function leftovers(s: Snapshot): Promise<string[]> {
  const found: string[] = [];
  const mounts = readFileSync('/proc/mounts', 'utf8').split('\n');
  const ofDir = mounts.filter((l) => l.includes(s.dir));
  if (ofDir.length) found.push(`mounts ${ofDir.join(',')}`);
  const live = s.pids.filter(alive);
  if (live.length) found.push(`processes ${live.join(',')}`);
  if (existsSync(s.dir)) found.push(`dir ${s.dir}`);
  // Ids are reused as soon as they are free: once another lab holds this id, the kernel objects named after it are
  // that lab's, and only what is keyed by this lab's own dir and pids (above) can be checked.
  const owner = `/run/kubeadm2ha-lab/${s.id}/owner.json`;
  const held = existsSync(owner) ? readFileSync(owner, 'utf8') : '';
  if (held !== '' && !held.includes(`"dir":"${s.dir}"`)) return found;
  if (held !== '') found.push(`registration ${s.id}`);
  const netns = (await sh('ip netns list')).split('\n').filter((l) => l.startsWith(`k2h${s.id}-`));
  if (netns.length) found.push(`netns ${netns.join(',')}`);
  const links = (await sh('ip -o link show'))
    .split('\n')
    .map((l) => (l.split(': ')[1] ?? '').split('@')[0] ?? '')
    .filter((n) => n === `k2hbr${s.id}` || n.startsWith(`k2h${s.id}v`));
  if (links.length) found.push(`links ${links.join(',')}`);
  const routes = (await sh('ip route show')).split('\n').filter((l) => l.includes(`10.200.${s.id}.`));
  if (routes.length) found.push(`routes ${routes.join(',')}`);
  const netnsMounts = mounts.filter((l) => l.includes(`/run/netns/k2h${s.id}-`));
  if (netnsMounts.length) found.push(`mounts ${netnsMounts.join(',')}`);
  const cgroups = ['/sys/fs/cgroup', ...readdirSync('/sys/fs/cgroup').map((n) => `/sys/fs/cgroup/${n}`)].flatMap(
    (root) => {
      try {
        return readdirSync(root)
          .filter((n) => n.startsWith(`k2h${s.id}-h`))
          .map((n) => `${root}/${n}`);
      } catch {
        return [];
      }
    },
  );
  if (cgroups.length) found.push(`cgroups ${cgroups.join(',')}`);
  return found;
}

/** Runs test/lab/fixtures/hold-lab.ts in its own process and returns what it printed about its lab. */
export async function holdLab(
  ...modes: Array<'detached' | 'nspawn'>
): Promise<{ child: ChildProcess; held: Snapshot }> {
  const script = join(import.meta.dirname, '..', 'lab', 'fixtures', 'hold-lab.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...modes], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('\n')) resolve(buf.split('\n')[0]!);
    });
    child.once('exit', (c) =>
      buf.includes('\n') ? undefined : reject(new Error(`hold-lab exited ${c} before printing`)),
    );
  });
  return { child, held: JSON.parse(line) as Snapshot };
}
