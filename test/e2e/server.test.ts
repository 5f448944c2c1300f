// The Temporal plumbing itself: the per-run server from globalSetup, a second dev server's lifecycle (idempotent
// start, clean stop, durability across a restart on the same SQLite file), search attribute repair, the CLI build
// lock (with a fake `go`), and the pure helpers of connection.ts.
import { randomUUID } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureTemporalCli, TemporalCliError } from '../../src/temporal/cli-binary.js';
import { resolveTemporalOptions, workflowUiLink } from '../../src/temporal/connection.js';
import {
  devServerStatus,
  PortTakenError,
  probe,
  startDevServer,
  stopDevServer,
  type DevServerOptions,
} from '../../src/temporal/dev-server.js';
import { freePort, pidAlive, portListener } from '../../src/temporal/process-util.js';
import { searchAttributeKeys } from '../../src/temporal/search-attributes.js';
import { listeningAddresses } from '../support/listening.js';

const KEYWORD = 2; // temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD

describe('global test server', () => {
  it('answers getSystemInfo and has our search attributes', async () => {
    const address = inject('temporalAddress');
    expect(process.env.TEMPORAL_TEST_ADDRESS).toBe(address);
    const conn = await Connection.connect({ address });
    try {
      const info = await conn.workflowService.getSystemInfo({});
      expect(info.serverVersion).toBe('1.29.1');
      const sa = await conn.operatorService.listSearchAttributes({ namespace: inject('temporalNamespace') });
      for (const key of searchAttributeKeys) expect(sa.customAttributes?.[key.name]).toBe(KEYWORD);
    } finally {
      await conn.close();
    }
  });
});

describe('a second dev server on its own port and db file', () => {
  let dir: string;
  let opts: DevServerOptions;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kubeadm2ha-devserver-'));
    opts = {
      cliPath: await ensureTemporalCli(),
      port: await freePort(),
      headless: true,
      dbFile: join(dir, 'temporal.db'),
    };
  });
  afterAll(async () => {
    await stopDevServer(opts);
    await rm(dir, { recursive: true, force: true });
  });

  it('starts once, then reuses the running server', async () => {
    const first = await startDevServer(opts);
    expect(first.reused).toBe(false);
    expect(first.pid).toBeGreaterThan(0);
    const second = await startDevServer(opts);
    expect(second.reused).toBe(true);
    expect(second.pid).toBe(first.pid);
    const st = await devServerStatus(opts);
    expect(st).toMatchObject({ running: true, healthy: true, pid: first.pid, serverVersion: '1.29.1' });
  });

  it('listens on loopback only: gRPC, its internal services and the Web UI (no authentication on them)', async () => {
    const withUi: DevServerOptions = {
      ...opts,
      port: await freePort(),
      uiPort: await freePort(),
      headless: false,
      dbFile: join(dir, 'loopback.db'),
    };
    try {
      const { pid } = await startDevServer(withUi);
      expect(pid).toBeDefined();
      const addresses = listeningAddresses(pid!);
      // gRPC, the Web UI behind our front, and the server's own membership/internal ports.
      expect(addresses).toContain(`127.0.0.1:${withUi.port}`);
      expect(addresses.length).toBeGreaterThan(2);
      expect(addresses.filter((a) => !a.startsWith('127.0.0.1:'))).toEqual([]);
      // Our front (its own process) serves the UI and the codec route.
      const front = portListener(withUi.uiPort!)?.pid;
      expect(front).toBeDefined();
      expect(listeningAddresses(front!)).toEqual([`127.0.0.1:${withUi.uiPort}`]);
    } finally {
      await stopDevServer(withUi);
    }
  });

  it('keeps a running workflow across stop and restart on the same db file, leaving no process behind', async () => {
    const { address } = await startDevServer(opts);
    const workflowId = `durability/${randomUUID()}`;
    let runId: string;
    {
      const client = new Client({ connection: await Connection.connect({ address }) });
      // No worker serves this type: the workflow just stays RUNNING, which is all durability needs.
      const handle = await client.workflow.start('noWorkerServesThis', { taskQueue: `tq-${randomUUID()}`, workflowId });
      runId = handle.firstExecutionRunId;
      await client.connection.close();
    }

    const before = await devServerStatus(opts);
    const stopped = await stopDevServer(opts);
    expect(stopped).toMatchObject({ stopped: true, forced: false, pid: before.pid });
    expect(pidAlive(before.pid!)).toBe(false);
    expect((await probe(address)).healthy).toBe(false);
    expect(await devServerStatus(opts)).toMatchObject({ running: false, healthy: false, pid: undefined });

    const restarted = await startDevServer(opts);
    expect(restarted.reused).toBe(false);
    expect(restarted.pid).not.toBe(before.pid);
    const client = new Client({ connection: await Connection.connect({ address }) });
    try {
      const desc = await client.workflow.getHandle(workflowId, runId).describe();
      expect(desc.status.name).toBe('RUNNING');
    } finally {
      await client.connection.close();
    }
  });

  it('adds search attributes missing from an existing db file at start', async () => {
    const { address } = await startDevServer(opts);
    const conn = await Connection.connect({ address });
    try {
      await conn.operatorService.removeSearchAttributes({ namespace: 'default', searchAttributes: ['Operation'] });
    } finally {
      await conn.close();
    }
    // The server still runs, so this start reuses it — and must still repair the namespace.
    const info = await startDevServer(opts);
    expect(info.reused).toBe(true);
    expect(info.addedSearchAttributes).toEqual(['Operation']);
  });

  it('stop is a no-op when nothing runs', async () => {
    await stopDevServer(opts);
    expect(await stopDevServer(opts)).toMatchObject({ stopped: false });
  });
});

