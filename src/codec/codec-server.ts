// The codec endpoint for the Temporal Web UI: POST <endpoint>/decode with a Payloads message in protobuf JSON
// ({"payloads":[{"metadata":{"encoding":"<base64>"},"data":"<base64>"}]}), per Temporal's codec server protocol; the
// browser calls it and shows the answer, so the keys never go to the Temporal server.
//
// Decrypting is reading every secret in history, so it answers only the operator's Web UI:
//   - only loopback Host names with the right port (127.0.0.1, localhost, [::1]): a DNS-rebinding page arrives
//     with its own name in Host and is refused before anything else happens;
//   - only an authenticated browser: the session cookie from a one-time login link (ui-session.ts), which another
//     local user cannot obtain; without it, 401;
//   - a browser request (one with Origin) only from the UI's origins, with CORS for exactly that origin;
//   - only POST …/codec/decode. There is no /encode: an encoder would let anyone who reaches it mint ciphertext
//     that workers accept as trusted input.
// The local dev server's Web UI front (src/temporal/ui-front.ts) serves these routes on the UI's own origin;
// `kubeadm2ha codec serve` serves them alone, for a Temporal UI elsewhere on this machine. Payload contents are never
// logged.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { z } from 'zod';
import {
  checkLoginToken,
  checkSession,
  cookieValue,
  FRONT_PREFIX,
  mintSession,
  sessionCookieName,
  SESSION_TTL_MS,
} from './ui-session.js';

export const CODEC_SERVER_HOST = '127.0.0.1';
export const DEFAULT_CODEC_PORT = 8081;
export const DEFAULT_UI_ORIGINS = ['http://127.0.0.1:8233'];
/** History payloads are at most 2 MB each; the UI sends one event's payloads per request. */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
/** Where the codec lives on an origin: what --ui-codec-endpoint gets (the UI appends /decode). */
export const CODEC_PATH = `${FRONT_PREFIX}/codec`;
export const LOGIN_PATH = `${FRONT_PREFIX}/login`;
const ALLOWED_HEADERS = 'Content-Type, X-Namespace';

export interface CodecRoutesOptions {
  codec: PayloadCodec;
  /** The per-install secret (ui-session.ts). */
  secret: Buffer;
  /** Port of the origin these routes are served on: sessions and login tokens are bound to it. */
  port: number;
  /** Exact origins (scheme://host:port) whose pages may call decode. */
  uiOrigins: Iterable<string>;
  /** Where a login without `next` ends up (default: `next` on the origin serving the login). */
  afterLogin?: string;
  maxBodyBytes?: number;
  /** One line per request (method, path, status, payload count) — never payload contents or tokens. */
  log?: (line: string) => void;
}

export interface CodecServerOptions extends Omit<CodecRoutesOptions, 'port' | 'uiOrigins'> {
  /** 0 = any free port. Default 8081. */
  port?: number;
  /** Default DEFAULT_UI_ORIGINS. */
  uiOrigins?: string[];
}

