// The Web UI front: what the operator's browser talks to on http://127.0.0.1:8233. The Temporal UI embedded in the
// dev server answers any Host header (a DNS-rebinding page could drive it: list, signal, terminate workflows) and has
// no way to authenticate a codec, so it sits behind this small reverse proxy, which
//   - answers only loopback Host names with its port (421 otherwise), before anything else;
//   - serves the codec (login + decode, codec-server.ts) on the UI's own origin, so the browser's same-origin
//     fetch carries the session cookie and no CORS is involved;
//   - rewrites /api/v1/settings so the UI's codec endpoint is this origin's (the UI is read as localhost or
//     127.0.0.1, the session cookie belongs to that name), with a hint when decoding fails for want of a session;
//   - forwards everything else to the real UI, minus our session cookie.
// The real UI listens on a port browsers refuse to connect to (the Fetch standard's "bad ports"), so a rebinding
// page cannot go around the front: see BROWSER_BLOCKED_PORTS.
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PayloadCodec } from '@temporalio/common';
import {
  checkHost,
  closeServer,
  CODEC_PATH,
  createCodecRoutes,
  loopbackHosts,
  loopbackOrigins,
  send,
} from '../codec/codec-server.js';
import { FRONT_PREFIX, sessionCookieName } from '../codec/ui-session.js';

export const HEALTH_PATH = `${FRONT_PREFIX}/health`;

/**
 * Ports every browser refuses to fetch from (https://fetch.spec.whatwg.org/#bad-port; Chromium's kRestrictedPorts,
 * Firefox's gBadPortList), limited to those an unprivileged user can bind. The real Temporal UI goes on one of them.
 */
export const BROWSER_BLOCKED_PORTS = [
  10080, 6566, 6679, 6697, 6665, 6666, 6667, 6668, 6669, 4190, 4045, 3659, 1719, 1720, 1723, 5060, 5061, 6000, 2049,
];

export interface UiFrontOptions {
  /** Port of the front on 127.0.0.1 (0 = any). */
  port: number;
  /** Port of the real Temporal UI on 127.0.0.1. */
  innerPort: number;
  codec: PayloadCodec;
  secret: Buffer;
  /** An external codec endpoint the operator chose: then the UI's settings pass through untouched. */
  externalCodecEndpoint?: string;
  log?: (line: string) => void;
}

export interface UiFront {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startUiFront(opts: UiFrontOptions): Promise<UiFront> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const hosts = loopbackHosts(port);
  const codecRoutes = createCodecRoutes({
    codec: opts.codec,
    secret: opts.secret,
    port,
    uiOrigins: loopbackOrigins(port),
    log: opts.log,
  });
  const cookie = sessionCookieName(port);

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (!checkHost(req, res, hosts)) return;
    const path = (req.url ?? '/').split('?')[0];
    if (path === HEALTH_PATH) return send(res, 200, { ok: true });
    void codecRoutes(req, res).then((handled) => {
      if (handled) return;
      if (path === '/api/v1/settings' && req.method === 'GET' && !opts.externalCodecEndpoint) {
        return void settings(req, res).catch(() => send(res, 502, { error: 'the Temporal UI did not answer' }));
      }
      forward(req, res);
    });
  });

  function innerRequest(
    method: string | undefined,
    url: string | undefined,
    given: IncomingMessage['headers'],
    onResponse: (inner: IncomingMessage) => void,
  ): ReturnType<typeof request> {
    const headers = { ...given, host: `127.0.0.1:${opts.innerPort}` };
    const kept = withoutCookie(given.cookie, cookie);
    if (kept) headers.cookie = kept;
    else delete headers.cookie;
    return request({ host: '127.0.0.1', port: opts.innerPort, method, path: url, headers }, onResponse);
  }

  function forward(req: IncomingMessage, res: ServerResponse): void {
    const out = innerRequest(req.method, req.url, req.headers, (inner) => {
      res.writeHead(inner.statusCode ?? 502, inner.headers);
      inner.pipe(res);
    });
    out.on('error', () =>
      res.headersSent ? res.destroy() : send(res, 502, { error: 'the Temporal UI did not answer' }),
    );
    req.pipe(out);
  }

  async function settings(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await new Promise<string>((resolve, reject) => {
      // identity: the UI gzips otherwise, and we rewrite the JSON.
      const headers = { ...req.headers, 'accept-encoding': 'identity' };
      const out = innerRequest('GET', req.url, headers, (inner) => {
        const chunks: Buffer[] = [];
        inner.on('data', (c: Buffer) => chunks.push(c));
        inner.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        inner.on('error', reject);
      });
      out.on('error', reject);
      out.end();
    });
    const parsed = JSON.parse(body) as { Codec?: Record<string, unknown> };
    // The Host was checked: it is one of our loopback names, so this endpoint is this very origin.
    parsed.Codec = {
      ...parsed.Codec,
      Endpoint: `http://${req.headers.host}${CODEC_PATH}`,
      PassAccessToken: false,
      IncludeCredentials: true,
      DefaultErrorMessage:
        'kubeadm2ha: this browser has no codec session for this address. Open the login link printed by ' +
        '`kubeadm2ha server ui-link` (payloads stay encrypted until then).',
    };
    send(res, 200, parsed);
  }

  return { url: `http://127.0.0.1:${port}`, port, close: () => closeServer(server) };
}

/** The Cookie header without our session cookie: the Temporal UI has no business seeing it. */
function withoutCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  const kept = header
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p && !p.startsWith(`${name}=`));
  return kept.length ? kept.join('; ') : undefined;
}
