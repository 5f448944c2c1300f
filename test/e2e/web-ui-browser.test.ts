// The operator's view of a run that waits for them, in Debian's headless chromium: the real CLI runs `etcd setup`
// against an etcd host that does not answer (an unused address in a real lab's /24), with its embedded worker and
// the default --on-failure decide, on a dev server started the way the CLI starts one (UI front + codec). The run
// parks at a decision; its page, opened through a one-time login link, must show the run's summary, phase, host and
// how to send retry/abort (CLI command and Web UI signal) — decoded, since every payload is encrypted.
//
// Where the Temporal UI 2.42.1 (the Temporal CLI 1.5.1's embedded UI) shows these: not on the run's default History
// tab, whose header has no summary line, but on its "User Metadata" tab (…/<runId>/user-metadata): "Summary" and
// "Details" (the start's static summary/details) on the left, "Current Details" (the `__temporal_workflow_metadata`
// query, i.e. what the workflow last passed to setCurrentDetails) on the right, queried when the tab opens and again
// on the "R" key. Each is Markdown rendered by the UI server at /render?content=… into an <iframe>, so the text is
// in the iframes' documents, not the page's (chromium.ts's read() takes both). The tab loads fine through our front:
// an earlier attempt appended /user-metadata to workflowUiLink's …/history path (a 404) and read only the top
// document (no details).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, type Lab } from '../../lab/index.js';
import { writeLabInventory } from '../../lab/inventory.js';
import { keyringPath, loadKeyring } from '../../src/codec/keyring.js';
import { loadUiSecret, loginLink } from '../../src/codec/ui-session.js';
import type { Progress } from '../../src/plan/types.js';
import { ensureTemporalCli } from '../../src/temporal/cli-binary.js';
import { dataConverter } from '../../src/temporal/data-converter.js';
import {
  startDevServer,
  stopDevServer,
  type DevServerInfo,
  type DevServerOptions,
} from '../../src/temporal/dev-server.js';
import { freePort } from '../../src/temporal/process-util.js';
import { progressQuery } from '../../src/workflows/messages.js';
import { openBrowser, type LiveBrowser } from '../support/chromium.js';
import { pollUntil } from '../support/poll.js';
import { bin, cli } from './cli-process.js';
import { uniqueQueue } from './helpers.js';

const ENV_KEYS = [
  'KUBEADM2HA_STATE_DIR',
  'KUBEADM2HA_CONFIG_DIR',
  'KUBEADM2HA_CODEC_KEYRING',
  'KUBEADM2HA_UI_CODEC_ENDPOINT',
];

let dir: string;
let savedEnv: Record<string, string | undefined>;
let opts: DevServerOptions | undefined;
let info: DevServerInfo;
let secret: Buffer;
let lab: Lab | undefined;
let inventory: string;
let cluster: string;
let run: ChildProcess | undefined;
let runErr = '';
let browser: LiveBrowser | undefined;
let connection: Connection | undefined;

/** What the CLI child sees: this test's state and config (keyring, UI secret) and source mode. */
const cliEnv = (): Record<string, string> => ({
  KUBEADM2HA_STATE_DIR: join(dir, 'state'),
  KUBEADM2HA_CONFIG_DIR: join(dir, 'config'),
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubeadm2ha-webui-browser-'));
  savedEnv = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
  for (const k of ENV_KEYS) delete process.env[k];
  // The front is spawned by startDevServer and inherits these: it decodes with this keyring, checks this secret.
  Object.assign(process.env, cliEnv());
  await loadKeyring(keyringPath(), { create: true });
  secret = await loadUiSecret();
  opts = {
    cliPath: await ensureTemporalCli(),
    port: await freePort(),
    uiPort: await freePort(),
    dbFile: join(dir, 'state', 'temporal.db'),
    logLevel: 'error',
  };
  info = await startDevServer(opts);

  lab = await createLab({ hosts: 1 });
  const inv = lab.inventory();
  cluster = inv.cluster.name;
  const gone = lab.bridgeAddress.replace(/\.\d+$/, '.250'); // in the lab's /24, no host behind it
  inventory = await writeLabInventory(join(lab.dir, 'gone.yaml'), {
    ...inv,
    ssh: { ...inv.ssh, connectTimeoutSeconds: 2 },
    hosts: [{ name: 'gone', address: gone, roles: ['primary-master', 'etcd'] }],
  });
});

afterAll(async () => {
  browser?.close();
  if (run && run.exitCode === null && run.signalCode === null) {
    const gone = new Promise((r) => run!.once('exit', r));
    run.kill('SIGKILL');
    await gone;
  }
  await connection?.close();
  await lab?.destroy();
  if (opts) await stopDevServer(opts);
  for (const [k, v] of Object.entries(savedEnv ?? {})) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  if (dir && !process.env.KUBEADM2HA_KEEP_TEST_SERVER) await rm(dir, { recursive: true, force: true });
});

