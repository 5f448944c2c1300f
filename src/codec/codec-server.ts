// Remote codec ("codec server") for the Temporal Web UI and CLI: POST …/decode and …/encode with a Payloads message
// in protobuf JSON ({"payloads":[{"metadata":{"encoding":"<base64>"},"data":"<base64>"}]}), per Temporal's codec
// server protocol (only the last path segment counts, X-Namespace may be sent and is ignored: one keyring serves
// every namespace). The browser calls it directly, so the key never goes to the Temporal server.
//
// Exposure: it listens on 127.0.0.1 only, and browsers may call it only from the Web UI's origin — a request
// carrying any other Origin (another web page, or a DNS-rebinding page posing as 127.0.0.1) gets 403, preflight
// included. Requests without Origin come from non-browser clients on this machine (`temporal --codec-endpoint`,
// curl); anyone who can open a socket on this machine's loopback can therefore decrypt while it runs, so run it on
// a machine you do not share, and only while you need it. Payload contents are never logged.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { z } from 'zod';

export const CODEC_SERVER_HOST = '127.0.0.1';
export const DEFAULT_CODEC_PORT = 8081;
export const DEFAULT_UI_ORIGINS = ['http://127.0.0.1:8233', 'http://localhost:8233'];
/** History payloads are at most 2 MB each; the UI sends one event's payloads per request. */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
const ALLOWED_HEADERS = 'Content-Type, X-Namespace, Authorization';

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** 0 = any free port. Default 8081. */
  port?: number;
  /** Exact origins (scheme://host:port) the Web UI is served from. */
  uiOrigins?: string[];
  maxBodyBytes?: number;
  /** One line per request (method, path, status, payload count) — never payload contents. */
  log?: (line: string) => void;
}

export interface CodecServer {
  /** http://127.0.0.1:<port> — what --ui-codec-endpoint / --codec-endpoint take. */
  url: string;
  port: number;
  close(): Promise<void>;
}

const payloadJson = z.object({
  metadata: z.record(z.string(), z.string()).nullish(),
  data: z.string().nullish(),
});
const payloadsJson = z.object({ payloads: z.array(payloadJson).default([]) });
type PayloadJson = z.infer<typeof payloadJson>;

export function normalizeOrigin(origin: string): string {
  let u: URL;
  try {
    u = new URL(origin);
  } catch {
    throw new Error(`not an origin URL: ${origin}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`not an http(s) origin: ${origin}`);
  return u.origin;
}

export async function startCodecServer(opts: CodecServerOptions): Promise<CodecServer> {
  const origins = new Set((opts.uiOrigins ?? DEFAULT_UI_ORIGINS).map(normalizeOrigin));
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const log = opts.log ?? (() => {});

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      // Codec errors name key ids and paths, never key material or plaintext.
      if (!res.headersSent) send(res, 500, { error: (err as Error).message });
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const origin = req.headers.origin;
    const done = (status: number, body?: unknown, count?: number): void => {
      log(`${req.method ?? '?'} ${path} ${status}${count === undefined ? '' : ` ${count} payload(s)`}`);
      send(res, status, body);
    };
    if (origin !== undefined) {
      if (!origins.has(origin)) return done(403, { error: `origin ${origin} is not allowed` });
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Vary', 'Origin');
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', ALLOWED_HEADERS);
      res.setHeader('Access-Control-Max-Age', '600');
    }
    if (req.method === 'OPTIONS') return done(204);
    const op = path.endsWith('/decode') ? 'decode' : path.endsWith('/encode') ? 'encode' : undefined;
    if (!op) return done(404, { error: 'POST …/encode or …/decode' });
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST, OPTIONS');
      return done(405, { error: 'use POST' });
    }
    // application/json only: a browser may send text/plain without a preflight, JSON always needs one.
    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
      return done(415, { error: 'Content-Type must be application/json' });
    }
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > maxBody) return done(413, { error: `body larger than ${maxBody} bytes` });
    const body = await readBody(req, maxBody);
    if (body === undefined) return done(413, { error: `body larger than ${maxBody} bytes` });

    let parsed: { payloads: PayloadJson[] };
    try {
      parsed = payloadsJson.parse(JSON.parse(body.toString('utf8')));
    } catch {
      return done(400, { error: 'expected {"payloads":[{"metadata":{…base64…},"data":"…base64…"}]}' });
    }
    const payloads = parsed.payloads.map(fromJson);
    let out: Payload[];
    try {
      out = op === 'decode' ? await opts.codec.decode(payloads) : await opts.codec.encode(payloads);
    } catch (err) {
      return done(400, { error: (err as Error).message });
    }
    done(200, { payloads: out.map(toJson) }, out.length);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? DEFAULT_CODEC_PORT, CODEC_SERVER_HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return { url: `http://${CODEC_SERVER_HOST}:${port}`, port, close: () => closeServer(server) };
}

/** The body, or undefined once it grows past max (then the rest is not read). */
function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > max) {
        over = true;
        chunks.length = 0;
        resolve(undefined);
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!over) resolve(Buffer.concat(chunks));
    });
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  const text = JSON.stringify(body);
  // An unread request body (413 before reading) is drained and discarded by node's http server after the response.
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  });
  res.end(text);
}

export function fromJson(p: PayloadJson): Payload {
  const metadata: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) metadata[k] = Buffer.from(v, 'base64');
  return { metadata, data: Buffer.from(p.data ?? '', 'base64') };
}

export function toJson(p: Payload): PayloadJson {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) metadata[k] = Buffer.from(v).toString('base64');
  return { metadata, data: Buffer.from(p.data ?? new Uint8Array()).toString('base64') };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeAllConnections();
  });
}
