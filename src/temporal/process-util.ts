// Small process helpers for the dev server and the CLI build: liveness checks, polling with a deadline (we never
// sleep a fixed time and hope), and a free-port finder for tests.
import { readFileSync } from 'node:fs';
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

/** A TCP port free on 127.0.0.1 right now (the OS picks it). Another process could grab it before use; the dev
 * server then fails fast with "port in use" and the caller sees it. */
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