describe('a run parked at a decision, in the Web UI', () => {
  it(
    "shows the run's summary, phase, host and how to send retry/abort on its page; `runs` lists it as waiting",
    { timeout: 420_000 },
    async () => {
      const t0 = Date.now();
      const taskQueue = uniqueQueue('webui-browser');
      run = spawn(
        process.execPath,
        [
          bin,
          'etcd',
          'setup',
          '-i',
          inventory,
          '--address',
          info.address,
          '--worker',
          'embedded',
          '--task-queue',
          taskQueue,
        ],
        {
          env: { ...process.env, ...cliEnv(), KUBEADM2HA_FROM_SOURCE: '1', KUBEADM2HA_LOG_LEVEL: 'WARN' },
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      run.stderr!.on('data', (c: Buffer) => (runErr += c.toString('utf8')));
      await pollUntil(
        () => {
          if (run!.exitCode !== null) throw new Error(`the CLI exited (${run!.exitCode}):\n${runErr}`);
          return /^WAITING /m.test(runErr);
        },
        'the CLI to say the run waits for a decision',
        240_000,
        250,
      ).catch((err: Error) => {
        throw new Error(`${err.message}\nCLI stderr:\n${runErr}`);
      });
      const parkedMs = Date.now() - t0;
      const workflowId = /: workflow (\S+)$/m.exec(runErr)?.[1];
      expect(workflowId, runErr).toBeDefined();

      // What waits, from the workflow itself: the page must show exactly this gate.
      connection = await Connection.connect({ address: info.address });
      const client = new Client({ connection, dataConverter: dataConverter() });
      const handle = client.workflow.getHandle(workflowId!);
      const desc = await handle.describe();
      const { runId } = desc;
      // What the CLI started it with (encrypted in history; the page shows it decoded).
      expect(await desc.staticSummary()).toBe(`etcd setup of ${cluster}`);
      const progress: Progress = await handle.query(progressQuery);
      const [waiting] = progress.waiting ?? [];
      expect(waiting?.kind).toBe('decide');
      if (waiting?.kind !== 'decide') return;
      const actions = ['retry', ...(waiting.maySkip ? ['skip'] : []), 'abort'].join('|');
      // The CA check is a cluster-wide step: it waits under the host name `cluster`, which `decide --host` takes.
      expect(waiting.host).toBe('cluster');
      const expected = {
        summary: `etcd setup of ${cluster}`,
        details: 'hosts (1): gone',
        phase: `of cluster ${cluster}: phase ${progress.phase}`,
        // The cluster-wide step counted as the cluster's, not as a host: `gone` is the one host, not through yet.
        hosts: 'hosts done: 0/1',
        clusterStep: 'cluster step failed:',
        host: `Waiting for a decision: cluster-wide step ${waiting.step}`,
        step: `cluster-wide step: ${waiting.step}`,
        // The cluster-wide CA check decides for the cluster; the host it could not read is in its error.
        error: `error: gone: unreachable`,
        cli: `kubeadm2ha decide ${cluster} ${actions} --host ${waiting.host} [--reason "…"]`,
        signal: `Send Signal decide with {"action":"retry","host":"${waiting.host}","reason":"…"}`,
      };

      browser = await openBrowser({ profile: join(dir, 'profile') });
      const path = `/namespaces/default/workflows/${encodeURIComponent(workflowId!)}/${runId}/user-metadata`;
      const b0 = Date.now();
      await browser.navigate(loginLink(info.uiUrl!, secret, path));
      let page = { href: '', text: '' };
      const missing = (): string[] =>
        Object.entries(expected)
          .filter(([, t]) => !page.text.includes(t))
          .map(([k]) => k);
      let reads = 0;
      await pollUntil(
        async () => {
          page = await browser!.read();
          if (missing().length === 0) return true;
          // The tab queries the current details once as it opens; "R" asks again (as a person would), in case the
          // answer came from before the gate (it cannot under the CLI's WAITING line, but a stale page stays stale).
          // Under heavy load the worker's answer to the UI's metadata query can come too late for the page, which
          // then shows an empty Current Details box for good: every 30 reads (~15 s) load the page again.
          if (++reads % 30 === 0) await browser!.navigate(loginLink(info.uiUrl!, secret, path));
          else if (reads % 10 === 0)
            await browser!.evaluate(
              `document.body.dispatchEvent(new KeyboardEvent('keydown', { key: 'r', bubbles: true }))`,
            );
          return false;
        },
        'the run page to show the summary and the decision',
        150_000,
        500,
      ).catch((err: Error) => {
        throw new Error(`${err.message}\nmissing: ${missing().join(', ')}\n${page.href}\n${page.text}`);
      });
      // Where they are: the summary in the first Markdown iframe, the decision in the current details' iframe.
      const frames = page.text.split(/^\[iframe (?=\/render\?)/m).slice(1);
      expect(frames[0]).toMatch(new RegExp(`^\\S*overrideTheme=primary\\]\\n${expected.summary}\\n`));
      const current = frames.find((f) => /^\S*overrideTheme=background\]/.test(f)) ?? '';
      for (const k of ['phase', 'hosts', 'clusterStep', 'host', 'step', 'error', 'cli', 'signal'] as const)
        expect(current).toContain(expected[k]);
      const pageMs = Date.now() - b0;
      expect(new URL(page.href).pathname).toBe(path); // logged in and sent on, not stopped at the login
      // For a person to look at (KUBEADM2HA_KEEP_TEST_SERVER=1 keeps the temp dir): the page and what was read.
      const png = join(dir, 'parked-run.png');
      await browser.screenshot(png);
      await writeFile(join(dir, 'parked-run.txt'), page.text);
      expect((await stat(png)).size).toBeGreaterThan(10_000);

      // The CLI's list of runs names it, waiting at the same host.
      const listed = await cli(['runs', '--cluster', cluster, '--address', info.address, '--json'], 120_000, cliEnv());
      expect(listed.code, listed.stderr).toBe(0);
      const rows = JSON.parse(listed.stdout) as { workflowId: string; status: string; waitingAt?: string }[];
      const row = rows.find((r) => r.workflowId === workflowId);
      expect(row?.status).toBe('RUNNING');
      expect(row?.waitingAt).toContain(waiting.host);

      process.stderr.write(
        `[web-ui-browser] parked in ${parkedMs} ms; page with its decision in ${pageMs} ms (headless chromium); ` +
          `runs listed in ${Math.round(listed.ms)} ms; screenshot ${png}\n`,
      );
      await handle.terminate('web-ui browser test done');
    },
  );
});
