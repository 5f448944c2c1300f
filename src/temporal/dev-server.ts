// The local Temporal dev server (`temporal server start-dev`): kubeadm2ha's default backend and the test suite's
// server. It runs detached from the CLI that started it (operations outlive the command), keeps its state in a
// SQLite file, and is described by a JSON pid file next to that file so `stop`/`status` find it later.
//
// One run directory can hold several servers: pid and log files are keyed by port.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { dirname, join } from 'node:path';
import { Connection } from '@temporalio/client';
import { stateDir } from '../paths.js';
import { ensureTemporalCli, TEMPORAL_CLI_VERSION } from './cli-binary.js';
import { pidAlive, pidCommandLine, pollUntil } from './process-util.js';
import { ensureSearchAttributes } from './register-search-attributes.js';
import { searchAttributeCliArgs } from './search-attributes.js';

export const DEFAULT_PORT = 7233;
export const DEFAULT_UI_PORT = 8233;
const HOST = '127.0.0.1'; // the dev server binds IPv4 only; `localhost` may resolve to ::1 first

export interface DevServerOptions {
  /** Frontend gRPC port (default 7233). */
  port?: number;
  /** Web UI port (default 8233); ignored when headless. */
  uiPort?: number;
  /** No Web UI (tests). */
  headless?: boolean;
  /** SQLite file. Default: stateDir('temporal', 'cli-<version>', 'temporal.db') — keyed by CLI version because
   * dev-server databases are not guaranteed to open with another CLI version. */
  dbFile?: string;
  /** Where the pid and log files go (default: the db file's directory). */
  runDir?: string;
  namespace?: string;
  /** Remote codec server for the Web UI (decodes encrypted payloads in the browser; `kubeadm2ha codec serve`).
   * Default: $KUBEADM2HA_UI_CODEC_ENDPOINT, so servers that other commands start on demand get it too. */
  uiCodecEndpoint?: string;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Deadline for the server to answer after spawn (default 60 s). */
  startTimeoutMs?: number;
  /** Binary to run (default: ensureTemporalCli()). */
  cliPath?: string;
  extraArgs?: string[];
}

export interface DevServerInfo {
  address: string;
  port: number;
  /** Undefined when headless or when we reused a server we did not start. */
  uiUrl?: string;
  dbFile: string;
  logFile: string;
  pidFile: string;
  /** Undefined when reusing a server started by someone else (no pid file). */
  pid?: number;
  /** True when a server already answered on the port and we did not spawn one. */
  reused: boolean;
  /** Search attributes we had to add through the operator service (existing db files). */
  addedSearchAttributes: string[];
  /** Milliseconds from spawn to healthy (0 when reused). */
  startMs: number;
}

export interface DevServerStatus {
  address: string;
  port: number;
  pid?: number;
  /** The pid in the pid file is a live start-dev process. */
  running: boolean;
  /** The port answers getSystemInfo. */
  healthy: boolean;
  serverVersion?: string;
  uiUrl?: string;
  dbFile: string;
  logFile: string;
  pidFile: string;
}

export interface StopResult {
  stopped: boolean;
  pid?: number;
  /** SIGKILL was needed. */
  forced: boolean;
  elapsedMs: number;
  /** Why nothing was stopped. */
  reason?: string;
}

/** What we write to the pid file. */
interface PidRecord {
  pid: number;
  port: number;
  uiUrl?: string;
  dbFile: string;
  logFile: string;
  cliVersion: string;
  startedAt: string;
}

export function defaultDbFile(): string {
  return stateDir('temporal', `cli-${TEMPORAL_CLI_VERSION}`, 'temporal.db');
}

interface Resolved {
  port: number;
  uiPort?: number;
  address: string;
  dbFile: string;
  pidFile: string;
  logFile: string;
  namespace: string;
}

function resolve(opts: DevServerOptions): Resolved {
  const port = opts.port ?? DEFAULT_PORT;
  const dbFile = opts.dbFile ?? defaultDbFile();
  const runDir = opts.runDir ?? dirname(dbFile);
  return {
    port,
    uiPort: opts.headless ? undefined : (opts.uiPort ?? DEFAULT_UI_PORT),
    address: `${HOST}:${port}`,
    dbFile,
    pidFile: join(runDir, `dev-server-${port}.json`),
    logFile: join(runDir, `dev-server-${port}.log`),
    namespace: opts.namespace ?? 'default',
  };
}

/**
 * Starts the dev server unless one already answers on the port (then it is reused). Either way, returns once the
 * server answers getSystemInfo and our search attributes exist in the namespace.
 */
