import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CodecKeyError, keyringPath, loadKeyring, rotateKey } from '../../../src/codec/keyring.js';
import { configDir } from '../../../src/paths.js';
import { rejectionOf, tempKeyringDir } from './helpers.js';

let t: Awaited<ReturnType<typeof tempKeyringDir>>;
beforeEach(async () => {
  t = await tempKeyringDir();
});
afterEach(async () => {
  await t.cleanup();
});

describe('keyring', () => {
  it('is created on first use: 0600 file in a 0700 directory, one active 32-byte key', async () => {
    const ring = await loadKeyring(t.path, { create: true });
    expect((await stat(t.path)).mode & 0o777).toBe(0o600);
    expect((await stat(dirname(t.path))).mode & 0o777).toBe(0o700);
    expect(ring.keys.size).toBe(1);
    expect(ring.keys.get(ring.activeId)?.key.symmetricKeySize).toBe(32);
    const file = JSON.parse(await readFile(t.path, 'utf8')) as { active: string; keys: { key: string }[] };
    expect(file.active).toBe(ring.activeId);
    expect(Buffer.from(file.keys[0]!.key, 'base64')).toHaveLength(32);
  });

  it('is not created when only reading, and the error says what to do', async () => {
    await expect(loadKeyring(t.path)).rejects.toThrow(/no codec keyring at .*copy that machine's keyring/);
  });

  it('concurrent first uses all end up with the same single key', async () => {
    const rings = await Promise.all(Array.from({ length: 8 }, () => loadKeyring(t.path, { create: true })));
    expect(new Set(rings.map((r) => r.activeId)).size).toBe(1);
    expect(rings.every((r) => r.keys.size === 1)).toBe(true);
  });

  it('never shows key material when logged or serialised', async () => {
    const ring = await loadKeyring(t.path, { create: true });
    const file = JSON.parse(await readFile(t.path, 'utf8')) as { keys: { key: string }[] };
    const secret = file.keys[0]!.key;
    const hex = Buffer.from(secret, 'base64').toString('hex');
    for (const shown of [
      inspect(ring, { depth: 10, showHidden: true }),
      JSON.stringify({ ...ring, keys: [...ring.keys.values()] }),
    ]) {
      expect(shown).not.toContain(secret);
      expect(shown).not.toContain(hex);
      expect(shown).not.toContain(hex.slice(0, 16).match(/../g)!.join(' ')); // Buffer-style "ab cd ef" bytes
    }
  });

  it('rotation adds a new active key and keeps the old ones', async () => {
    const first = await loadKeyring(t.path, { create: true });
    const r = await rotateKey(t.path);
    expect(r.previous).toBe(first.activeId);
    expect(r.id).not.toBe(first.activeId);
    const after = await loadKeyring(t.path);
    expect(after.activeId).toBe(r.id);
    expect([...after.keys.keys()].sort()).toEqual([first.activeId, r.id].sort());
    expect((await stat(t.path)).mode & 0o777).toBe(0o600);
  });

  it('concurrent rotations lose no key', async () => {
    await loadKeyring(t.path, { create: true });
    const results = await Promise.all([rotateKey(t.path), rotateKey(t.path), rotateKey(t.path)]);
    const ring = await loadKeyring(t.path);
    expect(ring.keys.size).toBe(4);
    for (const r of results) expect(ring.keys.has(r.id)).toBe(true);
  });

  it('refuses a keyring other users can read, and says how to fix it', async () => {
    await loadKeyring(t.path, { create: true });
    await chmod(t.path, 0o644);
    await expect(loadKeyring(t.path)).rejects.toThrow(CodecKeyError);
    await expect(loadKeyring(t.path)).rejects.toThrow(/mode 0644 .*chmod 600/);
    await expect(rotateKey(t.path)).rejects.toThrow(/mode 0644/);
    await chmod(t.path, 0o600);
    await expect(loadKeyring(t.path)).resolves.toBeDefined();
  });

  it('rejects malformed files without quoting their contents', async () => {
    await loadKeyring(t.path, { create: true });
    const file = JSON.parse(await readFile(t.path, 'utf8')) as { keys: { key: string }[] };
    const shortKey = Buffer.alloc(16, 7).toString('base64');
    file.keys[0]!.key = shortKey;
    await writeFile(t.path, JSON.stringify(file), { mode: 0o600 });
    const err = await rejectionOf(loadKeyring(t.path));
    expect(err.message).toMatch(/is not 32 bytes/);
    expect(err.message).not.toContain(shortKey);

    await writeFile(
      t.path,
      JSON.stringify({ version: 1, active: 'x', keys: [{ id: 'bad id!', created: '', key: 'c2VjcmV0' }] }),
    );
    const err2 = await rejectionOf(loadKeyring(t.path));
    expect(err2.message).toMatch(/malformed: keys\.0\.id/);
    expect(err2.message).not.toContain('c2VjcmV0');

    await writeFile(t.path, '{not json');
    await expect(loadKeyring(t.path)).rejects.toThrow(/not valid JSON/);
  });

  it('KUBEADM2HA_CODEC_KEYRING overrides the config directory', () => {
    expect(keyringPath({ KUBEADM2HA_CODEC_KEYRING: '/x/k.json' })).toBe('/x/k.json');
    expect(keyringPath({})).toBe(configDir('codec-keyring.json'));
  });
});
