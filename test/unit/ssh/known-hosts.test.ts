import { createHmac, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import {
  appendKnownHost,
  checkHostKey,
  describeExpected,
  describeKey,
  entryMatches,
  fingerprint,
  formatKnownHost,
  knownHostName,
  parseKnownHosts,
  preferredAlgorithms,
} from '../../../src/ssh/known-hosts.js';

/** A real ed25519 public key blob in SSH wire format. */
function ed25519Blob(): Buffer {
  const jwk = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
  const raw = Buffer.from(jwk.x ?? '', 'base64url');
  const str = (b: Buffer): Buffer => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  return Buffer.concat([str(Buffer.from('ssh-ed25519')), str(raw)]);
}

const k1 = ed25519Blob();
const k2 = ed25519Blob();
const b64 = (k: Buffer): string => k.toString('base64');
const hashed = (name: string, salt = Buffer.from('0123456789abcdefghij')): string =>
  `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;

const dir = await mkdtemp(join(tmpdir(), 'k2h-kh-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('known_hosts parsing and matching', () => {
  it('uses [host]:port off port 22', () => {
    expect(knownHostName('10.0.0.1', 22)).toBe('10.0.0.1');
    expect(knownHostName('Example.COM', 2222)).toBe('[example.com]:2222');
  });

  it('matches plain, comma-list, wildcard, negated and bracketed patterns', () => {
    const [e] = parseKnownHosts(`m1,10.0.0.11,*.lab,!bad.lab,[h9]:2222 ssh-ed25519 ${b64(k1)} comment`);
    expect(e).toBeDefined();
    if (!e) return;
    expect(entryMatches(e, 'm1')).toBe(true);
    expect(entryMatches(e, '10.0.0.11')).toBe(true);
    expect(entryMatches(e, 'x.lab')).toBe(true);
    expect(entryMatches(e, 'bad.lab')).toBe(false);
    expect(entryMatches(e, '[h9]:2222')).toBe(true);
    expect(entryMatches(e, 'h9')).toBe(false);
    expect(entryMatches(e, 'm2')).toBe(false);
  });

  it('matches hashed |1|salt|hash entries', () => {
    const entries = parseKnownHosts(
      `${hashed('10.0.0.12')} ssh-ed25519 ${b64(k1)}\n${hashed('[m3]:2200')} ssh-ed25519 ${b64(k2)}`,
    );
    expect(entries).toHaveLength(2);
    expect(checkHostKey(entries, ['10.0.0.12'], k1)).toEqual({ kind: 'known' });
    expect(checkHostKey(entries, ['10.0.0.13'], k1)).toEqual({ kind: 'unknown' });
    expect(checkHostKey(entries, ['[m3]:2200'], k2)).toEqual({ kind: 'known' });
  });

  it('matches what ssh-keygen -H writes', () => {
    const file = join(dir, 'hashed');
    execFileSync('sh', ['-c', `printf '%s\\n' "h7 ssh-ed25519 ${b64(k1)}" > ${file} && ssh-keygen -q -H -f ${file}`]);
    return readFile(file, 'utf8').then((text) => {
      expect(text.startsWith('|1|')).toBe(true);
      expect(checkHostKey(parseKnownHosts(text), ['h7'], k1)).toEqual({ kind: 'known' });
    });
  });

  it('skips comments, blank, malformed and @cert-authority lines', () => {
    const entries = parseKnownHosts(
      ['# comment', '', 'onlyhost', `m1 ssh-rsa ${b64(k1)}`, `@cert-authority *.lab ssh-ed25519 ${b64(k1)}`].join('\n'),
    );
    // ssh-rsa with an ed25519 blob is malformed (type and blob disagree) and dropped.
    expect(entries.map((e) => e.marker)).toEqual(['cert-authority']);
    expect(checkHostKey(entries, ['x.lab'], k1)).toEqual({ kind: 'unknown' });
  });

  it('reports a changed key with the expected fingerprint and its line', () => {
    const entries = parseKnownHosts(`# header\nm2 ssh-ed25519 ${b64(k2)}\nm1 ssh-ed25519 ${b64(k1)}`);
    const verdict = checkHostKey(entries, ['m1'], k2);
    expect(verdict).toEqual({
      kind: 'changed',
      expected: [{ keyType: 'ssh-ed25519', fingerprint: fingerprint(k1), line: 3 }],
    });
    if (verdict.kind !== 'changed') return;
    expect(describeExpected('/kh', verdict.expected)).toBe(`ssh-ed25519 ${fingerprint(k1)} (/kh:3)`);
    expect(describeKey(k2)).toBe(`ssh-ed25519 ${fingerprint(k2)}`);
  });

  it('refuses a @revoked key even when also listed as known', () => {
    const entries = parseKnownHosts(`@revoked * ssh-ed25519 ${b64(k1)}\nm1 ssh-ed25519 ${b64(k1)}`);
    expect(checkHostKey(entries, ['m1'], k1)).toEqual({ kind: 'revoked', line: 1 });
  });

  it('prefers the algorithms of known keys', () => {
    const entries = parseKnownHosts(`m1 ssh-ed25519 ${b64(k1)}`);
    expect(preferredAlgorithms(entries, ['m1'])).toEqual(['ssh-ed25519']);
    expect(preferredAlgorithms(entries, ['m2'])).toEqual([]);
  });

  it('fingerprints like ssh-keygen -l (SHA256, unpadded base64)', () => {
    const file = join(dir, 'pub');
    return writeFile(file, `ssh-ed25519 ${b64(k1)} x\n`).then(() => {
      const out = execFileSync('ssh-keygen', ['-l', '-f', file], { encoding: 'utf8' });
      expect(out.split(' ')[1]).toBe(fingerprint(k1));
      expect(fingerprint(k1)).not.toMatch(/=$/);
    });
  });
});

describe('recording keys', () => {
  it('appends OpenSSH-format lines, adding a missing final newline', async () => {
    const file = join(dir, 'sub', 'known_hosts');
    await appendKnownHost(file, formatKnownHost('10.0.0.11', 22, k1));
    await writeFile(file, (await readFile(file, 'utf8')).trimEnd()); // as if edited by hand
    await appendKnownHost(file, formatKnownHost('10.0.0.12', 2222, k2));
    const text = await readFile(file, 'utf8');
    expect(text).toBe(`10.0.0.11 ssh-ed25519 ${b64(k1)}\n[10.0.0.12]:2222 ssh-ed25519 ${b64(k2)}\n`);
    const entries = parseKnownHosts(text);
    expect(checkHostKey(entries, [knownHostName('10.0.0.12', 2222)], k2)).toEqual({ kind: 'known' });
  });

  it('keeps every line under concurrent appends', async () => {
    const file = join(dir, 'concurrent');
    const keys = Array.from({ length: 20 }, () => ed25519Blob());
    await Promise.all(keys.map((k, i) => appendKnownHost(file, formatKnownHost(`h${i}`, 22, k))));
    const entries = parseKnownHosts(await readFile(file, 'utf8'));
    expect(entries).toHaveLength(20);
  });
});
