// Secrets out of history, end to end on the real dev server: a workflow moves an ed25519 private key and a
// bootstrap token through activity results and arguments, an activity retry, a caught activity failure and its own
// result or failure. The history exported with the Temporal CLI must contain none of them — searched in plain text
// and inside every base64 value — while the codec server (what the Web UI calls) and `temporal --codec-endpoint`
// still show them to the person who holds the keyring. A control run with encryption off proves the search finds
// the secrets when they are there.
import { spawn } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Context } from '@temporalio/activity';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, type DataConverter } from '@temporalio/common';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startCodecServer, type CodecServer } from '../../src/codec/codec-server.js';
import { ENCODING, EncryptionCodec } from '../../src/codec/encryption-codec.js';
import { FileKeySource } from '../../src/codec/file-key-source.js';
import { loadUiSecret, loginLink } from '../../src/codec/ui-session.js';
import { ensureTemporalCli } from '../../src/temporal/cli-binary.js';
import { dataConverter, failureConverterPath } from '../../src/temporal/data-converter.js';
import { startDevServer, stopDevServer, type DevServerOptions } from '../../src/temporal/dev-server.js';
import { freePort } from '../../src/temporal/process-util.js';
import type { Secrets, SecretsActivities } from './fixtures/secrets-round-trip.js';

const here = dirname(fileURLToPath(import.meta.url));
const UI_ORIGIN = 'http://127.0.0.1:8233';

let address: string;
let dir: string;
let keyring: string;
let bundle: { code: string };
let connection: Connection;
let native: NativeConnection;
let temporalCli: string;
let codecServer: CodecServer;
/** The session cookie a browser gets from the login link (name=value). */
let session: string;

beforeAll(async () => {
  address = inject('temporalAddress') ?? process.env.TEMPORAL_TEST_ADDRESS ?? '127.0.0.1:7233';
  dir = await mkdtemp(join(tmpdir(), 'kubeadm2ha-secrets-'));
  keyring = join(dir, 'config', 'codec-keyring.json');
  temporalCli = await ensureTemporalCli();
  bundle = await bundleWorkflowCode({
    workflowsPath: join(here, 'fixtures', 'secrets-round-trip.ts'),
    failureConverterPath: failureConverterPath(),
    logger: new DefaultLogger('WARN'),
  });
  connection = await Connection.connect({ address });
  native = await NativeConnection.connect({ address });
  codecServer = await startCodecServer({
    codec: new EncryptionCodec(new FileKeySource(keyring)),
    secret: await loadUiSecret(join(dir, 'config', 'webui-secret')),
    port: 0,
    uiOrigins: [UI_ORIGIN],
  });
  const login = await fetch(loginLink(codecServer.url, await loadUiSecret(join(dir, 'config', 'webui-secret'))), {
    redirect: 'manual',
  });
  session = login.headers.get('set-cookie')!.split(';')[0]!;
});

