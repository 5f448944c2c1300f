// The local Web UI as an operator meets it, in Debian's headless chromium: the dev server started the way the CLI
// starts it (front, codec and real UI wired), a workflow whose encrypted input names a cluster, and the run's page
// opened through the one-time login link — the cluster name must be on the page, decoded. Around it, what
// everybody else gets: no session → 401 and ciphertext, a foreign Host → 421, no /encode, the real UI's port refused
// by the browser, a conflicting codec endpoint refused with the way out, and `server stop` taking the front along.
// Temporary HOME-like dirs (KUBEADM2HA_STATE_DIR / KUBEADM2HA_CONFIG_DIR) and free ports only.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CODEC_PATH, toJson } from '../../src/codec/codec-server.js';
import { EncryptionCodec } from '../../src/codec/encryption-codec.js';
import { FileKeySource } from '../../src/codec/file-key-source.js';
import { keyringPath, loadKeyring } from '../../src/codec/keyring.js';
import { loadUiSecret, loginLink } from '../../src/codec/ui-session.js';
import { ensureTemporalCli } from '../../src/temporal/cli-binary.js';
import { workflowUiLink } from '../../src/temporal/connection.js';
import { dataConverter } from '../../src/temporal/data-converter.js';
import {
  devServerStatus,
  startDevServer,
  stopDevServer,
  UiCodecConflictError,
  type DevServerInfo,
  type DevServerOptions,
} from '../../src/temporal/dev-server.js';
import { freePort, pidAlive } from '../../src/temporal/process-util.js';
import { defaultPayloadConverter } from '@temporalio/common';
import { loadPage, openBrowser, type LiveBrowser } from '../support/chromium.js';
import { pollUntil } from '../support/poll.js';

const here = dirname(fileURLToPath(import.meta.url));
const execFileP = promisify(execFile);
const ENV_KEYS = [
  'KUBEADM2HA_STATE_DIR',
  'KUBEADM2HA_CONFIG_DIR',
  'KUBEADM2HA_CODEC_KEYRING',
  'KUBEADM2HA_UI_CODEC_ENDPOINT',
];

let dir: string;
let savedEnv: Record<string, string | undefined>;
let opts: DevServerOptions;
let info: DevServerInfo;
let startedIn: number;
let secret: Buffer;
let pagePath: string;
const cluster = `webui-${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubeadm2ha-webui-'));
  savedEnv = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
  for (const k of ENV_KEYS) delete process.env[k];
  // The front is spawned by startDevServer and inherits these: it reads this keyring and this secret.
  process.env.KUBEADM2HA_STATE_DIR = join(dir, 'state');
  process.env.KUBEADM2HA_CONFIG_DIR = join(dir, 'config');
  await loadKeyring(keyringPath(), { create: true });
  secret = await loadUiSecret();

  opts = {
    cliPath: await ensureTemporalCli(),
    port: await freePort(),
    uiPort: await freePort(),
    dbFile: join(dir, 'state', 'temporal.db'),
    logLevel: 'error',
  };
  const t0 = Date.now();
  info = await startDevServer(opts);
  startedIn = Date.now() - t0;

  // A run whose input and result name the cluster; the workflow id does not, so only decoding can show it.
  const workflowId = `web-ui-${randomBytes(4).toString('hex')}`;
  const taskQueue = `${workflowId}-q`;
  const bundle = await bundleWorkflowCode({
    workflowsPath: join(here, 'fixtures', 'echo-cluster.ts'),
    logger: new DefaultLogger('WARN'),
  });
  const converter = dataConverter();
  const native = await NativeConnection.connect({ address: info.address });
  const connection = await Connection.connect({ address: info.address });
  try {
    const worker = await Worker.create({
      connection: native,
      taskQueue,
      workflowBundle: bundle,
      dataConverter: converter,
    });
    const client = new Client({ connection, dataConverter: converter });
    const handle = await worker.runUntil(
      client.workflow
        .start('echoCluster', { taskQueue, workflowId, args: [{ cluster: { name: cluster } }] })
        .then(async (h) => (await h.result(), h)),
    );
    const runId = handle.firstExecutionRunId;
    pagePath = new URL(workflowUiLink(info.uiUrl!, 'default', workflowId, runId)).pathname;
  } finally {
    await connection.close();
    await native.close();
  }
});

afterAll(async () => {
  if (opts) await stopDevServer(opts);
  for (const [k, v] of Object.entries(savedEnv ?? {})) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  if (dir && !process.env.KUBEADM2HA_KEEP_TEST_SERVER) await rm(dir, { recursive: true, force: true });
});

/** One raw request to the front, with the Host header we choose. */
function raw(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; body: string }> {
  const port = new URL(info.uiUrl!).port;
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function innerUiPort(): Promise<number> {
  const rec = JSON.parse(await readFile(info.pidFile, 'utf8')) as { uiFront: { innerUiPort: number } };
  return rec.uiFront.innerUiPort;
}

/** Opens `url` in a fresh headless chromium (profile dir under the test's dir), reads the page (and its iframes)
 * until every one of `texts` shows, runs `then` on the open page, and returns the text read. */
async function pageShowing(
  url: string,
  profile: string,
  texts: string[],
  then?: (b: LiveBrowser) => Promise<void>,
): Promise<string> {
  const b = await openBrowser({ profile: join(dir, profile) });
  try {
    await b.navigate(url);
    let text = '';
    await pollUntil(
      async () => ((text = (await b.read()).text), texts.every((t) => text.includes(t))),
      `the page to show ${texts.join(', ')}`,
      90_000,
      500,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${text}`);
    });
    await then?.(b);
    return text;
  } finally {
    b.close();
  }
}

