// The codec server over real HTTP on 127.0.0.1 (port 0), with a real keyring and Web UI secret in a temp directory.
// node:http requests (not fetch) where the test needs to send a Host header of its choosing.
import { request } from 'node:http';
import { join } from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CODEC_PATH, LOGIN_PATH, startCodecServer, toJson, type CodecServer } from '../../../src/codec/codec-server.js';
import { EncryptionCodec } from '../../../src/codec/encryption-codec.js';
import { FileKeySource } from '../../../src/codec/file-key-source.js';
import { loadUiSecret, loginLink, mintLoginToken, sessionCookieName } from '../../../src/codec/ui-session.js';
import { tempKeyringDir } from './helpers.js';

const UI = 'http://127.0.0.1:8233';
const TOKEN = 'zz99yy.0011223344556677';
const TOKEN_B64 = Buffer.from(JSON.stringify({ token: TOKEN })).toString('base64');

let t: Awaited<ReturnType<typeof tempKeyringDir>>;
let codec: EncryptionCodec;
let secret: Buffer;
let server: CodecServer;
let logLines: string[];
beforeEach(async () => {
  t = await tempKeyringDir();
  codec = new EncryptionCodec(new FileKeySource(t.path));
  secret = await loadUiSecret(join(t.dir, 'config', 'webui-secret'));
  logLines = [];
  server = await startCodecServer({
    codec,
    secret,
    port: 0,
    uiOrigins: [UI],
    maxBodyBytes: 64 * 1024,
    log: (l) => logLines.push(l),
  });
});
afterEach(async () => {
  await server.close();
  await t.cleanup();
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One raw HTTP request to the server, Host header included as given. */
function raw(method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

const decodeUrl = (): string => `${server.endpoint}/decode`;

const post = (body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(decodeUrl(), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Namespace': 'default', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

async function encryptedJson(value: unknown) {
  const [p] = await codec.encode([defaultPayloadConverter.toPayload(value)]);
  return toJson(p!);
}

/** Logs in like the browser does: follow the login link once, keep the cookie. Returns the Cookie header. */
async function logIn(): Promise<string> {
  const res = await fetch(loginLink(server.url, secret, '/namespaces/default/workflows'), { redirect: 'manual' });
  expect(res.status).toBe(303);
  const setCookie = res.headers.get('set-cookie')!;
  expect(setCookie).toMatch(new RegExp(`^${sessionCookieName(server.port)}=`));
  return setCookie.split(';')[0]!;
}

describe('codec server', () => {
  it('listens on 127.0.0.1 only, and its endpoint is under /_kubeadm2ha/codec', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.endpoint).toBe(`${server.url}${CODEC_PATH}`);
  });

  it('decodes nothing for a local request without the session cookie: 401, with or without the UI origin', async () => {
    const enc = await encryptedJson({ token: TOKEN });
    const attempts: Record<string, string>[] = [
      {},
      { Origin: UI },
      { Cookie: `${sessionCookieName(server.port)}=1.forged` },
    ];
    for (const headers of attempts) {
      const res = await post({ payloads: [enc] }, headers);
      expect(res.status).toBe(401);
      expect(await res.text()).not.toContain(TOKEN_B64);
    }
  });

  it('a login link sets an HttpOnly SameSite=Strict session cookie, and with it the UI decodes (CORS with credentials)', async () => {
    const res = await fetch(loginLink(server.url, secret, '/namespaces/default/workflows'), { redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`${UI}/namespaces/default/workflows`);
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const setCookie = res.headers.get('set-cookie')!;
    expect(setCookie).toContain('HttpOnly');
    expect(setCookie).toContain('SameSite=Strict');
    expect(setCookie).toContain('Path=/_kubeadm2ha');
    const cookie = setCookie.split(';')[0]!;

    const enc = await encryptedJson({ token: TOKEN });
    const dec = await post({ payloads: [enc] }, { Origin: UI, Cookie: cookie });
    expect(dec.status).toBe(200);
    expect(dec.headers.get('access-control-allow-origin')).toBe(UI);
    expect(dec.headers.get('access-control-allow-credentials')).toBe('true');
    const body = (await dec.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
    const p = body.payloads[0]!;
    expect(Buffer.from(p.metadata.encoding!, 'base64').toString()).toBe('json/plain');
    expect(JSON.parse(Buffer.from(p.data, 'base64').toString())).toEqual({ token: TOKEN });
    // The log says what happened, never what was in it, nor the login token.
    const log = logLines.join('\n');
    expect(log).toContain(`POST ${CODEC_PATH}/decode 200 1 payload(s)`);
    expect(log).not.toContain(TOKEN);
    expect(log).not.toContain('token=');
  });

  it('a login link works once; forged, tampered, foreign-port and expired tokens get 401 and no cookie', async () => {
    const link = loginLink(server.url, secret);
    expect((await fetch(link, { redirect: 'manual' })).status).toBe(303);
    const again = await fetch(link, { redirect: 'manual' });
    expect(again.status).toBe(401);
    expect(await again.text()).toContain('already used');
    const otherSecret = Buffer.alloc(32, 7);
    const tokens = [
      mintLoginToken(otherSecret, server.port),
      mintLoginToken(secret, server.port + 1),
      mintLoginToken(secret, server.port, Date.now() - 11 * 60_000),
      `${mintLoginToken(secret, server.port).slice(0, -2)}AA`,
      'x',
    ];
    for (const token of tokens) {
      const res = await fetch(`${server.url}${LOGIN_PATH}?token=${encodeURIComponent(token)}`, { redirect: 'manual' });
      expect(res.status).toBe(401);
      expect(res.headers.get('set-cookie')).toBeNull();
    }
  });

  it('a login never redirects to another host', async () => {
    const s2 = await startCodecServer({ codec, secret, port: 0, uiOrigins: [UI], afterLogin: '' });
    try {
      for (const next of ['//evil.example/x', '/\\evil.example', 'http://evil.example/']) {
        const link = loginLink(s2.url, secret, next);
        const res = await fetch(link, { redirect: 'manual' });
        expect(res.status).toBe(303);
        expect(res.headers.get('location')).toBe('/');
      }
    } finally {
      await s2.close();
    }
  });

  it('refuses Host names other than loopback with its port (DNS rebinding), before anything else', async () => {
    const cookie = await logIn();
    const enc = JSON.stringify({ payloads: [await encryptedJson({ token: TOKEN })] });
    const headers = { 'Content-Type': 'application/json', Cookie: cookie };
    for (const host of [
      'evil.example',
      `evil.example:${server.port}`,
      '127.0.0.1:1',
      `localhost.evil.example:${server.port}`,
    ]) {
      const res = await raw('POST', `${CODEC_PATH}/decode`, { ...headers, Host: host }, enc);
      expect(res.status).toBe(421);
      expect(res.body).not.toContain(TOKEN_B64);
    }
    for (const host of [`127.0.0.1:${server.port}`, `localhost:${server.port}`, `[::1]:${server.port}`]) {
      expect((await raw('POST', `${CODEC_PATH}/decode`, { ...headers, Host: host }, enc)).status).toBe(200);
    }
  });

  it('has no /encode, and serves no other path (no suffix matching)', async () => {
    const cookie = await logIn();
    const plain = JSON.stringify({ payloads: [toJson(defaultPayloadConverter.toPayload(TOKEN))] });
    const headers = { 'Content-Type': 'application/json', Cookie: cookie };
    for (const path of [
      `${CODEC_PATH}/encode`,
      '/encode',
      '/decode',
      '/x/_kubeadm2ha/codec/decode',
      `${CODEC_PATH}/decode/x`,
    ]) {
      const res = await raw('POST', path, headers, plain);
      expect(res.status, path).toBe(404);
    }
  });

  it('rejects any other origin with 403 even with a session, preflight and request alike', async () => {
    const cookie = await logIn();
    const enc = await encryptedJson({ token: TOKEN });
    for (const origin of ['http://evil.example', 'http://127.0.0.1:8234', 'http://localhost:8233', 'null']) {
      const pre = await fetch(decodeUrl(), { method: 'OPTIONS', headers: { Origin: origin } });
      expect(pre.status).toBe(403);
      expect(pre.headers.get('access-control-allow-origin')).toBeNull();
      const res = await post({ payloads: [enc] }, { Origin: origin, Cookie: cookie });
      expect(res.status).toBe(403);
      expect(await res.text()).not.toContain(TOKEN_B64);
    }
  });

  it('answers the UI preflight for its origin with credentials allowed', async () => {
    const res = await fetch(decodeUrl(), {
      method: 'OPTIONS',
      headers: {
        Origin: UI,
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type,x-namespace',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(UI);
    expect(res.headers.get('access-control-allow-credentials')).toBe('true');
    const allowed = res.headers.get('access-control-allow-headers')!.toLowerCase();
    for (const h of ['content-type', 'x-namespace']) expect(allowed).toContain(h);
  });

  it('rejects oversized bodies (413), non-JSON content types (415), bad JSON (400) and GET (405)', async () => {
    const Cookie = await logIn();
    const big = { payloads: [{ metadata: {}, data: Buffer.alloc(100 * 1024).toString('base64') }] };
    expect((await post(big, { Cookie })).status).toBe(413);
    // Without Content-Length (chunked), the limit applies while reading.
    const chunk = new TextEncoder().encode(JSON.stringify(big));
    const streamed = await fetch(decodeUrl(), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Cookie },
      body: new ReadableStream({
        start(c) {
          c.enqueue(chunk);
          c.close();
        },
      }),
      duplex: 'half',
    });
    expect(streamed.status).toBe(413);
    expect((await post('{}', { 'Content-Type': 'text/plain', Cookie })).status).toBe(415);
    expect((await post('{not json', { Cookie })).status).toBe(400);
    expect((await post({ payloads: 'nope' }, { Cookie })).status).toBe(400);
    expect((await fetch(decodeUrl(), { headers: { Cookie } })).status).toBe(405);
  });

  it('a payload with an unknown key id gets 400 with the codec error', async () => {
    const Cookie = await logIn();
    const enc = await encryptedJson(1);
    enc.metadata = { ...enc.metadata, 'encryption-key-id': Buffer.from('k-unknown').toString('base64') };
    const res = await post({ payloads: [enc] }, { Cookie });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toContain('key id k-unknown');
  });

  it('refuses to start on a port that is taken', async () => {
    await expect(startCodecServer({ codec, secret, port: server.port })).rejects.toThrow(/EADDRINUSE/);
  });
});
