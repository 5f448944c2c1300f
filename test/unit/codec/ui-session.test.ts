// The Web UI secret file and the tokens derived from it (pure, plus a temp directory for the file).
import { chmod, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  checkLoginToken,
  checkSession,
  cookieValue,
  LOGIN_TTL_MS,
  loadUiSecret,
  mintLoginToken,
  mintSession,
  SESSION_TTL_MS,
} from '../../../src/codec/ui-session.js';
import { rejectionOf, tempKeyringDir } from './helpers.js';

let t: Awaited<ReturnType<typeof tempKeyringDir>>;
let path: string;
beforeEach(async () => {
  t = await tempKeyringDir();
  path = join(t.dir, 'config', 'webui-secret');
});
afterEach(() => t.cleanup());

describe('Web UI secret', () => {
  it('is created once, 0600 in a 0700 directory, and read back the same by concurrent callers', async () => {
    const all = await Promise.all([loadUiSecret(path), loadUiSecret(path), loadUiSecret(path)]);
    expect(all[0].length).toBe(32);
    for (const s of all) expect(s.equals(all[0])).toBe(true);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(t.dir, 'config'))).mode & 0o777).toBe(0o700);
  });

  it('is refused when other users could read it, or malformed', async () => {
    await loadUiSecret(path);
    await chmod(path, 0o644);
    expect((await rejectionOf(loadUiSecret(path))).message).toMatch(/mode 0600/);
    await writeFile(path, 'short\n', { mode: 0o600 });
    await chmod(path, 0o600);
    expect((await rejectionOf(loadUiSecret(path))).message).toMatch(/malformed/);
  });
});

describe('login tokens and sessions', () => {
  const secret = Buffer.alloc(32, 1);
  const opts = { notBefore: 0, used: new Set<string>() };

  it('a login token is valid for its port within its lifetime, and not before the front started', () => {
    const now = 1_800_000_000_000;
    const tok = mintLoginToken(secret, 8233, now);
    expect(checkLoginToken(secret, 8233, tok, { ...opts, now }).ok).toBe(true);
    expect(checkLoginToken(secret, 8234, tok, { ...opts, now })).toMatchObject({
      ok: false,
      reason: 'invalid login link',
    });
    expect(checkLoginToken(secret, 8233, tok, { ...opts, now: now + LOGIN_TTL_MS + 1 })).toMatchObject({ ok: false });
    expect(checkLoginToken(secret, 8233, tok, { notBefore: now + 1, used: new Set(), now })).toMatchObject({
      ok: false,
    });
    const nonce = tok.split('.')[1]!;
    expect(checkLoginToken(secret, 8233, tok, { notBefore: 0, used: new Set([nonce]), now })).toMatchObject({
      ok: false,
      reason: 'login link already used',
    });
  });

  it('a session is valid for its port until it expires, and cannot be extended by editing the expiry', () => {
    const now = 1_800_000_000_000;
    const s = mintSession(secret, 8233, now);
    expect(checkSession(secret, 8233, s, now)).toBe(true);
    expect(checkSession(secret, 8234, s, now)).toBe(false);
    expect(checkSession(secret, 8233, s, now + SESSION_TTL_MS + 1)).toBe(false);
    const [exp, mac] = s.split('.');
    expect(checkSession(secret, 8233, `${Number(exp) + 1000}.${mac}`, now)).toBe(false);
    expect(checkSession(Buffer.alloc(32, 2), 8233, s, now)).toBe(false);
    expect(checkSession(secret, 8233, undefined, now)).toBe(false);
  });

  it('reads one cookie out of a Cookie header', () => {
    expect(cookieValue('a=1; kubeadm2ha_ui_8233=x.y; b=2', 'kubeadm2ha_ui_8233')).toBe('x.y');
    expect(cookieValue('kubeadm2ha_ui_82330=z', 'kubeadm2ha_ui_8233')).toBeUndefined();
  });
});