export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServerInfo> {
  const r = resolve(opts);
  const base = { address: r.address, port: r.port, dbFile: r.dbFile, logFile: r.logFile, pidFile: r.pidFile };

  // Reuse: a server already answers, or one we recorded is still starting (another `kubeadm2ha` call).
  const record = await readPidRecord(r.pidFile);
  const recordLive = record !== undefined && isOurServer(record.pid);
  const healthyNow = (await probe(r.address)).healthy;
  if (healthyNow || recordLive) {
    if (!healthyNow) await waitHealthy(r.address, opts.startTimeoutMs ?? 60_000, () => recordLive);
    const added = await ensureSearchAttributesWithRetry(r.address, r.namespace);
    return {
      ...base,
      uiUrl: recordLive ? record.uiUrl : undefined,
      pid: recordLive ? record.pid : undefined,
      reused: true,
      addedSearchAttributes: added,
      startMs: 0,
    };
  }

  const cli = opts.cliPath ?? (await ensureTemporalCli());
  const uiCodecEndpoint = opts.uiCodecEndpoint ?? (process.env.KUBEADM2HA_UI_CODEC_ENDPOINT || undefined);
  await mkdir(dirname(r.dbFile), { recursive: true });
  await mkdir(dirname(r.pidFile), { recursive: true });
  const args = [
    'server',
    'start-dev',
    '--ip',
    HOST,
    '--port',
    String(r.port),
    ...(r.uiPort === undefined ? ['--headless'] : ['--ui-port', String(r.uiPort)]),
    '--db-filename',
    r.dbFile,
    '--namespace',
    r.namespace,
    '--sqlite-pragma',
    'journal_mode=wal',
    '--log-level',
    opts.logLevel ?? 'warn',
    // We run offline; without this the server keeps trying to phone home for version checks.
    '--dynamic-config-value',
    'frontend.enableServerVersionCheck=false',
    ...searchAttributeCliArgs(),
    ...(uiCodecEndpoint ? ['--ui-codec-endpoint', uiCodecEndpoint] : []),
    ...(opts.extraArgs ?? []),
  ];

  const logFd = openSync(r.logFile, 'a');
  const started = Date.now();
  let exited: string | undefined;
  let pid: number;
  try {
    // detached: its own process group, so it survives our exit and `stop` can signal the whole group.
    const child = spawn(cli, args, { detached: true, stdio: ['ignore', logFd, logFd] });
    child.on('exit', (code, signal) => (exited = `exited with ${signal ?? `code ${code}`}`));
    const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
    spawnError.catch(() => {}); // observed below through `exited`/pid
    if (child.pid === undefined) await spawnError;
    pid = child.pid!;
    child.unref();
  } finally {
    closeSync(logFd);
  }

  const uiUrl = r.uiPort === undefined ? undefined : `http://${HOST}:${r.uiPort}`;
  try {
    await waitHealthy(r.address, opts.startTimeoutMs ?? 60_000, () => exited === undefined);
  } catch (err) {
    // Lost a race with another starter on the same port: its server is fine, use it.
    if (exited !== undefined && (await probe(r.address)).healthy) {
      const added = await ensureSearchAttributesWithRetry(r.address, r.namespace);
      return { ...base, reused: true, addedSearchAttributes: added, startMs: 0 };
    }
    if (exited === undefined) killGroup(pid, 'SIGKILL');
    const tail = await logTail(r.logFile);
    throw new Error(
      `Temporal dev server on ${r.address} did not become healthy${exited ? ` (${exited})` : ''}: ${(err as Error).message}` +
        `\n--- last lines of ${r.logFile} ---\n${tail}`,
    );
  }
  const startMs = Date.now() - started;
  const rec: PidRecord = {
    pid,
    port: r.port,
    uiUrl,
    dbFile: r.dbFile,
    logFile: r.logFile,
    cliVersion: TEMPORAL_CLI_VERSION,
    startedAt: new Date(started).toISOString(),
  };
  await writeFile(r.pidFile, `${JSON.stringify(rec, null, 2)}\n`);
  const added = await ensureSearchAttributesWithRetry(r.address, r.namespace);
  return { ...base, uiUrl, pid, reused: false, addedSearchAttributes: added, startMs };
}

/**
 * Stops the server recorded in the pid file: SIGTERM to its process group (the CLI shuts down gracefully and
 * checkpoints SQLite), wait up to timeoutMs, and SIGKILL only if it is still there.
 */
