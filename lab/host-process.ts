// Starting and stopping one host: `unshare` (a child of this process, or of nobody when the lab is detached)
// forks the host's PID 1 (host-init, then sshd). Stopping TERMs that PID 1; the kernel then kills everything else
// in the host's pid namespace, so every daemon started on the host dies with it. `unshare --fork` itself ignores
// TERM, so it is only SIGKILLed when PID 1 does not go in time.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { hostDir } from './host-files.js';
import { hostName } from './names.js';
import { isAlive, pollFor, pollForSync, procId, procStat, signal, type ProcId } from './proc.js';

export interface HostProcess {
  /** The unshare process; its exit means the host is down. */
  unshare: ProcId;
  /** PID 1 of the host, as seen from the root pid namespace. */
  init: ProcId;
  /** Present when this process spawned it: waiting on it also reaps it. */
  child?: ChildProcess;
}

export interface StartOptions {
  labDir: string;
  labId: number;
  netnsPath: string;
  index: number;
  /** First boot of a prepared lab. */
  prepare: boolean;
  /** Not tied to this process: no death signal, own session, not waited on. */
  detached: boolean;
  /** What the host's PID 1 runs instead of host-init (an nspawn host: systemd-nspawn), argv. */
  init?: string[];
  /** Append PID 1's stdout and stderr here (a console log) instead of discarding them. */
  logFile?: string;
}

export async function startHostProcess(o: StartOptions): Promise<HostProcess> {
  const h = hostDir(o.labDir, o.index);
  const argv = [
    'nsenter',
    `--net=${o.netnsPath}`,
    'unshare',
    '--pid',
    '--fork',
    '--kill-child=SIGKILL',
    '--mount-proc',
    '--mount',
    '--uts',
    '--propagation',
    'private',
    ...(o.init ?? [join(o.labDir, 'host-init.sh'), hostName(o.index), h, o.prepare ? '1' : '0']),
  ];
  // An attached host dies with this process even on SIGKILL: unshare gets SIGKILL when we die (pdeathsig, kept
  // across the execs of nsenter and unshare), and --kill-child passes it on to the host's PID 1.
  const cmd = o.detached ? argv : ['setpriv', '--pdeathsig', 'KILL', ...argv];
  const log = o.logFile === undefined ? undefined : openSync(o.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(cmd[0]!, cmd.slice(1), {
      stdio: log === undefined ? 'ignore' : ['ignore', log, log],
      detached: o.detached,
    });
  } finally {
    // The child holds its own copy from here on.
    if (log !== undefined) closeSync(log);
  }
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  await spawned;
  const pid = child.pid!;
  const unshare = procId(pid);
  let init: ProcId | undefined;
  // unshare forks PID 1 right away; find it among unshare's children (procfs lists them per thread).
  const found = await pollFor(
    () => {
      if (child.exitCode !== null || child.signalCode !== null) return true;
      const kids = readChildren(pid);
      if (kids[0] !== undefined) init = procId(kids[0]);
      return init !== undefined;
    },
    5000,
    2,
  );
  if (!found || !init || !unshare) {
    child.kill('SIGKILL');
    throw new Error(`${hostName(o.index)}: host did not start: ${initLogTail(o.labDir, o.index)}`);
  }
  if (o.detached) {
    child.unref();
    return { unshare, init };
  }
  return { unshare, init, child };
}

function readChildren(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export function initLogTail(labDir: string, index: number): string {
  try {
    return readFileSync(join(hostDir(labDir, index), 'init.log'), 'utf8')
      .trim()
      .split('\n')
      .slice(-5)
      .join(' | ');
  } catch {
    return '(no init.log)';
  }
}

const STOP_GRACE_MS = 2500;

/** TERM PID 1 only if it really is the child of that unshare (pids are checked, never reused blindly). */
function termInit(p: Pick<HostProcess, 'unshare' | 'init'>): void {
  const st = procStat(p.init.pid);
  if (st && st.ppid === p.unshare.pid && st.startTime === p.init.startTime) signal(p.init, 'SIGTERM');
}

export async function stopHostProcess(p: HostProcess): Promise<void> {
  if (!isAlive(p.unshare)) return;
  termInit(p);
  const gone = (): boolean => !isAlive(p.unshare);
  if (!(await pollFor(gone, STOP_GRACE_MS))) {
    signal(p.unshare, 'SIGKILL');
    await pollFor(gone, STOP_GRACE_MS);
  }
  // Reap our own child so no zombie is left behind (libuv reaps on SIGCHLD; 'exit' says it has).
  const child = p.child;
  if (child) await pollFor(() => child.exitCode !== null || child.signalCode !== null, STOP_GRACE_MS, 5);
}

/** The same, for the exit handler and other processes' labs: blocks, polls with a deadline. */
export function stopHostProcessSync(p: Pick<HostProcess, 'unshare' | 'init'>): void {
  if (!isAlive(p.unshare)) return;
  termInit(p);
  const gone = (): boolean => !isAlive(p.unshare);
  if (!pollForSync(gone, STOP_GRACE_MS)) {
    signal(p.unshare, 'SIGKILL');
    pollForSync(gone, STOP_GRACE_MS);
  }
}

/** One probe: connect and read the SSH banner. A host that is not listening yet answers with RST at once. */
function sshBanner(address: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: address, port: 22, timeout: timeoutMs });
    let buf = '';
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      buf += d;
      if (buf.includes('\n')) done(buf.startsWith('SSH-2.0-'));
    });
    sock.on('timeout', () => done(false));
    sock.on('error', () => done(false));
    sock.on('close', () => done(false));
  });
}

/** Wait until sshd on `address` sends its banner, or the host's PID 1 is gone, or the deadline passes. */
export async function waitForSsh(address: string, p: HostProcess, timeoutMs: number): Promise<boolean> {
  let up = false;
  await pollFor(
    async () => {
      if (!isAlive(p.unshare)) return true;
      up = await sshBanner(address, 1000);
      return up;
    },
    timeoutMs,
    10,
  );
  return up;
}