afterAll(async () => {
  await codecServer?.close();
  await connection?.close();
  await native?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** What one run put into play, to search for afterwards. */
interface Run {
  workflowId: string;
  secrets: Secrets;
  /** The single base64 line of the PKCS#8 ed25519 PEM: the key itself. */
  keyBody: string;
  failureTexts: string[];
  outcome: { result?: unknown; error?: unknown };
}

function bootstrapToken(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const pick = (n: number) => Array.from(randomBytes(n), (b) => alphabet[b % alphabet.length]).join('');
  return `${pick(6)}.${pick(16)}`;
}

async function runWorkflow(converter: DataConverter | undefined, failAtEnd: boolean): Promise<Run> {
  const marker = `mk${randomBytes(6).toString('hex')}`;
  let secrets: Secrets | undefined;
  const activities: SecretsActivities = {
    makeSecrets() {
      const { privateKey } = generateKeyPairSync('ed25519');
      secrets = {
        privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
        token: bootstrapToken(),
      };
      return Promise.resolve(secrets);
    },
    useSecrets(s, m) {
      if (Context.current().info.attempt === 1) {
        return Promise.reject(new Error(`kubeadm join 10.200.0.10:6443 --token ${s.token} failed (${m}-attempt)`));
      }
      return Promise.resolve(sign(null, Buffer.from(m), createPrivateKey(s.privateKeyPem)).toString('base64'));
    },
    rejectToken(token, m) {
      return Promise.reject(
        ApplicationFailure.nonRetryable(`token ${token} was rejected (${m}-reject)`, 'TokenRejected'),
      );
    },
  };
  const taskQueue = `secrets-${marker}`;
  const workflowId = `secrets-history-${marker}`;
  const client = new Client({ connection, namespace: 'default', dataConverter: converter });
  const worker = await Worker.create({
    connection: native,
    namespace: 'default',
    taskQueue,
    workflowBundle: bundle,
    activities,
    dataConverter: converter,
  });
  const outcome: Run['outcome'] = {};
  await worker.runUntil(async () => {
    try {
      outcome.result = await client.workflow.execute('secretsRoundTrip', {
        taskQueue,
        workflowId,
        args: [marker, failAtEnd],
        workflowExecutionTimeout: '60s',
      });
    } catch (err) {
      outcome.error = err;
    }
  });
  if (!secrets) throw new Error(`makeSecrets never ran: ${String(outcome.error)}`);
  const keyBody = secrets.privateKeyPem.split('\n')[1]!;
  expect(keyBody).toMatch(/^[A-Za-z0-9+/=]{64}$/);
  const failureTexts = [`${marker}-attempt`, `${marker}-reject`, ...(failAtEnd ? [`${marker}-workflow`] : [])];
  return { workflowId, secrets, keyBody, failureTexts, outcome };
}

function runCli(args: string[]): Promise<string> {
  // Nothing from the environment may point the CLI at a codec or another server: we want raw history.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_')));
  return new Promise((resolve, reject) => {
    const child = spawn(temporalCli, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`temporal ${args.join(' ')}: exit ${code}: ${err}`)),
    );
  });
}

const exportHistory = (workflowId: string, extra: string[] = []): Promise<string> =>
  runCli([
    'workflow',
    'show',
    '--output',
    'json',
    '-w',
    workflowId,
    '--address',
    address,
    '--namespace',
    'default',
    ...extra,
  ]);

/** Every string in the JSON, plus the text of each one that is valid base64 (payload data and metadata are). */
function searchableTexts(json: unknown): string[] {
  const texts: string[] = [];
  const visit = (v: unknown): void => {
    if (typeof v === 'string') {
      texts.push(v);
      if (v.length >= 8 && /^[A-Za-z0-9+/_-]+={0,2}$/.test(v)) texts.push(Buffer.from(v, 'base64').toString('latin1'));
    } else if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === 'object') Object.values(v).forEach(visit);
  };
  visit(json);
  return texts;
}

/** Which needles occur anywhere in the exported history (raw text or decoded base64). */
function found(historyText: string, needles: string[]): string[] {
  const texts = [historyText, ...searchableTexts(JSON.parse(historyText))];
  return needles.filter((n) => texts.some((t) => t.includes(n)));
}

function needlesOf(run: Run): string[] {
  return [run.secrets.token, run.keyBody, 'PRIVATE KEY', ...run.failureTexts];
}

/** Payload objects in protobuf JSON form ({metadata, data}) whose encoding is binary/encrypted. */
function encryptedPayloads(json: unknown): { metadata: Record<string, string>; data: string }[] {
  const out: { metadata: Record<string, string>; data: string }[] = [];
  const enc = Buffer.from(ENCODING).toString('base64');
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(visit);
    if (!v || typeof v !== 'object') return;
    const o = v as Record<string, unknown>;
    const md = o.metadata as Record<string, unknown> | undefined;
    if (md && typeof md === 'object' && md.encoding === enc && typeof o.data === 'string') {
      out.push({ metadata: md as Record<string, string>, data: o.data });
      return;
    }
    Object.values(o).forEach(visit);
  };
  visit(json);
  return out;
}

