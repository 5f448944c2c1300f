// Dev server starts when ports race: a port free when picked is taken by another process before the server binds it
// (several test files and helpers start servers at once). The real CLI exits with "address already in use" then:
// code 1 for its frontend or HTTP port, code 2 (a nil-listener panic) for its history/matching/worker ports, which it
// picks itself. Reproduced by hand against CLI 1.5.1 (strace holding each start back while a listener took the
// port); the stand-in CLI below replays those exits, then runs the real binary.
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { quote } from '../../src/ssh/quote.js';
import { ensureTemporalCli } from '../../src/temporal/cli-binary.js';
import {
  PortTakenError,
  probe,
  startDevServer,
  stopDevServer,
  type DevServerOptions,
  type DevServerStartOptions,
} from '../../src/temporal/dev-server.js';
import { freePort } from '../../src/temporal/process-util.js';
import { HEALTH_PATH } from '../../src/temporal/ui-front.js';

let dir: string;
let cliPath: string;
const started: DevServerOptions[] = [];
const held: Server[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubeadm2ha-devserver-ports-'));
  cliPath = await ensureTemporalCli();
});
afterEach(async () => {
  for (const o of started.splice(0)) await stopDevServer(o);
  for (const s of held.splice(0)) await new Promise((r) => s.close(r));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A listener of ours on a free port, as another process would hold it. */
async function holdPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  held.push(srv);
  return (srv.address() as { port: number }).port;
}

function options(name: string, o: Partial<DevServerStartOptions> = {}): DevServerStartOptions {
  return { cliPath, headless: true, dbFile: join(dir, name, 'temporal.db'), logLevel: 'error', ...o };
}

async function start(o: DevServerStartOptions) {
  const info = await startDevServer(o);
  const { uiPort: _ui, ...rest } = o;
  started.push({ ...rest, port: info.port });
  return info;
}

/**
 * A stand-in CLI: its first `exits` runs print what the real CLI logs when a port is taken under it and exit with
 * that code; later runs are the real binary (exec, so the process is a real start-dev of ours). Counts its runs.
 */
async function standInCli(
  name: string,
  exits: { code: number; log: (port: string) => string }[],
): Promise<{
  path: string;
  runs: () => Promise<number>;
}> {
  const path = join(dir, `${name}.sh`);
  const counter = join(dir, `${name}.runs`);
  const cases: string[] = [];
  for (const [i, e] of exits.entries()) {
    const log = join(dir, `${name}.${i + 1}.log`);
    await writeFile(log, `${e.log('@PORT@')}\n`);
    cases.push(`  ${i + 1}) sed "s/@PORT@/$port/g" ${quote(log)}; exit ${e.code} ;;`);
  }
  await writeFile(
    path,
    '#!/bin/sh\n' +
      `echo x >> ${quote(counter)}\n` +
      `n=$(wc -l < ${quote(counter)})\n` +
      'port=; prev=; for a in "$@"; do [ "$prev" = --port ] && port=$a; prev=$a; done\n' +
      `case $n in\n${cases.join('\n')}\nesac\n` +
      `exec ${quote(cliPath)} "$@"\n`,
  );
  await chmod(path, 0o700);
  return {
    path,
    runs: async () => (await readFile(counter, 'utf8').catch(() => '')).split('\n').filter(Boolean).length,
  };
}

// What CLI 1.5.1 logged in those reproductions (the ports vary).
const HISTORY_PORT_TAKEN = (port: string) =>
  `time=2026-12-03T11:07:29.683 level=ERROR msg="Failed to start gRPC listener" error="listen tcp 127.0.0.1:39833: bind: address already in use" service=history address=127.0.0.1:39833 (frontend ${port})\n` +
  'panic: runtime error: invalid memory address or nil pointer dereference';
const FRONTEND_PORT_TAKEN = (port: string) =>
  `time=2026-12-03T10:53:21.977 level=ERROR msg="can't set frontend port ${port}: listen tcp 127.0.0.1:${port}: bind: address already in use"`;

describe('dev server start when its ports race with other processes', () => {
  it("port 'free': a first pick that another process holds is dropped for a new one, and the server comes up", async () => {
    const taken = await holdPort();
    const picks: number[] = [];
    const info = await start(
      options('free-taken', {
        port: 'free',
        pickPort: async () => {
          const p = picks.length === 0 ? taken : await freePort();
          picks.push(p);
          return p;
        },
      }),
    );
    expect(picks).toHaveLength(2);
    expect(info.port).toBe(picks[1]);
    expect(info.reused).toBe(false);
    expect((await probe(info.address)).healthy).toBe(true);
  });

  it('a fixed port that another process holds is still a PortTakenError naming it, with no second port tried', async () => {
    const taken = await holdPort();
    const err = await startDevServer(options('fixed-taken', { port: taken })).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(PortTakenError);
    expect(err!.message).toContain(`127.0.0.1:${taken} is taken by pid ${process.pid}`);
    expect((err as PortTakenError).port).toBe(taken);
  });

  it('stand-in CLI: an exit 2 over an internal port taken after our checks is started again on the same fixed port', async () => {
    const cli = await standInCli('internal-fixed', [{ code: 2, log: HISTORY_PORT_TAKEN }]);
    const port = await freePort();
    const info = await start(options('internal-fixed', { port, cliPath: cli.path }));
    expect(info.port).toBe(port);
    expect(await cli.runs()).toBe(2);
    expect((await probe(info.address)).healthy).toBe(true);
  });

  it("stand-in CLI: port 'free' taken between our check and the server's bind moves to a new port", async () => {
    const cli = await standInCli('frontend-free', [{ code: 1, log: FRONTEND_PORT_TAKEN }]);
    const picks: number[] = [];
    const info = await start(
      options('frontend-free', {
        port: 'free',
        cliPath: cli.path,
        pickPort: async () => {
          picks.push(await freePort());
          return picks.at(-1)!;
        },
      }),
    );
    expect(await cli.runs()).toBe(2);
    expect(picks).toHaveLength(2);
    expect(info.port).toBe(picks[1]);
  });

  it('stand-in CLI: a fixed port taken between our check and the bind is a PortTakenError, not retried', async () => {
    const cli = await standInCli('frontend-fixed', [{ code: 1, log: FRONTEND_PORT_TAKEN }]);
    const port = await freePort();
    const err = await startDevServer(options('frontend-fixed', { port, cliPath: cli.path })).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(PortTakenError);
    expect(err!.message).toContain(`127.0.0.1:${port} is taken by`);
    expect(await cli.runs()).toBe(1);
  });

  it('stand-in CLI: gives up after a bounded number of address-in-use exits, with the log', async () => {
    const exits = Array.from({ length: 10 }, () => ({ code: 2, log: HISTORY_PORT_TAKEN }));
    const cli = await standInCli('always', exits);
    const err = await startDevServer(options('always', { port: 'free', cliPath: cli.path })).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(
      /did not become healthy \(exited with code 2\)[\s\S]*address in use on each of 4 attempts/,
    );
    expect(await cli.runs()).toBe(4);
  });

  it('the Web UI port not given: its default, held by another process, gives way to a free one, whose link is the one returned and answers', async () => {
    const taken = await holdPort();
    const picks: number[] = [];
    const info = await start(
      options('ui-default-taken', {
        headless: false,
        defaultUiPort: taken,
        pickUiPort: async () => {
          picks.push(await freePort());
          return picks.at(-1)!;
        },
      }),
    );
    expect(picks).toHaveLength(1);
    expect(info.uiUrl).toBe(`http://127.0.0.1:${picks[0]}`);
    // The front answers there (its health path), the server behind it is healthy, and the holder kept its port.
    expect((await fetch(`${info.uiUrl}${HEALTH_PATH}`)).ok).toBe(true);
    expect((await probe(info.address)).healthy).toBe(true);
    expect((held[0]!.address() as { port: number }).port).toBe(taken);
  });

  it('a Web UI port given as a number that another process holds is a PortTakenError naming it, no server started', async () => {
    const taken = await holdPort();
    const err = await startDevServer(options('ui-fixed-taken', { headless: false, uiPort: taken })).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(PortTakenError);
    expect(err!.message).toContain(`127.0.0.1:${taken} is taken by pid ${process.pid}`);
    expect((err as PortTakenError).port).toBe(taken);
  });
});