describe('local state and whose server is reused', () => {
  let dir: string;
  let opts: DevServerOptions;
  const others: DevServerOptions[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kubeadm2ha-devstate-'));
    opts = {
      cliPath: await ensureTemporalCli(),
      port: await freePort(),
      headless: true,
      // A state directory as older versions left it: 0755, with a world-readable log.
      dbFile: join(dir, 'state', 'temporal.db'),
    };
  });
  afterAll(async () => {
    for (const o of [opts, ...others]) await stopDevServer(o);
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps its state private: directory 0700, SQLite, log and pid files 0600, old modes fixed', async () => {
    await mkdir(join(dir, 'state'), { mode: 0o755 });
    await chmod(join(dir, 'state'), 0o755);
    await writeFile(join(dir, 'state', `dev-server-${opts.port}.log`), 'old\n', { mode: 0o644 });
    await chmod(join(dir, 'state', `dev-server-${opts.port}.log`), 0o644);
    const info = await startDevServer(opts);
    try {
      const mode = async (p: string) => (await stat(p)).mode & 0o777;
      expect(await mode(join(dir, 'state'))).toBe(0o700);
      for (const f of [info.dbFile, `${info.dbFile}-wal`, `${info.dbFile}-shm`, info.logFile, info.pidFile]) {
        expect({ f, mode: await mode(f) }).toEqual({ f, mode: 0o600 });
      }
    } finally {
      await stopDevServer(opts);
    }
  });

  it('does not reuse a healthy Temporal server it did not start on the port, and names it', async () => {
    // "Someone else's" server: the same binary on our port, but recorded elsewhere, so no pid file of ours.
    const foreign: DevServerOptions = { ...opts, dbFile: join(dir, 'foreign', 'temporal.db') };
    others.push(foreign);
    const theirs = await startDevServer(foreign);
    try {
      const err = await startDevServer(opts).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err).toBeInstanceOf(PortTakenError);
      expect(err!.message).toContain(`pid ${theirs.pid}`);
      expect(err!.message).toContain('not started by kubeadm2ha');
      expect((await devServerStatus(opts)).running).toBe(false);
    } finally {
      await stopDevServer(foreign);
    }
  });

  it('does not take a pid file whose process is not its server on that port (pid reuse) for a running server', async () => {
    const pidFile = join(dir, 'state', `dev-server-${opts.port}.json`);
    await writeFile(pidFile, JSON.stringify({ pid: process.pid, port: opts.port }), { mode: 0o600 });
    const info = await startDevServer(opts);
    expect(info.reused).toBe(false);
    expect(info.pid).not.toBe(process.pid);
    await stopDevServer(opts);
  });

  it('refuses to reuse a server started with the Web UI but without the front (older kubeadm2ha), saying how to restart', async () => {
    const info = await startDevServer(opts);
    try {
      const rec = JSON.parse(await readFile(info.pidFile, 'utf8')) as Record<string, unknown>;
      await writeFile(info.pidFile, JSON.stringify({ ...rec, uiUrl: 'http://127.0.0.1:8233' }), { mode: 0o600 });
      await expect(startDevServer(opts)).rejects.toThrow(
        /without the Web UI front; restart it: kubeadm2ha server stop/,
      );
    } finally {
      await stopDevServer(opts);
    }
  });

  it('two starters at once end up with one server, both using it', async () => {
    const [a, b] = await Promise.all([startDevServer(opts), startDevServer(opts)]);
    expect([a.reused, b.reused].sort()).toEqual([false, true]);
    expect(a.pid).toBe(b.pid);
    await stopDevServer(opts);
  });
});

