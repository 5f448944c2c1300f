// vitest globalSetup for the `integration` project: one real Temporal dev server per test run, on a free port,
// headless, with a throw-away but *persistent* SQLite file (so durability behaves as in production), and our
// search attributes. Test files read the address with `inject('temporalAddress')` (or
// process.env.TEMPORAL_TEST_ADDRESS, which forked workers inherit).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { ensureTemporalCli } from '../../src/temporal/cli-binary.js';
import { startDevServer, stopDevServer, type DevServerOptions } from '../../src/temporal/dev-server.js';

let server: DevServerOptions | undefined;
let dir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  const cliPath = await ensureTemporalCli();
  dir = await mkdtemp(join(tmpdir(), 'kubeadm2ha-temporal-'));
  // port 'free': another file's server or listener can take a freshly picked port first; the start then picks again.
  const opts = { cliPath, headless: true, dbFile: join(dir, 'temporal.db'), logLevel: 'error' } as const;
  const info = await startDevServer({ ...opts, port: 'free' });
  server = { ...opts, port: info.port };
  project.provide('temporalAddress', info.address);
  project.provide('temporalNamespace', 'default');
  process.env.TEMPORAL_TEST_ADDRESS = info.address;
  process.stderr.write(`[temporal] dev server ${info.address} healthy in ${info.startMs} ms (log ${info.logFile})\n`);
}

export async function teardown(): Promise<void> {
  if (server) {
    const res = await stopDevServer(server);
    if (res.forced) process.stderr.write(`[temporal] dev server needed SIGKILL after ${res.elapsedMs} ms\n`);
  }
  // Keep the db and log when asked to, for post-mortems of a failing run.
  if (dir && !process.env.KUBEADM2HA_KEEP_TEST_SERVER) await rm(dir, { recursive: true, force: true });
}