export interface CodecServer {
  /** http://127.0.0.1:<port>/_kubeadm2ha/codec — what a UI's codec endpoint setting takes. */
  endpoint: string;
  /** http://127.0.0.1:<port> */
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

/** The Host header values a loopback server on `port` answers to; anything else is a name we did not choose. */
export function loopbackHosts(port: number): Set<string> {
  return new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
}

/** The origins a browser uses for a loopback server on `port`. */
export function loopbackOrigins(port: number): string[] {
  return [...loopbackHosts(port)].map((h) => `http://${h}`);
}

/** True when the request's Host is one of `hosts`; otherwise answers 421 and returns false. */
export function checkHost(req: IncomingMessage, res: ServerResponse, hosts: ReadonlySet<string>): boolean {
  const host = (req.headers.host ?? '').toLowerCase();
  if (hosts.has(host)) return true;
  send(res, 421, { error: 'this server answers only to loopback host names' });
  return false;
}

/**
 * The codec's routes (login and decode under /_kubeadm2ha). Returns a handler that answers and resolves true for
 * its own paths and resolves false for any other path (the caller serves those). The caller checks Host first.
 */
export function createCodecRoutes(
  opts: CodecRoutesOptions,
): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const origins = new Set([...opts.uiOrigins].map(normalizeOrigin));
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const log = opts.log ?? (() => {});
  const cookie = sessionCookieName(opts.port);
  const startedAt = Date.now();
  // Spent login nonces, forgotten once the token would have expired anyway.
  const used = new Map<string, number>();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path !== FRONT_PREFIX && !path.startsWith(`${FRONT_PREFIX}/`)) return false;
    const done = (status: number, body?: unknown, count?: number): true => {
      log(`${req.method ?? '?'} ${path} ${status}${count === undefined ? '' : ` ${count} payload(s)`}`);
      send(res, status, body);
      return true;
    };
    if (path === LOGIN_PATH) return login(req, res, done);
    if (path !== `${CODEC_PATH}/decode`) return done(404, { error: `only POST ${CODEC_PATH}/decode` });

    const origin = req.headers.origin;
    if (origin !== undefined) {
      if (!origins.has(origin)) return done(403, { error: `origin ${origin} is not allowed` });
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Vary', 'Origin');
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', ALLOWED_HEADERS);
      res.setHeader('Access-Control-Max-Age', '600');
    }
    if (req.method === 'OPTIONS') return done(204);
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST, OPTIONS');
      return done(405, { error: 'use POST' });
    }
    if (!checkSession(opts.secret, opts.port, cookieValue(req.headers.cookie, cookie))) {
      return done(401, { error: 'not logged in: open the Web UI link kubeadm2ha prints (kubeadm2ha server ui-link)' });
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
    let out: Payload[];
    try {
      out = await opts.codec.decode(parsed.payloads.map(fromJson));
    } catch (err) {
      return done(400, { error: (err as Error).message });
    }
    return done(200, { payloads: out.map(toJson) }, out.length);
  };

  // GET /_kubeadm2ha/login?token=…&next=/path: one token, one session cookie, then on to `next`.
  function login(req: IncomingMessage, res: ServerResponse, done: (s: number, b?: unknown) => true): true {
    if (req.method !== 'GET') return done(405, { error: 'use GET' });
    const q = new URL(req.url ?? '/', 'http://x').searchParams;
    const next = safeNext(q.get('next'));
    const target = opts.afterLogin ? `${opts.afterLogin.replace(/\/+$/, '')}${next}` : next;
    // The link leaves no trace in other sites' logs, and the page is never cached.
    res.setHeader('Referrer-Policy', 'no-referrer');
    if (checkSession(opts.secret, opts.port, cookieValue(req.headers.cookie, cookie)))
      return redirect(res, target, done);
    const now = Date.now();
    for (const [n, exp] of used) if (exp < now) used.delete(n);
    const check = checkLoginToken(opts.secret, opts.port, q.get('token') ?? '', {
      now,
      notBefore: startedAt,
      used: new Set(used.keys()),
    });
    if (!check.ok) {
      return done(401, { error: `${check.reason}: run \`kubeadm2ha server ui-link\` for a fresh one` });
    }
    used.set(check.nonce, check.expiresAt);
    res.setHeader(
      'Set-Cookie',
      `${cookie}=${mintSession(opts.secret, opts.port, now)}; Path=${FRONT_PREFIX}; HttpOnly; SameSite=Strict; ` +
        `Max-Age=${SESSION_TTL_MS / 1000}`,
    );
    return redirect(res, target, done);
  }

  return (req, res) =>
    handle(req, res).catch((err: unknown) => {
      // Codec errors name key ids and paths, never key material or plaintext.
      if (!res.headersSent) send(res, 500, { error: (err as Error).message });
      else res.destroy();
      return true;
    });
}

function redirect(res: ServerResponse, location: string, done: (s: number) => true): true {
  res.setHeader('Location', location);
  return done(303);
}

/** Only a path on this origin: `//evil.example` or `/\\evil` would be read by a browser as another host. */
function safeNext(next: string | null): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/';
  return next;
}

/** `kubeadm2ha codec serve`: the codec routes alone on 127.0.0.1, for a Temporal UI served from `uiOrigins`. */
export async function startCodecServer(opts: CodecServerOptions): Promise<CodecServer> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? DEFAULT_CODEC_PORT, CODEC_SERVER_HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const hosts = loopbackHosts(port);
  const uiOrigins = [...(opts.uiOrigins ?? DEFAULT_UI_ORIGINS)];
  const routes = createCodecRoutes({ ...opts, port, uiOrigins, afterLogin: opts.afterLogin ?? uiOrigins[0] });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (!checkHost(req, res, hosts)) return;
    void routes(req, res).then((handled) => {
      if (!handled) send(res, 404, { error: `only POST ${CODEC_PATH}/decode` });
    });
  });
  const url = `http://${CODEC_SERVER_HOST}:${port}`;
  return { url, endpoint: `${url}${CODEC_PATH}`, port, close: () => closeServer(server) };
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

export function send(res: ServerResponse, status: number, body?: unknown): void {
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

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeAllConnections();
  });
}
