// Small process helpers for the lab: run a tool and collect its output, and tell whether a *particular* process
// (pid plus its kernel start time, so a reused pid is never mistaken for ours) is still alive.
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface RunOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `file args…` and resolve with its exit code and output; throws only when told the exit must be 0. */
export function run(
  file: string,
  args: readonly string[],
  opts: { input?: string; check?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<RunOutput> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { maxBuffer: 16 << 20, encoding: 'utf8', ...(opts.env && { env: opts.env }) },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        if (err && typeof err.code === 'string') return reject(new Error(`${file}: ${err.message}`)); // ENOENT etc.
        if (code !== 0 && opts.check !== false) {
          return reject(new Error(`${file} ${args.join(' ')}: exit ${code}: ${stderr.trim().slice(-500)}`));
        }
        resolve({ code, stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Synchronous twin of `run` for the exit handler, where the event loop no longer turns. Never throws on exit code. */
export function runSync(file: string, args: readonly string[], input?: string): RunOutput {
  try {
    const stdout = execFileSync(file, args, {
      encoding: 'utf8',
      input: input ?? '',
      stdio: ['pipe', 'pipe', 'pipe'],
      maxBuffer: 16 << 20,
    });
    return { code: 0, stdout, stderr: '' };
  } catch (err) {
    const e = err as { status?: number | null; stdout?: string; stderr?: string };
    return { code: e.status ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

export interface ProcStat {
  state: string;
  ppid: number;
  startTime: number;
}

/** Fields of /proc/<pid>/stat we need; undefined when the process is gone. */
export function procStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm may contain spaces and parentheses: the fixed fields start after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0] ?? '?', ppid: Number(rest[1]), startTime: Number(rest[19]) };
}

/** A process identity that survives pid reuse. */
export interface ProcId {
  pid: number;
  startTime: number;
}

export function procId(pid: number): ProcId | undefined {
  const st = procStat(pid);
  return st && { pid, startTime: st.startTime };
}

/** Alive = exists, is the same process (start time), and is not a zombie waiting to be reaped. */
export function isAlive(p: ProcId | undefined): boolean {
  if (!p) return false;
  const st = procStat(p.pid);
  return st !== undefined && st.startTime === p.startTime && st.state !== 'Z' && st.state !== 'X';
}

export function signal(p: ProcId, sig: NodeJS.Signals): void {
  if (!isAlive(p)) return;
  try {
    process.kill(p.pid, sig);
  } catch {
    // Gone between the check and the kill: that is what we wanted.
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** Blocking pause for the synchronous (exit-handler) paths only, between polls with a deadline. */
export const sleepSync = (ms: number): void => void Atomics.wait(sleeper, 0, 0, ms);
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `done` every `everyMs` until true or `timeoutMs` passes; returns whether it became true. */
export async function pollFor(
  done: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 20,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await done()) return true;
    if (Date.now() > deadline) return false;
    await sleep(everyMs);
  }
}

export function pollForSync(done: () => boolean, timeoutMs: number, everyMs = 20): boolean {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (done()) return true;
    if (Date.now() > deadline) return false;
    sleepSync(everyMs);
  }
}
