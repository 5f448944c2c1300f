// The codec server over real HTTP on 127.0.0.1 (port 0), with a real keyring in a temp directory.
import { defaultPayloadConverter } from '@temporalio/common';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startCodecServer, toJson, type CodecServer } from '../../../src/codec/codec-server.js';
import { EncryptionCodec } from '../../../src/codec/encryption-codec.js';
import { FileKeySource } from '../../../src/codec/file-key-source.js';
import { tempKeyringDir } from './helpers.js';

const UI = 'http://127.0.0.1:8233';
const TOKEN = 'zz99yy.0011223344556677';

let t: Awaited<ReturnType<typeof tempKeyringDir>>;
let codec: EncryptionCodec;
let server: CodecServer;
let logLines: string[];
beforeEach(async () => {
  t = await tempKeyringDir();
  codec = new EncryptionCodec(new FileKeySource(t.path));
  logLines = [];
  server = await startCodecServer({
    codec,
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

const post = (path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Namespace': 'default', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

async function encryptedJson(value: unknown) {
  const [p] = await codec.encode([defaultPayloadConverter.toPayload(value)]);
  return toJson(p!);
}

describe('codec server', () => {
  it('listens on 127.0.0.1 only', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('/decode returns the plaintext payloads (UI origin), with CORS for exactly that origin', async () => {
    const enc = await encryptedJson({ token: TOKEN });
    const res = await post('/decode', { payloads: [enc] }, { Origin: UI });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(UI);
    const body = (await res.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
    const p = body.payloads[0]!;
    expect(Buffer.from(p.metadata.encoding!, 'base64').toString()).toBe('json/plain');
    expect(JSON.parse(Buffer.from(p.data, 'base64').toString())).toEqual({ token: TOKEN });
    // The log says what happened, never what was in it.
    expect(logLines.join('\n')).toContain('POST /decode 200 1 payload(s)');
    expect(logLines.join('\n')).not.toContain(TOKEN);
  });

  it('/encode then /decode round-trips, also under a path prefix (only the last segment counts)', async () => {
    const plain = toJson(defaultPayloadConverter.toPayload(['a', TOKEN]));
    const enc = (await (await post('/ns/default/encode', { payloads: [plain] })).json()) as { payloads: unknown[] };
    expect(JSON.stringify(enc)).not.toContain(Buffer.from(TOKEN).toString('base64').slice(0, 12));
    const dec = (await (await post('/ns/default/decode', enc)).json()) as { payloads: unknown[] };
    expect(dec.payloads).toEqual([plain]);
  });

  it('answers the UI preflight with methods and headers incl. X-Namespace and Authorization', async () => {
    const res = await fetch(`${server.url}/decode`, {
      method: 'OPTIONS',
      headers: {
        Origin: UI,
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type,x-namespace',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(UI);
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    const allowed = res.headers.get('access-control-allow-headers')!.toLowerCase();
    for (const h of ['content-type', 'x-namespace', 'authorization']) expect(allowed).toContain(h);
  });

  it('rejects any other origin with 403, preflight and request alike, and decodes nothing for it', async () => {
    const enc = await encryptedJson({ token: TOKEN });
    for (const origin of ['http://evil.example', 'http://127.0.0.1:8234', 'http://localhost:8233', 'null']) {
      const pre = await fetch(`${server.url}/decode`, { method: 'OPTIONS', headers: { Origin: origin } });
      expect(pre.status).toBe(403);
      expect(pre.headers.get('access-control-allow-origin')).toBeNull();
      const res = await post('/decode', { payloads: [enc] }, { Origin: origin });
      expect(res.status).toBe(403);
      expect(await res.text()).not.toContain(Buffer.from(TOKEN).toString('base64'));
    }
  });

  it('rejects oversized bodies (413), non-JSON content types (415), bad JSON (400), other paths and methods', async () => {
    const big = { payloads: [{ metadata: {}, data: Buffer.alloc(100 * 1024).toString('base64') }] };
    expect((await post('/decode', big)).status).toBe(413);
    // Without Content-Length (chunked), the limit applies while reading.
    const chunk = new TextEncoder().encode(JSON.stringify(big));
    const streamed = await fetch(`${server.url}/decode`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: new ReadableStream({
        start(c) {
          c.enqueue(chunk);
          c.close();
        },
      }),
      duplex: 'half',
    });
    expect(streamed.status).toBe(413);
    expect((await post('/decode', '{}', { 'Content-Type': 'text/plain' })).status).toBe(415);
    expect((await post('/decode', '{not json')).status).toBe(400);
    expect((await post('/decode', { payloads: 'nope' })).status).toBe(400);
    expect((await post('/other', { payloads: [] })).status).toBe(404);
    expect((await fetch(`${server.url}/decode`)).status).toBe(405);
  });

  it('a payload with an unknown key id gets 400 with the codec error', async () => {
    const enc = await encryptedJson(1);
    enc.metadata = { ...enc.metadata, 'encryption-key-id': Buffer.from('k-unknown').toString('base64') };
    const res = await post('/decode', { payloads: [enc] });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toContain('key id k-unknown');
  });

  it('refuses to start on a port that is taken', async () => {
    await expect(startCodecServer({ codec, port: server.port })).rejects.toThrow(/EADDRINUSE/);
  });
});
