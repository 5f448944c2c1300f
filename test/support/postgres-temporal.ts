// The production topology without Docker: Debian's PostgreSQL as a private cluster (initdb into a temp dir, its
// own port on 127.0.0.1 and a unix socket in that dir; never the system cluster), Temporal's schema set up by
// temporal-sql-tool, and the stock Temporal server (scripts/build-temporal-server.sh, from the Go module proxy) on
// it with the `default` namespace and our search attributes. What docker-compose.yml runs, as processes.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createServer } from 'node:net';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import { ensureSearchAttributes } from '../../src/temporal/register-search-attributes.js';
import { freePort } from '../../src/temporal/process-util.js';
import { LATENCY_DYNAMIC_CONFIG } from '../../src/temporal/server-tuning.js';
import { pollUntil } from './poll.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
/** Debian 12's PostgreSQL (apt package postgresql). */
const PG_BIN = '/usr/lib/postgresql/15/bin';
/** initdb and postgres refuse to run as root; the Debian package's own user runs our private cluster. */
const PG_USER = 'postgres';

export interface PostgresTemporal {
  /** host:port of the Temporal frontend. */
  address: string;
  pgPort: number;
  dir: string;
  /** Wall milliseconds of each stage, for the bench. */
  timings: { postgresMs: number; schemaMs: number; temporalMs: number };
  stop(): Promise<void>;
}

/** The Temporal server and SQL tool binaries, built once per version into the cache. */
export async function temporalServerBin(): Promise<string> {
  const { stdout } = await run('bash', [join(root, 'scripts', 'build-temporal-server.sh')], {
    maxBuffer: 16 << 20,
  });
  return stdout.trim();
}

function serverConfig(pgPort: number, password: string, ports: number[]): string {
  const [frontend, http, fm, history, hm, matching, mm, worker, wm] = ports;
  const store = (db: string, conns: number) => `
      sql:
        pluginName: postgres12
        databaseName: ${db}
        connectAddr: "127.0.0.1:${pgPort}"
        connectProtocol: tcp
        user: temporal
        password: "${password}"
        maxConns: ${conns}
        maxIdleConns: ${conns}
        maxConnLifetime: 1h`;
  const svc = (grpc: number, membership: number, extra = '') => `
    rpc:
      grpcPort: ${grpc}
      membershipPort: ${membership}
      bindOnLocalHost: true${extra}`;
  return `log:
  stdout: true
  level: warn
persistence:
  defaultStore: default
  visibilityStore: visibility
  numHistoryShards: 4
  datastores:
    default:${store('temporal', 20)}
    visibility:${store('temporal_visibility', 4)}
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
services:
  frontend:${svc(frontend!, fm!, `\n      httpPort: ${http}`)}
  history:${svc(history!, hm!)}
  matching:${svc(matching!, mm!)}
  worker:${svc(worker!, wm!)}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: 127.0.0.1:${frontend}
dcRedirectionPolicy:
  policy: noop
dynamicConfigClient:
  filepath: ${'dynamicconfig.yaml'}
  pollInterval: 10s
`;
}

/** We run offline: no version checks; ids as long as the dev server's; Temporal's per-step waits as the dev server
 * has them (LATENCY_DYNAMIC_CONFIG: the transfer queue's poll rate, eager activities). */
const DYNAMIC_CONFIG = `frontend.enableServerVersionCheck:
  - value: false
limit.maxIDLength:
  - value: 255
system.forceSearchAttributesCacheRefreshOnRead:
  - value: true
${LATENCY_DYNAMIC_CONFIG
  .map(([key, value]) => `${key}:\n  - value: ${JSON.stringify(value)}\n`)
  .join('')}`;

/**
 * A free port below 32768: the server records its membership ports in a PostgreSQL smallint column (found the hard
 * way: `pq: value "40251" is out of range for type smallint`), so kernel-chosen ephemeral ports do not fit.
 */