describe('secrets in workflow history', () => {
  it('control: with encryption off, the history search finds key, token and failure texts', async () => {
    const run = await runWorkflow(dataConverter({ env: { KUBEADM2HA_CODEC: 'off' } }), false);
    expect(run.outcome.error).toBeUndefined();
    const history = await exportHistory(run.workflowId);
    expect(found(history, needlesOf(run)).sort()).toEqual(needlesOf(run).sort());
  });

  it('with the codec, history holds none of them; the workflow and client still see plaintext', async () => {
    const run = await runWorkflow(dataConverter({ env: { KUBEADM2HA_CODEC_KEYRING: keyring } }), false);
    expect(run.outcome.error).toBeUndefined();
    const result = run.outcome.result as { token: string; signature: string; rejection: string };
    expect(result.token).toBe(run.secrets.token);
    expect(result.signature).toMatch(/^[A-Za-z0-9+/]{86}==$/); // an ed25519 signature: the key survived the trip
    // The worker decrypted the activity failure for the workflow: it saw the original message.
    expect(result.rejection).toBe(`token ${run.secrets.token} was rejected (${run.failureTexts[1]})`);

    const history = await exportHistory(run.workflowId);
    expect(found(history, needlesOf(run))).toEqual([]);
    const json = JSON.parse(history) as unknown;
    const encrypted = encryptedPayloads(json);
    // Input, 3 activity inputs, 2 activity results, workflow result, 2 failures' attributes (retry + reject), at least.
    expect(encrypted.length).toBeGreaterThanOrEqual(9);
    expect(history).toContain('Encoded failure');

    // The codec server, as the Web UI calls it, gives the plaintext back.
    const res = await fetch(`${codecServer.endpoint}/decode`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Namespace': 'default', Origin: UI_ORIGIN, Cookie: session },
      body: JSON.stringify({ payloads: encrypted }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
    const decoded = JSON.stringify(
      ((await res.json()) as { payloads: { data: string }[] }).payloads.map((p) =>
        Buffer.from(p.data, 'base64').toString('utf8'),
      ),
    );
    expect(decoded).toContain(run.secrets.token);
    expect(decoded).toContain(run.keyBody);
    for (const t of run.failureTexts) expect(decoded).toContain(t);
  });

  it('a workflow failure quoting the token is encrypted too, and the client decrypts it', async () => {
    const run = await runWorkflow(dataConverter({ env: { KUBEADM2HA_CODEC_KEYRING: keyring } }), true);
    expect(run.outcome.error).toBeInstanceOf(WorkflowFailedError);
    const cause = (run.outcome.error as WorkflowFailedError).cause;
    expect(cause?.message).toContain(run.secrets.token);
    expect(cause?.message).toContain(run.failureTexts[2]);

    const history = await exportHistory(run.workflowId);
    expect(found(history, needlesOf(run))).toEqual([]);

    // `temporal workflow show --codec-endpoint` (the CLI's codec client) reads it through the codec server, given
    // the session a logged-in browser holds.
    const readable = await exportHistory(run.workflowId, [
      '--codec-endpoint',
      codecServer.endpoint,
      '--codec-header',
      `Cookie=${session}`,
    ]);
    expect(found(readable, [run.secrets.token, run.keyBody, ...run.failureTexts])).toEqual([
      run.secrets.token,
      run.keyBody,
      ...run.failureTexts,
    ]);
  });
});

describe('Web UI wiring', () => {
  it('a dev server started with uiCodecEndpoint tells its Web UI to decode through the codec server', async () => {
    const uiPort = await freePort();
    const server: DevServerOptions = {
      cliPath: temporalCli,
      port: await freePort(),
      uiPort,
      dbFile: join(dir, 'ui', 'temporal.db'),
      logLevel: 'error',
      uiCodecEndpoint: codecServer.endpoint,
    };
    const info = await startDevServer(server);
    try {
      expect(info.uiUrl).toBe(`http://127.0.0.1:${uiPort}`);
      // What the UI's browser code reads at load time to find its codec server.
      const settings = (await (await fetch(`${info.uiUrl}/api/v1/settings`)).json()) as { Codec: { Endpoint: string } };
      expect(settings.Codec.Endpoint).toBe(codecServer.endpoint);
    } finally {
      await stopDevServer(server);
    }
  });
});
