// Processes a lab runs in the root network namespace for its hosts (the image registry, the apt mirror), bound to
// the lab bridge address so only the lab's hosts reach them. They live and die with the lab: an attached lab's
// services get a death signal from their creator (setpriv --pdeathsig, as the hosts do), and every service's pid
// is written under <labDir>/services/, where teardownLab (from any process, also after a crash) finds and kills it.
import { spawn } from 'node:child_process';
import {
  mkdirSync,
  openSync,
  closeSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  writeFileSync,
  renameSync,
} from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { isAlive, pollFor, pollForSync, procId, signal, type ProcId } from './proc.js';

export interface LabServiceOptions {
  labDir: string;
  /** A file-name-safe name, unique in the lab: registry, apt-mirror… */
  name: string;
  argv: readonly string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Resolves once this accepts TCP connections. */
  ready: { host: string; port: number };
  /** Outlive this process (a detached lab); teardown still finds it through the pid file. */
  detached?: boolean;
  /** Default 20 s. */
  timeoutMs?: number;
}

export interface LabService {
  name: string;
  pid: number;
  logFile: string;
  stop(): Promise<void>;
}

interface ServiceRecord {
  name: string;
  proc: ProcId;
  argv: readonly string[];
}

const servicesDir = (labDir: string): string => join(labDir, 'services');

export async function startLabService(o: LabServiceOptions): Promise<LabService> {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(o.name)) throw new Error(`lab service name must be [a-z0-9-]+, got '${o.name}'`);
  if (!o.argv[0]) throw new Error(`lab service ${o.name}: empty command`);
  const dir = servicesDir(o.labDir);
  mkdirSync(dir, { recursive: true });
  const logFile = join(dir, `${o.name}.log`);
  const out = openSync(logFile, 'a');
  // Attached: the kernel kills the service when its creator dies, even by SIGKILL (no exit handler runs then).
  const argv = o.detached ? [...o.argv] : ['setpriv', '--pdeathsig', 'KILL', ...o.argv];
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: o.cwd,
    env: o.env ?? process.env,
    stdio: ['ignore', out, out],
    detached: o.detached ?? false,
  });
  closeSync(out);
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  const proc = procId(child.pid!);
  if (!proc) throw new Error(`lab service ${o.name} exited at once: ${logTail(logFile)}`);
  const record: ServiceRecord = { name: o.name, proc, argv: o.argv };
  const recordFile = join(dir, `${o.name}.json`);
  writeFileSync(`${recordFile}.tmp`, JSON.stringify(record) + '\n');
  renameSync(`${recordFile}.tmp`, recordFile);
  if (o.detached) child.unref();

  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  let accepting = false;
  await pollFor(
    async () => {
      if (exited()) return true;
      // The listening socket must be this process's own: something else already bound there (a leftover of a
      // crashed run) would accept connections while ours dies with "address already in use".
      accepting = listensOn(proc.pid, o.ready.host, o.ready.port) && (await canConnect(o.ready.host, o.ready.port));
      return accepting;
    },
    o.timeoutMs ?? 20_000,
    20,
  );
  const stop = async (): Promise<void> => {
    await stopProc(proc);
  };
  if (!accepting) {
    await stop();
    const why = exited() ? `exited (${child.exitCode ?? child.signalCode})` : 'is not accepting connections';
    throw new Error(
      `lab service ${o.name} (${o.argv.join(' ')}) ${why} on ${o.ready.host}:${o.ready.port}: ${logTail(logFile)}`,
    );
  }
  return { name: o.name, pid: proc.pid, logFile, stop };
}

async function stopProc(p: ProcId): Promise<void> {
  if (!isAlive(p)) return;
  signal(p, 'SIGTERM');
  if (!(await pollFor(() => !isAlive(p), 3000))) {
    signal(p, 'SIGKILL');
    await pollFor(() => !isAlive(p), 3000);
  }
}

/** For teardownLab (synchronous, also from an exit handler): every service the lab's directory records. */
export function stopLabServicesSync(labDir: string): void {
  let names: string[];
  try {
    names = readdirSync(servicesDir(labDir)).filter((n) => n.endsWith('.json'));
  } catch {
    return;
  }
  const procs: ProcId[] = [];
  for (const n of names) {
    try {
      const rec = JSON.parse(readFileSync(join(servicesDir(labDir), n), 'utf8')) as ServiceRecord;
      // isAlive compares the start time too: a recycled pid is never signalled.
      if (isAlive(rec.proc)) procs.push(rec.proc);
    } catch {
      // A record half-written by a crash: its process got a death signal anyway (attached) or is gone.
    }
  }
  for (const p of procs) signal(p, 'SIGTERM');
  if (pollForSync(() => procs.every((p) => !isAlive(p)), 3000)) return;
  for (const p of procs) if (isAlive(p)) signal(p, 'SIGKILL');
  pollForSync(() => procs.every((p) => !isAlive(p)), 3000);
}

/** Whether `pid` holds a TCP socket listening on host:port (IPv4), from /proc/<pid>/net/tcp and its fds. */
export function listensOn(pid: number, host: string, port: number): boolean {
  const want = `${host
    .split('.')
    .map((o) => Number(o).toString(16).padStart(2, '0'))
    .reverse()
    .join('')
    .toUpperCase()}:${port.toString(16).padStart(4, '0').toUpperCase()}`;
  let table: string;
  try {
    table = readFileSync(`/proc/${pid}/net/tcp`, 'utf8');
  } catch {
    return false;
  }
  const inodes = new Set<string>();
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // local_address, st (0A = LISTEN), inode
    if (f[1] === want && f[3] === '0A' && f[9]) inodes.add(f[9]);
  }
  if (!inodes.size) return false;
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        return m !== null && inodes.has(m[1]!);
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port, timeout: 1000 });
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.once('connect', () => done(true));
    s.once('timeout', () => done(false));
    s.once('error', () => done(false));
  });
}

function logTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-5).join(' | ') || '(empty log)';
  } catch {
    return '(no log)';
  }
}