describe('ensureTemporalCli', () => {
  const saved = { ...process.env };
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kubeadm2ha-cli-'));
  });
  afterEach(() => {
    process.env = { ...saved };
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('honours KUBEADM2HA_TEMPORAL_CLI and rejects a missing file', async () => {
    process.env.KUBEADM2HA_TEMPORAL_CLI = join(dir, 'nope');
    await expect(ensureTemporalCli()).rejects.toThrow(/not an executable/);
  });

  it('builds once under a lock when two callers race (fake go), atomically into the cache', async () => {
    // A fake `go`: `version` succeeds; `install` counts itself, takes a moment, and writes $GOBIN/temporal.
    const bin = join(dir, 'fakebin');
    const counter = join(dir, 'installs');
    await writeFile(counter, '');
    await rm(bin, { recursive: true, force: true });
    await mkdir(bin);
    await writeFile(
      join(bin, 'go'),
      `#!/bin/sh\n[ "$1" = version ] && { echo go version fake; exit 0; }\necho x >> ${counter}\n` +
        `echo "go: downloading github.com/temporalio/cli v1.5.1"\nsleep 1\n` +
        `printf '#!/bin/sh\\necho fake temporal\\n' > "$GOBIN/temporal" && chmod +x "$GOBIN/temporal"\n`,
    );
    await chmod(join(bin, 'go'), 0o755);
    delete process.env.KUBEADM2HA_TEMPORAL_CLI;
    process.env.KUBEADM2HA_CACHE_DIR = join(dir, 'cache');
    process.env.PATH = `${bin}:/usr/bin:/bin`;
    const lines: string[] = [];
    const log = (l: string): void => void lines.push(l);
    const [a, b] = await Promise.all([ensureTemporalCli({ log }), ensureTemporalCli({ log })]);
    expect(a).toBe(join(dir, 'cache', 'temporal-cli', '1.5.1', 'bin', 'temporal'));
    expect(b).toBe(a);
    expect((await readFile(counter, 'utf8')).trim().split('\n')).toHaveLength(1);
    expect(lines.some((l) => l.includes('building Temporal CLI'))).toBe(true);
  });

  it('says clearly that Go is needed when it is missing', async () => {
    delete process.env.KUBEADM2HA_TEMPORAL_CLI;
    process.env.KUBEADM2HA_CACHE_DIR = join(dir, 'empty-cache');
    process.env.PATH = join(dir, 'no-such-dir');
    const err = await ensureTemporalCli({ log: () => {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TemporalCliError);
    expect((err as Error).message).toMatch(/needs Go/);
  });
});

describe('connection options', () => {
  it('defaults to the local server and marks the address implicit', () => {
    const o = resolveTemporalOptions({}, {});
    expect(o).toMatchObject({ address: '127.0.0.1:7233', namespace: 'default', addressIsExplicit: false });
    expect(o.tls).toBeUndefined();
    expect(o.identity).toMatch(/.+@.+/);
  });

  it('takes flags over environment', () => {
    const o = resolveTemporalOptions(
      { namespace: 'flag-ns' },
      { TEMPORAL_ADDRESS: 'temporal.example:7233', TEMPORAL_NAMESPACE: 'env-ns', TEMPORAL_TLS: '1' },
    );
    expect(o).toMatchObject({
      address: 'temporal.example:7233',
      namespace: 'flag-ns',
      tls: true,
      addressIsExplicit: true,
    });
  });

  it('builds Web UI links with the workflow id as one encoded segment', () => {
    expect(workflowUiLink('http://127.0.0.1:8233/', 'default', 'prod/create/cp-1', 'run-1')).toBe(
      'http://127.0.0.1:8233/namespaces/default/workflows/prod%2Fcreate%2Fcp-1/run-1/history',
    );
  });
});
