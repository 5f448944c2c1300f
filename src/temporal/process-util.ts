// Small process helpers for the dev server and the CLI build: liveness checks, polling with a deadline (we never
// sleep a fixed time and hope), and a free-port finder for tests.
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { createServer } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

/** True when the pid exists and is not a zombie (a killed child we have not reaped still answers kill(pid, 0)). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (process.platform !== 'linux') return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 3 (after the parenthesised command name) is the state; Z = zombie, X = dead.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** The process's command line on Linux (undefined elsewhere or when it is gone). */
export function pidCommandLine(pid: number): string[] | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return undefined;
  }
}

export class DeadlineError extends Error {
  override name = 'DeadlineError';
}

/** Calls `check` every intervalMs until it returns true; throws DeadlineError after timeoutMs. */
export async function pollUntil(
  check: () => boolean | Promise<boolean>,
  opts: { timeoutMs: number; intervalMs?: number; what: string },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() >= deadline)
      throw new DeadlineError(`timed out after ${opts.timeoutMs} ms waiting for ${opts.what}`);
    await delay(Math.min(opts.intervalMs ?? 100, Math.max(0, deadline - Date.now())));
  }
}

/** A TCP port free on 127.0.0.1 right now (the OS picks it). Another process could grab it before use: the dev
 * server's start picks again when asked for port 'free' (startDevServer); other callers see "address in use". */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface PortListener {
  /** Owner of the listening socket (from /proc/net/tcp*, readable by everyone). */
  uid: number;
  /** Only found when the process is ours (other users' /proc/<pid>/fd is not readable). */
  pid?: number;
  cmdline?: string[];
}

/** Who listens on a TCP port on this machine (Linux; undefined elsewhere or when nobody does). */
export function portListener(port: number): PortListener | undefined {
  if (process.platform !== 'linux') return undefined;
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  let found: { uid: number; inode: string } | undefined;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is f[1] ("0100007F:1C41"), st is f[3] (0A = LISTEN), uid f[7], inode f[9].
      if (f.length < 10 || f[3] !== '0A' || !f[1]!.endsWith(`:${hexPort}`)) continue;
      found = { uid: Number(f[7]), inode: f[9]! };
      break;
    }
    if (found) break;
  }
  if (!found) return undefined;
  const target = `socket:[${found.inode}]`;
  for (const pid of safeReaddir('/proc').filter((n) => /^\d+$/.test(n))) {
    for (const fd of safeReaddir(`/proc/${pid}/fd`)) {
      let link: string;
      try {
        link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (link === target) return { uid: found.uid, pid: Number(pid), cmdline: pidCommandLine(Number(pid)) };
    }
  }
  return { uid: found.uid };
}

/** The uid that owns a process (Linux), undefined when it is gone or elsewhere. */
export function pidOwner(pid: number): number | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    return statSync(`/proc/${pid}`).uid;
  } catch {
    return undefined;
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * Takes a lock that is a directory (mkdir is atomic); its `owner` file lets a later process detect a lock left
 * behind by a process that was killed (the pid is gone) and take it over instead of waiting forever. onWait is
 * called once when the lock is busy. Release with releaseDirLock.
 */
export async function acquireDirLock(
  lockDir: string,
  opts: { timeoutMs: number; intervalMs?: number; onWait?: () => void },
): Promise<void> {
  await mkdir(dirname(lockDir), { recursive: true });
  let announced = false;
  await pollUntil(
    async () => {
      try {
        await mkdir(lockDir, { mode: 0o700 });
        await writeFile(join(lockDir, 'owner'), JSON.stringify({ pid: process.pid, host: hostname() }));
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      if (await lockIsStale(lockDir)) {
        await rm(lockDir, { recursive: true, force: true });
        return false;
      }
      if (!announced) {
        opts.onWait?.();
        announced = true;
      }
      return false;
    },
    { timeoutMs: opts.timeoutMs, intervalMs: opts.intervalMs ?? 100, what: `the lock ${lockDir}` },
  );
}

export async function releaseDirLock(lockDir: string): Promise<void> {
  await rm(lockDir, { recursive: true, force: true });
}

async function lockIsStale(lockDir: string): Promise<boolean> {
  try {
    const owner = JSON.parse(await readFile(join(lockDir, 'owner'), 'utf8')) as { pid: number; host: string };
    return owner.host === hostname() && !pidAlive(owner.pid);
  } catch {
    // No owner file yet: the owner is between mkdir and writeFile. Not stale.
    return false;
  }
}

/** Signals a process group (we start servers detached, as group leaders), or the process alone if that fails. */
export function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Not a group leader (or already gone): signal the process itself.
    try {
      process.kill(pid, signal);
    } catch {
      /* gone */
    }
  }
}

/**
 * Ours: alive, owned by this user, and (on Linux) a process whose argv holds `marker` and `--port <port>`. Guards a
 * pid file against pid reuse and against pointing at someone else's process.
 */
export function isOurProcess(pid: number, marker: string, port: number): boolean {
  if (!pidAlive(pid)) return false;
  const owner = pidOwner(pid);
  if (owner !== undefined && owner !== process.getuid?.()) return false;
  const cmd = pidCommandLine(pid);
  if (cmd === undefined) return process.platform !== 'linux';
  const i = cmd.indexOf('--port');
  return cmd.includes(marker) && i >= 0 && cmd[i + 1] === String(port);
}
