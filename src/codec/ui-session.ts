// Who may decode through the codec: the operator's browser, proven by a session cookie, never "anyone who can open
// a socket on 127.0.0.1". The root is a per-install secret (32 random bytes, a 0600 file in the config directory,
// beside the codec keyring), which only the operator's account can read. From it:
//   - login tokens, minted by the CLI into the Web UI links it prints: one use, valid for LOGIN_TTL_MS, bound to one
//     UI port; the Web UI front exchanges one for
//   - a session cookie (HttpOnly, SameSite=Strict, path /_kubeadm2ha), valid for SESSION_TTL_MS, which the UI's
//     decode requests carry because the codec is served on the UI's own origin.
// Both are HMAC-SHA256 over (kind, port, time[, nonce]) with the secret, so the front needs no shared state with
// the CLI, and nothing derived from the secret ever appears in a URL the UI serves (its /api/v1/settings is public).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { link, open, readFile, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FailureType, KubeadmHaError } from '../errors.js';
import { configDir } from '../paths.js';
import { ensurePrivateDir } from '../private-files.js';

export const UI_SECRET_ENV = 'KUBEADM2HA_UI_SECRET';
export const LOGIN_TTL_MS = 10 * 60_000;
export const SESSION_TTL_MS = 12 * 3600_000;
/** Everything of ours on the UI's origin lives under this path; the rest is the Temporal UI. */
export const FRONT_PREFIX = '/_kubeadm2ha';
const SECRET_BYTES = 32;

/** Cookies are per host, not per port: the name carries the port so two local UIs do not overwrite each other. */
export const sessionCookieName = (port: number): string => `kubeadm2ha_ui_${port}`;

/** $KUBEADM2HA_UI_SECRET, else `webui-secret` in the user's config directory. */
export function uiSecretPath(env: NodeJS.ProcessEnv = process.env): string {
  return env[UI_SECRET_ENV] || configDir('webui-secret');
}

/** Unreadable, unsafe or malformed secret file. */
export class UiSecretError extends KubeadmHaError {
  constructor(message: string) {
    super(message, FailureType.InvalidInput);
    this.name = 'UiSecretError';
  }
}

/** Reads the secret, creating it first (atomically: concurrent creators end up with one file) when missing. */
export async function loadUiSecret(path: string = uiSecretPath()): Promise<Buffer> {
  try {
    return await readSecret(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await ensurePrivateDir(dirname(path));
  const tmp = join(dirname(path), `.webui-secret.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(`${randomBytes(SECRET_BYTES).toString('base64url')}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await link(tmp, path); // never replaces: the first creator's secret wins
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await rm(tmp, { force: true });
  }
  return readSecret(path);
}

async function readSecret(path: string): Promise<Buffer> {
  const st = await stat(path);
  const uid = process.getuid?.();
  if (!st.isFile() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o077) !== 0) {
    throw new UiSecretError(
      `refusing Web UI secret ${path}: it must be a regular file of yours with mode 0600. Delete it (a new one is ` +
        'made on the next start; Web UI sessions then need a fresh login link).',
    );
  }
  const secret = Buffer.from((await readFile(path, 'utf8')).trim(), 'base64url');
  if (secret.length !== SECRET_BYTES) throw new UiSecretError(`Web UI secret ${path} is malformed; delete it`);
  return secret;
}

function mac(secret: Buffer, ...parts: (string | number)[]): string {
  return createHmac('sha256', secret).update(parts.join('|')).digest('base64url');
}

function sameMac(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A one-time login token for the Web UI front on `port`: `<issued ms>.<nonce>.<mac>`. */
export function mintLoginToken(secret: Buffer, port: number, now = Date.now()): string {
  const nonce = randomBytes(12).toString('base64url');
  return `${now}.${nonce}.${mac(secret, 'login', port, now, nonce)}`;
}

export type LoginCheck = { ok: true; nonce: string; expiresAt: number } | { ok: false; reason: string };

/**
 * Checks a login token. `notBefore` is when the front started: a token minted for an earlier front on the same port
 * is refused, because that front's memory of used nonces is gone. `used` holds this front's spent nonces.
 */
export function checkLoginToken(
  secret: Buffer,
  port: number,
  token: string,
  opts: { now?: number; notBefore: number; used: ReadonlySet<string> },
): LoginCheck {
  const now = opts.now ?? Date.now();
  const m = /^(\d{1,15})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m) return { ok: false, reason: 'malformed login link' };
  const issued = Number(m[1]);
  const nonce = m[2]!;
  if (!sameMac(m[3]!, mac(secret, 'login', port, issued, nonce))) return { ok: false, reason: 'invalid login link' };
  if (issued + LOGIN_TTL_MS < now || issued > now + 60_000) return { ok: false, reason: 'login link expired' };
  if (issued < opts.notBefore) return { ok: false, reason: 'login link is from before the Web UI restarted' };
  if (opts.used.has(nonce)) return { ok: false, reason: 'login link already used' };
  return { ok: true, nonce, expiresAt: issued + LOGIN_TTL_MS };
}

/** The session cookie's value: `<expires ms>.<mac>`. */
export function mintSession(secret: Buffer, port: number, now = Date.now()): string {
  const expires = now + SESSION_TTL_MS;
  return `${expires}.${mac(secret, 'session', port, expires)}`;
}

export function checkSession(secret: Buffer, port: number, value: string | undefined, now = Date.now()): boolean {
  const m = /^(\d{1,15})\.([A-Za-z0-9_-]{43})$/.exec(value ?? '');
  if (!m) return false;
  const expires = Number(m[1]);
  return expires > now && expires <= now + SESSION_TTL_MS && sameMac(m[2]!, mac(secret, 'session', port, expires));
}

/** A Web UI link that logs the browser in first, then opens `path` (default: the UI's start page). */
export function loginLink(uiUrl: string, secret: Buffer, path = '/'): string {
  const u = new URL(uiUrl);
  const port = Number(u.port || 80);
  const q = new URLSearchParams({ token: mintLoginToken(secret, port), next: path });
  return `${u.origin}${FRONT_PREFIX}/login?${q.toString()}`;
}

/** The value of one cookie in a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}