describe('the local Web UI in a browser', () => {
  it('shows the decoded cluster name on the run page opened through the login link; without it, only ciphertext', async () => {
    process.stderr.write(`[web-ui] dev server + UI front + codec up in ${startedIn} ms\n`);
    // In real time (openBrowser), read until the page shows it: loadPage's virtual-time budget sometimes dumped the
    // DOM before the UI's modules had rendered anything (1 of 3 runs under load: only the boot script).
    const t0 = Date.now();
    const seen = await pageShowing(loginLink(info.uiUrl!, secret, pagePath), 'profile', [cluster], async (b) => {
      // The same page as a person sees it, decoded (no second login link needed).
      const png = join(dir, 'run-page.png');
      await b.screenshot(png);
      expect((await stat(png)).size).toBeGreaterThan(10_000);
      if (process.env.KUBEADM2HA_WEBUI_SCREENSHOT) await copyFile(png, process.env.KUBEADM2HA_WEBUI_SCREENSHOT);
    });
    process.stderr.write(`[web-ui] login link to a decoded run page: ${Date.now() - t0} ms in headless chromium\n`);
    expect(seen).toContain(cluster);

    // Another browser profile that never logged in: same page, the payloads stay encrypted. Read once the page has
    // rendered (it shows the workflow id) and the UI has given up decoding: it shows the front's hint (the UI's own
    // "Codec Server could not connect" title is in the DOM but not visible) and the ciphertext.
    const stranger = await pageShowing(`${info.uiUrl}${pagePath}`, 'stranger', [
      pagePath.split('/')[4]!,
      'this browser has no codec session for this address',
      '"encryption-cipher"',
    ]);
    expect(stranger).not.toContain(cluster);
  });

  it('the real Temporal UI behind the front is on a port the browser refuses (no way around the Host check)', async () => {
    const port = await innerUiPort();
    const page = await loadPage(`http://127.0.0.1:${port}/api/v1/settings`, { profile: join(dir, 'stranger') });
    expect(page.stderr).toContain('ERR_UNSAFE_PORT');
    expect(page.dom).not.toContain('Codec');
    // Whereas a non-browser client does reach it (node's fetch refuses bad ports too, http.request does not):
    // the port is a boundary for browsers, not for local users, who can use the gRPC port anyway.
    const status = await new Promise<number>((resolve, reject) =>
      request({ host: '127.0.0.1', port, path: '/api/v1/settings' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
        .on('error', reject)
        .end(),
    );
    expect(status).toBe(200);
  });
});

describe('the Web UI front to everybody else', () => {
  it('decodes nothing for a local request without the session: 401', async () => {
    const [enc] = await new EncryptionCodec(new FileKeySource(keyringPath())).encode([
      defaultPayloadConverter.toPayload({ cluster }),
    ]);
    const res = await fetch(`${info.uiUrl}${CODEC_PATH}/decode`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Origin: info.uiUrl! },
      body: JSON.stringify({ payloads: [toJson(enc!)] }),
    });
    expect(res.status).toBe(401);
    expect(await res.text()).not.toContain(Buffer.from(JSON.stringify({ cluster })).toString('base64'));
  });

  it('refuses foreign Host names (DNS rebinding) on every path, the UI included: 421', async () => {
    const port = new URL(info.uiUrl!).port;
    for (const path of ['/', '/api/v1/settings', `${CODEC_PATH}/decode`, '/api/v1/namespaces/default/workflows']) {
      const res = await raw('GET', path, { Host: `rebind.example:${port}` });
      expect({ path, status: res.status }).toEqual({ path, status: 421 });
    }
    expect((await raw('GET', '/api/v1/settings', { Host: `localhost:${port}` })).status).toBe(200);
  });

  it('has no /encode', async () => {
    const plain = JSON.stringify({ payloads: [toJson(defaultPayloadConverter.toPayload('x'))] });
    for (const path of [`${CODEC_PATH}/encode`, '/encode']) {
      const res = await raw('POST', path, { 'Content-Type': 'application/json' }, plain);
      expect(res.status).not.toBe(200);
      expect(res.body).not.toContain('payloads');
    }
  });

  it('tells the UI to decode through the front, on the origin the browser used', async () => {
    const port = new URL(info.uiUrl!).port;
    const s = JSON.parse((await raw('GET', '/api/v1/settings', { Host: `localhost:${port}` })).body) as {
      Codec: { Endpoint: string; IncludeCredentials: boolean };
    };
    expect(s.Codec.Endpoint).toBe(`http://localhost:${port}${CODEC_PATH}`);
    expect(s.Codec.IncludeCredentials).toBe(true);
  });

  it('a different --ui-codec-endpoint for the running server is an error that says how to restart', async () => {
    const err = await startDevServer({ ...opts, uiCodecEndpoint: 'http://127.0.0.1:9/other' }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(UiCodecConflictError);
    expect(err!.message).toContain('kubeadm2ha server stop');
    // The same start without a conflicting endpoint reuses the server, front included.
    expect((await startDevServer(opts)).reused).toBe(true);
  });

  it('`server ui-link` prints a login link the front accepts once', async () => {
    const cli = join(here, '..', '..', 'bin', 'kubeadm2ha.js');
    const { stdout } = await execFileP(
      process.execPath,
      [cli, 'server', 'ui-link', '--port', String(opts.port), '--db-file', opts.dbFile!, '/namespaces'],
      {
        env: process.env,
      },
    );
    const link = stdout.trim();
    expect(link).toMatch(new RegExp(`^${info.uiUrl}/_kubeadm2ha/login\\?token=`));
    const first = await fetch(link, { redirect: 'manual' });
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toBe('/namespaces');
    expect((await fetch(link, { redirect: 'manual' })).status).toBe(401);
  });

  it('server stop stops the front too, leaving nothing on the UI port', async () => {
    const st = await devServerStatus(opts);
    expect(st.uiFront?.running).toBe(true);
    const frontPid = st.uiFront!.pid;
    await stopDevServer(opts);
    expect(pidAlive(frontPid)).toBe(false);
    await expect(fetch(`${info.uiUrl}/`)).rejects.toThrow();
  });
});
