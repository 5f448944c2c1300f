// The local Temporal dev server (`temporal server start-dev`): kubeadm2ha's default backend and the test suite's
// server. It runs detached from the CLI that started it (operations outlive the command), keeps its state in a
// SQLite file, and is described by a JSON pid file next to that file so `stop`/`status` find it later.
//
// One run directory can hold several servers: pid and log files are keyed by port.
//
// Only a server this tool started is ever reused: the pid file must be ours (owned by us, not writable by others)
// and its pid a live `temporal server start-dev` of ours on that port. Anything else answering on the port — another
// user's server, say, which would receive our workflows and payloads — stops the start with a message naming it.
// The state is private: directories 0700, files 0600 (the server is spawned with umask 077, and modes left by
// older versions are fixed on start).
import { spawn } from 'node:child_process';
import { closeSync, fstatSync, openSync } from 'node:fs';
import { lstat, open, readFile, rm, writeFile } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { dirname, join } from 'node:path';
import { Connection } from '@temporalio/client';
import { CODEC_PATH } from '../codec/codec-server.js';
import { stateDir } from '../paths.js';
import { ensurePrivateDir, PRIVATE_FILE_MODE, tightenTree, withPrivateUmask } from '../private-files.js';
import { ensureTemporalCli, TEMPORAL_CLI_VERSION } from './cli-binary.js';
import { isOurUiFront, pickInnerUiPort, spawnUiFront, stopUiFront } from './ui-front-process.js';
import {
  acquireDirLock,
  freePort,
  isOurProcess,
  killGroup,
  pidAlive,
  pollUntil,
  portListener,
  releaseDirLock,
} from './process-util.js';
import { ensureSearchAttributes } from './register-search-attributes.js';
import { searchAttributeCliArgs } from './search-attributes.js';
import { LATENCY_DYNAMIC_CONFIG } from './server-tuning.js';

export const DEFAULT_PORT = 7233;
export const DEFAULT_UI_PORT = 8233;
/** Spawns per start, in all, when the ports we or the CLI picked are taken by another process before the server binds
 * them (see startDevServer). */
export const START_ATTEMPTS = 4;
const HOST = '127.0.0.1'; // the dev server binds IPv4 only; `localhost` may resolve to ::1 first