async function lowFreePort(taken: number[]): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (taken.includes(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port below 32768 on 127.0.0.1');
}

async function startPostgres(dir: string, port: number, password: string): Promise<void> {
  const data = join(dir, 'pg');
  const pwfile = join(dir, 'pg.pw');
  await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
  await chown(pwfile, ...(await pgIds()));
  const as = (cmd: string, args: string[]) =>
    run('runuser', ['-u', PG_USER, '--', join(PG_BIN, cmd), ...args], { maxBuffer: 16 << 20 });
  // Password auth even on loopback: the server connects as it would to a real database.
  await as('initdb', ['-D', data, '-U', 'temporal', '--pwfile', pwfile, '-A', 'scram-sha-256', '-E', 'UTF8']);
  await rm(pwfile);
  await as('pg_ctl', [
    '-D',
    data,
    '-l',
    join(dir, 'pg.log'),
    '-w',
    '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=200`,
    'start',
  ]);
}

async function pgIds(): Promise<[number, number]> {
  const { stdout } = await run('id', ['-u', PG_USER]);
  const { stdout: g } = await run('id', ['-g', PG_USER]);
  return [Number(stdout), Number(g)];
}

async function setupSchema(bin: string, pgPort: number, password: string): Promise<void> {
  const base = ['--plugin', 'postgres12', '--ep', '127.0.0.1', '-p', String(pgPort), '-u', 'temporal'];
  const env = { ...process.env, SQL_PASSWORD: password };
  for (const [db, schema] of [
    ['temporal', 'postgresql/v12/temporal'],
    ['temporal_visibility', 'postgresql/v12/visibility'],
  ] as const) {
    const tool = (args: string[]) =>
      run(join(bin, 'temporal-sql-tool'), [...base, '--db', db, ...args], { env, maxBuffer: 16 << 20 });
    await tool(['create']);
    await tool(['setup-schema', '-v', '0.0']);
    await tool(['update-schema', '--schema-name', schema]);
  }
}

/** PostgreSQL, schema, Temporal server, namespace and search attributes; `stop()` undoes all of it. */
export async function startPostgresTemporal(): Promise<PostgresTemporal> {
  const bin = await temporalServerBin();
  const dir = await mkdtemp(join(tmpdir(), 'k2h-pg-temporal.'));
  await chown(dir, ...(await pgIds()));
  const password = randomBytes(18).toString('base64url');
  const pgPort = await freePort();
  let server: ChildProcess | undefined;
  let pgStarted = false;
  const stop = async () => {
    if (server && server.exitCode === null && server.signalCode === null) {
      const exited = new Promise((r) => server!.once('exit', r));
      server.kill('SIGTERM');
      await exited;
    }
    if (pgStarted)
      await run('runuser', ['-u', PG_USER, '--', join(PG_BIN, 'pg_ctl'), '-D', join(dir, 'pg'), '-m', 'fast', 'stop']);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    let t = performance.now();
    await startPostgres(dir, pgPort, password);
    pgStarted = true;
    const postgresMs = performance.now() - t;
    t = performance.now();
    await setupSchema(bin, pgPort, password);
    const schemaMs = performance.now() - t;
    t = performance.now();
    const ports: number[] = [];
    for (let i = 0; i < 9; i++) ports.push(await lowFreePort(ports));
    const root = join(dir, 'temporal');
    await mkdir(join(root, 'config'), { recursive: true });
    await writeFile(join(root, 'config', 'development.yaml'), serverConfig(pgPort, password, ports), { mode: 0o600 });
    await writeFile(join(root, 'dynamicconfig.yaml'), DYNAMIC_CONFIG);
    const address = `127.0.0.1:${ports[0]}`;
    const logFile = join(dir, 'temporal.log');
    const log = await open(logFile, 'a');
    server = spawn(join(bin, 'temporal-server'), ['--root', root, '--env', 'development', '--allow-no-auth', 'start'], {
      cwd: root,
      stdio: ['ignore', log.fd, log.fd],
    });
    await log.close();
    const up = await pollUntil(
      async () => {
        if (server!.exitCode !== null) return { exited: server!.exitCode };
        const c = await Connection.connect({ address, connectTimeout: 2000 });
        await c.workflowService.getSystemInfo({});
        return { connection: c };
      },
      `Temporal server on PostgreSQL at ${address}`,
      120_000,
      250,
    );
    if (!up.connection) {
      const tail = (await readFile(logFile, 'utf8')).split('\n').slice(-15).join('\n');
      throw new Error(`temporal-server exited with ${up.exited}:\n${tail}`);
    }
    const connection = up.connection;
    try {
      // The stock server creates no namespace (start-dev does); retention as the dev server's default.
      await connection.workflowService.registerNamespace({
        namespace: 'default',
        workflowExecutionRetentionPeriod: msToTs('3 days'),
      });
      await pollUntil(
        () => ensureSearchAttributes(connection, 'default').then(() => true),
        'search attributes in namespace default',
        60_000,
        250,
      );
    } finally {
      await connection.close();
    }
    return {
      address,
      pgPort,
      dir,
      timings: { postgresMs, schemaMs, temporalMs: performance.now() - t },
      stop,
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}