export async function stopDevServer(opts: DevServerOptions & { timeoutMs?: number } = {}): Promise<StopResult> {
  const r = resolve(opts);
  const started = Date.now();
  const record = await readPidRecord(r.pidFile);
  if (!record) return { stopped: false, forced: false, elapsedMs: 0, reason: `no pid file ${r.pidFile}` };
  if (!isOurServer(record.pid)) {
    // Stale file (server died, machine rebooted): the pid may now belong to an unrelated process. Never signal it.
    await rm(r.pidFile, { force: true });
    return {
      stopped: false,
      pid: record.pid,
      forced: false,
      elapsedMs: 0,
      reason: 'not running (stale pid file removed)',
    };
  }
  killGroup(record.pid, 'SIGTERM');
  let forced = false;
  try {
    await pollUntil(() => !pidAlive(record.pid), {
      timeoutMs: opts.timeoutMs ?? 30_000,
      intervalMs: 50,
      what: `pid ${record.pid} to exit`,
    });
  } catch {
    forced = true;
    killGroup(record.pid, 'SIGKILL');
    await pollUntil(() => !pidAlive(record.pid), {
      timeoutMs: 10_000,
      intervalMs: 50,
      what: `pid ${record.pid} to exit after SIGKILL`,
    });
  }
  await rm(r.pidFile, { force: true });
  return { stopped: true, pid: record.pid, forced, elapsedMs: Date.now() - started };
}

export async function devServerStatus(opts: DevServerOptions = {}): Promise<DevServerStatus> {
  const r = resolve(opts);
  const record = await readPidRecord(r.pidFile);
  const running = record !== undefined && isOurServer(record.pid);
  const p = await probe(r.address);
  return {
    address: r.address,
    port: r.port,
    pid: record?.pid,
    running,
    healthy: p.healthy,
    serverVersion: p.serverVersion,
    uiUrl: record?.uiUrl,
    dbFile: record?.dbFile ?? r.dbFile,
    logFile: record?.logFile ?? r.logFile,
    pidFile: r.pidFile,
  };
}

/**
 * One health check: TCP connect first (fails in microseconds while nothing listens, so polling stays precise and
 * we do not sit in gRPC's reconnect backoff), then Connection.connect + getSystemInfo.
 */
export async function probe(address: string, timeoutMs = 3000): Promise<{ healthy: boolean; serverVersion?: string }> {
  if (!(await tcpOpen(address, timeoutMs))) return { healthy: false };
  let conn: Connection | undefined;
  try {
    conn = await Connection.connect({ address, connectTimeout: timeoutMs });
    const info = await conn.withDeadline(Date.now() + timeoutMs, () => conn!.workflowService.getSystemInfo({}));
    return { healthy: true, serverVersion: info.serverVersion ?? undefined };
  } catch {
    return { healthy: false };
  } finally {
    await conn?.close().catch(() => {});
  }
}

/** Polls probe() until healthy; stops early (as a failure) when stillStarting() turns false. */
export async function waitHealthy(
  address: string,
  timeoutMs: number,
  stillStarting: () => boolean = () => true,
): Promise<void> {
  await pollUntil(
    async () => {
      if (!stillStarting()) throw new Error('the server process exited');
      return (await probe(address)).healthy;
    },
    { timeoutMs, intervalMs: 100, what: `Temporal at ${address}` },
  );
}

// Right after startup the namespace can lag the frontend by a moment (NotFound); retry briefly.
async function ensureSearchAttributesWithRetry(address: string, namespace: string): Promise<string[]> {
  const conn = await Connection.connect({ address });
  try {
    let added: string[] = [];
    let lastErr: unknown;
    try {
      await pollUntil(
        async () => {
          try {
            added = await ensureSearchAttributes(conn, namespace);
            return true;
          } catch (err) {
            lastErr = err;
            return false;
          }
        },
        { timeoutMs: 15_000, intervalMs: 200, what: `search attributes in namespace ${namespace}` },
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}: ${(lastErr as Error | undefined)?.message ?? ''}`);
    }
    return added;
  } finally {
    await conn.close();
  }
}

function tcpOpen(address: string, timeoutMs: number): Promise<boolean> {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i);
  const port = Number(address.slice(i + 1));
  return new Promise((resolve) => {
    const sock = netConnect({ host, port, timeout: timeoutMs });
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
    sock.once('timeout', () => done(false));
  });
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
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

/** Alive and (where we can tell) really a `temporal server start-dev`: guards against pid reuse. */
function isOurServer(pid: number): boolean {
  if (!pidAlive(pid)) return false;
  const cmd = pidCommandLine(pid);
  return cmd === undefined || cmd.includes('start-dev');
}

async function readPidRecord(pidFile: string): Promise<PidRecord | undefined> {
  try {
    return JSON.parse(await readFile(pidFile, 'utf8')) as PidRecord;
  } catch {
    return undefined;
  }
}

async function logTail(logFile: string, lines = 20): Promise<string> {
  try {
    return (await readFile(logFile, 'utf8')).split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