export interface DevServerOptions {
  /** Frontend gRPC port (default 7233). */
  port?: number;
  /** Web UI port (default 8233): the front (ui-front.ts) listens here; the real UI sits behind it on a
   * browser-blocked port. Ignored when headless. */
  uiPort?: number;
  /** No Web UI (tests). */
  headless?: boolean;
  /** SQLite file. Default: stateDir('temporal', 'cli-<version>', 'temporal.db') — keyed by CLI version because
   * dev-server databases are not guaranteed to open with another CLI version. */
  dbFile?: string;
  /** Where the pid and log files go (default: the db file's directory). */
  runDir?: string;
  namespace?: string;
  /** Codec endpoint for the Web UI. Default: $KUBEADM2HA_UI_CODEC_ENDPOINT, else our own codec on the front
   * (http://127.0.0.1:<uiPort>/_kubeadm2ha/codec, for browsers that opened a login link). A running server with
   * another endpoint is an error (UiCodecConflictError): the UI reads it only at start. */
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

/** Something this tool did not start listens on the port we need. */
export class PortTakenError extends Error {
  override name = 'PortTakenError';
  constructor(
    message: string,
    /** The port that is taken. */
    readonly port?: number,
  ) {
    super(message);
  }
}

/** startDevServer's options: the port may be left to us ('free'). */
export interface DevServerStartOptions extends Omit<DevServerOptions, 'port' | 'uiPort'> {
  /** Frontend gRPC port (default 7233). A number is fixed: when something else holds it, PortTakenError. 'free': any
   * port free right now (from pickPort), picked again when another process takes it before the server binds it; the
   * port used is DevServerInfo.port (pass it to stopDevServer/devServerStatus). */
  port?: number | 'free';
  /** Picks a free port for port: 'free' (default: freePort(), the OS's choice). */
  pickPort?: () => Promise<number>;
  /** Web UI port, ignored when headless. A number is fixed, like port. 'free': any port free right now (from
   * pickUiPort), picked again when another process takes it first. Not given: defaultUiPort (8233) while it is free,
   * else as 'free'. The link to open is DevServerInfo.uiUrl (the CLI prints it). */
  uiPort?: number | 'free';
  /** The Web UI port tried first when uiPort is not given (default DEFAULT_UI_PORT). */
  defaultUiPort?: number;
  /** Picks a free port for the Web UI (default: freePort()). */
  pickUiPort?: () => Promise<number>;
}

/** The spawned server exited because an address it binds was taken (after our checks: a race with another process).
 * frontend: the taken address is the gRPC port we asked for (else one the CLI or we picked: HTTP API, history,
 * matching, worker, the inner UI). */
class AddressInUseError extends Error {
  override name = 'AddressInUseError';
  constructor(
    message: string,
    readonly frontend: boolean,
  ) {
    super(message);
  }
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
  uiCodecEndpoint?: string;
  /** The Web UI front's pid and whether it runs. */
  uiFront?: { pid: number; running: boolean };
  dbFile: string;
  logFile: string;
  pidFile: string;
}

/** --ui-codec-endpoint differs from what the running server's Web UI uses: it can only change with a restart. */
export class UiCodecConflictError extends Error {
  override name = 'UiCodecConflictError';
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
  /** The Web UI front's URL (what the operator opens). */
  uiUrl?: string;
  /** What the Web UI decodes through: our codec on the front, or the endpoint the operator chose. */
  uiCodecEndpoint?: string;
  /** The front process and the browser-blocked port of the real UI behind it. */
  uiFront?: { pid: number; port: number; innerUiPort: number; logFile: string };
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
 * Starts the dev server unless ours already runs on the port (then it is reused); throws PortTakenError when
 * anything else listens there. Either way, returns once the server answers getSystemInfo and our search attributes
 * exist in the namespace.
 *
 * Ports race: a port free when picked (by freePort, pickInnerUiPort, or the CLI itself for its HTTP API and its
 * history/matching/worker services) can be taken by another process before the server binds it. The CLI then exits
 * (code 1, or 2 from a nil-listener panic when an internal service's port was taken) with "address already in use" in
 * its log. Such a start is tried again, up to START_ATTEMPTS spawns in all: with a new port when port is 'free', on the
 * same port otherwise (the CLI picks its own ports afresh), except that a fixed port taken by someone else stays a
 * PortTakenError, never a silent move.
 */
export async function startDevServer(opts: DevServerStartOptions = {}): Promise<DevServerInfo> {
  const free = opts.port === 'free';
  const { pickPort = freePort, pickUiPort = freePort, defaultUiPort = DEFAULT_UI_PORT, uiPort: asked, ...rest } = opts;
  // The Web UI port moves when it was not fixed by the caller (not given, or 'free').
  const uiMoves = !opts.headless && typeof asked !== 'number';
  let uiPort: number | undefined = opts.headless
    ? undefined
    : typeof asked === 'number'
      ? asked
      : asked === 'free'
        ? await pickUiPort()
        : defaultUiPort;
  for (let attempt = 1; ; attempt++) {
    const port = opts.port === 'free' ? await pickPort() : opts.port;
    try {
      return await startOnPort({ ...rest, port, ...(uiPort !== undefined && { uiPort }) });
    } catch (err) {
      const last = attempt >= START_ATTEMPTS;
      if (
        err instanceof PortTakenError &&
        err.port === uiPort &&
        err.port !== (port ?? DEFAULT_PORT) &&
        uiMoves &&
        !last
      ) {
        uiPort = await pickUiPort();
        continue;
      }
      if (err instanceof PortTakenError && err.port === port && free && !last) continue;
      if (!(err instanceof AddressInUseError)) throw err;
      if (err.frontend && !free) {
        const address = `${HOST}:${port ?? DEFAULT_PORT}`;
        throw new PortTakenError(portTakenMessage(address, port ?? DEFAULT_PORT), port ?? DEFAULT_PORT);
      }
      if (last) throw new Error(`${err.message}\n(address in use on each of ${attempt} attempts)`);
    }
  }
}

async function startOnPort(opts: DevServerOptions): Promise<DevServerInfo> {
  const r = resolve(opts);
  await ensurePrivateDir(dirname(r.dbFile));
  await ensurePrivateDir(dirname(r.pidFile));
  await tightenTree(dirname(r.dbFile));
  await tightenTree(dirname(r.pidFile));
  // One starter per port at a time: the others wait, then find its pid file and reuse its server.
  const lock = `${r.pidFile}.lock`;
  await acquireDirLock(lock, { timeoutMs: (opts.startTimeoutMs ?? 60_000) + 30_000 });
  try {
    return await startLocked(opts, r);
  } finally {
    await releaseDirLock(lock);
  }
}

async function startLocked(opts: DevServerOptions, r: Resolved): Promise<DevServerInfo> {
  const base = { address: r.address, port: r.port, dbFile: r.dbFile, logFile: r.logFile, pidFile: r.pidFile };
  const record = await readPidRecord(r.pidFile, r.port);
  const requestedCodec = opts.uiCodecEndpoint ?? (process.env.KUBEADM2HA_UI_CODEC_ENDPOINT || undefined);
  if (record) {
    if (requestedCodec !== undefined && requestedCodec !== record.uiCodecEndpoint) {
      throw new UiCodecConflictError(
        `the local Temporal server (pid ${record.pid}) runs with Web UI codec endpoint ` +
          `${record.uiCodecEndpoint ?? '(none)'}, not ${requestedCodec}; the UI reads it only at start. Restart it: ` +
          `kubeadm2ha server stop --port ${r.port} && kubeadm2ha server start --port ${r.port} --ui-codec-endpoint ${requestedCodec}`,
      );
    }
    if (record.uiUrl && !record.uiFront) {
      // Started by a kubeadm2ha from before the front: its UI answers any Host name and cannot decode.
      throw new UiCodecConflictError(
        `the local Temporal server (pid ${record.pid}) was started without the Web UI front; restart it: ` +
          `kubeadm2ha server stop --port ${r.port} && kubeadm2ha server start --port ${r.port}`,
      );
    }
    if (!(await probe(r.address)).healthy)
      await waitHealthy(r.address, opts.startTimeoutMs ?? 60_000, () => isOurServer(record.pid, r.port));
    // A front that died (killed, machine out of memory) comes back; the server behind it never went away.
    if (record.uiFront && !isOurUiFront(record.uiFront.pid, record.uiFront.port)) {
      if (await tcpOpen(`${HOST}:${record.uiFront.port}`, 1000)) {
        throw new PortTakenError(
          portTakenMessage(`${HOST}:${record.uiFront.port}`, record.uiFront.port),
          record.uiFront.port,
        );
      }
      const pid = await spawnUiFront({
        port: record.uiFront.port,
        innerPort: record.uiFront.innerUiPort,
        externalCodecEndpoint: external(record.uiCodecEndpoint, record.uiFront.port),
        logFile: record.uiFront.logFile,
      });
      record.uiFront = { ...record.uiFront, pid };
      await writePidRecord(r.pidFile, record);
    }
    const added = await ensureSearchAttributesWithRetry(r.address, r.namespace);
    return { ...base, uiUrl: record.uiUrl, pid: record.pid, reused: true, addedSearchAttributes: added, startMs: 0 };
  }
  if (await tcpOpen(r.address, 1000)) throw new PortTakenError(portTakenMessage(r.address, r.port), r.port);
  if (r.uiPort !== undefined && (await tcpOpen(`${HOST}:${r.uiPort}`, 1000))) {
    throw new PortTakenError(portTakenMessage(`${HOST}:${r.uiPort}`, r.uiPort), r.uiPort);
  }

  const cli = opts.cliPath ?? (await ensureTemporalCli());
  // The real UI goes on a port browsers refuse; the operator's browser reaches it only through the front.
  const innerUiPort = r.uiPort === undefined ? undefined : await pickInnerUiPort();
  const uiCodecEndpoint =
    r.uiPort === undefined ? requestedCodec : (requestedCodec ?? `http://${HOST}:${r.uiPort}${CODEC_PATH}`);
  const args = [
    'server',
    'start-dev',
    '--ip',
    HOST,
    '--port',
    String(r.port),
    ...(innerUiPort === undefined ? ['--headless'] : ['--ui-ip', HOST, '--ui-port', String(innerUiPort)]),
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
    // Its HTTP API (on a random port) would otherwise answer any Host header: a DNS-rebinding page could use it.
    '--dynamic-config-value',
    `frontend.httpAllowedHosts=${JSON.stringify([`${HOST}:*`, 'localhost:*'])}`,
    ...LATENCY_DYNAMIC_CONFIG.flatMap(([key, value]) => ['--dynamic-config-value', `${key}=${JSON.stringify(value)}`]),
    ...searchAttributeCliArgs(),
    ...(uiCodecEndpoint ? ['--ui-codec-endpoint', uiCodecEndpoint] : []),
    ...(opts.extraArgs ?? []),
  ];

  const logFd = openSync(r.logFile, 'a', PRIVATE_FILE_MODE);
  const logStart = fstatSync(logFd).size; // this spawn's lines start here (the log is appended to across starts)
  const started = Date.now();
  let exited: string | undefined;
  let pid: number;
  try {
    // detached: its own process group, so it survives our exit and `stop` can signal the whole group.
    // umask 077: the SQLite, WAL and shm files it creates are 0600.
    const child = withPrivateUmask(() => spawn(cli, args, { detached: true, stdio: ['ignore', logFd, logFd] }));
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
    if (exited === undefined) killGroup(pid, 'SIGKILL');
    const tail = await logTail(r.logFile);
    const message =
      `Temporal dev server on ${r.address} did not become healthy${exited ? ` (${exited})` : ''}: ${(err as Error).message}` +
      `\n--- last lines of ${r.logFile} ---\n${tail}`;
    const log = exited === undefined ? '' : await logSince(r.logFile, logStart);
    if (/address already in use/.test(log)) {
      throw new AddressInUseError(message, log.includes(`${r.address}: bind: address already in use`));
    }
    throw new Error(message);
  }
  const rec: PidRecord = {
    pid,
    port: r.port,
    uiUrl,
    uiCodecEndpoint,
    dbFile: r.dbFile,
    logFile: r.logFile,
    cliVersion: TEMPORAL_CLI_VERSION,
    startedAt: new Date(started).toISOString(),
  };
  if (r.uiPort !== undefined && innerUiPort !== undefined) {
    const logFile = join(dirname(r.pidFile), `ui-front-${r.uiPort}.log`);
    try {
      const frontPid = await spawnUiFront({
        port: r.uiPort,
        innerPort: innerUiPort,
        externalCodecEndpoint: external(uiCodecEndpoint, r.uiPort),
        logFile,
      });
      rec.uiFront = { pid: frontPid, port: r.uiPort, innerUiPort, logFile };
    } catch (err) {
      killGroup(pid, 'SIGTERM');
      // Another process took the front's port after our check: the server goes (its codec endpoint names that
      // port), and the caller may start again on another port once it has.
      if (await tcpOpen(`${HOST}:${r.uiPort}`, 1000)) {
        await pollUntil(() => !pidAlive(pid), { timeoutMs: 15_000, intervalMs: 50, what: `pid ${pid} to exit` }).catch(
          () => killGroup(pid, 'SIGKILL'),
        );
        throw new PortTakenError(portTakenMessage(`${HOST}:${r.uiPort}`, r.uiPort), r.uiPort);
      }
      throw err;
    }
  }
  const startMs = Date.now() - started;
  await writePidRecord(r.pidFile, rec);
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
  const record = await readPidRecord(r.pidFile, r.port, { live: false });
  if (!record) return { stopped: false, forced: false, elapsedMs: 0, reason: `no pid file of ours: ${r.pidFile}` };
  if (!isOurServer(record.pid, r.port)) {
    // Stale file (server died, machine rebooted): the pid may now belong to an unrelated process. Never signal it.
    // A front left behind is checked the same way before it is stopped.
    if (record.uiFront) await stopUiFront(record.uiFront.pid, record.uiFront.port);
    await rm(r.pidFile, { force: true });
    return {
      stopped: false,
      pid: record.pid,
      forced: false,
      elapsedMs: 0,
      reason: 'not running (stale pid file removed)',
    };
  }
  if (record.uiFront) await stopUiFront(record.uiFront.pid, record.uiFront.port);
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
  const record = await readPidRecord(r.pidFile, r.port, { live: false });
  const running = record !== undefined && isOurServer(record.pid, r.port);
  const p = await probe(r.address);
  return {
    address: r.address,
    port: r.port,
    pid: record?.pid,
    running,
    healthy: p.healthy,
    serverVersion: p.serverVersion,
    uiUrl: record?.uiUrl,
    uiCodecEndpoint: record?.uiCodecEndpoint,
    ...(record?.uiFront
      ? { uiFront: { pid: record.uiFront.pid, running: isOurUiFront(record.uiFront.pid, record.uiFront.port) } }
      : {}),
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

/** Ours, and really a `temporal server start-dev` on this port. */
function isOurServer(pid: number, port: number): boolean {
  return isOurProcess(pid, 'start-dev', port);
}

/**
 * Our pid record for the port: the file is a regular file of ours that nobody else can write, and (unless
 * live: false) its process is our server. Undefined otherwise.
 */
async function readPidRecord(
  pidFile: string,
  port: number,
  opts: { live?: boolean } = {},
): Promise<PidRecord | undefined> {
  try {
    const st = await lstat(pidFile);
    const uid = process.getuid?.();
    if (!st.isFile() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o022) !== 0) return undefined;
    const rec = JSON.parse(await readFile(pidFile, 'utf8')) as PidRecord;
    if (rec.port !== port || !Number.isInteger(rec.pid) || rec.pid <= 1) return undefined;
    if (opts.live !== false && !isOurServer(rec.pid, port)) return undefined;
    return rec;
  } catch {
    return undefined;
  }
}

async function writePidRecord(pidFile: string, rec: PidRecord): Promise<void> {
  await writeFile(pidFile, `${JSON.stringify(rec, null, 2)}\n`, { mode: PRIVATE_FILE_MODE });
}

/** The codec endpoint when it is not our own on the front (then the front leaves the UI's settings alone). */
function external(endpoint: string | undefined, uiPort: number): string | undefined {
  return endpoint === `http://${HOST}:${uiPort}${CODEC_PATH}` ? undefined : endpoint;
}

/** What listens on the port, in words, and the ways out. */
function portTakenMessage(address: string, port: number): string {
  const who = portListener(port);
  const uid = process.getuid?.();
  let what = 'a process kubeadm2ha did not start';
  if (who?.pid !== undefined)
    what = `pid ${who.pid} (${(who.cmdline ?? []).join(' ').slice(0, 200)}), not started by kubeadm2ha`;
  else if (who && who.uid !== uid) what = `a process of another user (uid ${who.uid})`;
  return (
    `${address} is taken by ${what}. kubeadm2ha only uses a local server it started itself, since whoever runs the ` +
    `server receives every workflow and payload. Stop that process, or use another port (--port), or point at a ` +
    `server you trust with --address / TEMPORAL_ADDRESS.`
  );
}

/** What the log holds from byte offset on (one spawn's output), at most 1 MiB. */
async function logSince(logFile: string, offset: number): Promise<string> {
  try {
    const fh = await open(logFile, 'r');
    try {
      const buf = Buffer.alloc(1 << 20);
      const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
      return buf.subarray(0, bytesRead).toString('utf8');
    } finally {
      await fh.close();
    }
  } catch {
    return '';
  }
}

async function logTail(logFile: string, lines = 20): Promise<string> {
  try {
    return (await readFile(logFile, 'utf8')).split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
