// Host strings at the SSH sinks (src/ssh/host-names.ts): resolution of the target and of the bastion, and the
// known_hosts line written under accept-new. Each must refuse, naming the host, what would otherwise become a
// line break or a pattern in known_hosts.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KubeadmHaError } from '../../../src/errors.js';
import { SshSettings } from '../../../src/inventory/schema.js';
import { isHostName } from '../../../src/ssh/host-names.js';
import { appendKnownHost, formatKnownHost, parseKnownHosts } from '../../../src/ssh/known-hosts.js';
import { resolveTarget } from '../../../src/ssh/resolve.js';
import { parseSshConfig } from '../../../src/ssh/ssh-config.js';

const dir = await mkdtemp(join(tmpdir(), 'k2h-hostnames-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

function ed25519Blob(): Buffer {
  const raw = Buffer.from(generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }).x ?? '', 'base64url');
  const str = (b: Buffer): Buffer => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  return Buffer.concat([str(Buffer.from('ssh-ed25519')), str(raw)]);
}

const hostile = ['10.0.0.1\n* ssh-ed25519 AAAA', '*', 'h?', '!h1', 'h1,h2', 'h1 h2', '[h1]:22', 'h1\r', '', 'a\u0000b'];

function thrown(fn: () => unknown): KubeadmHaError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(KubeadmHaError);
    return err as KubeadmHaError;
  }
  throw new Error('expected a refusal');
}

describe('host names at the SSH sinks', () => {
  it('accepts DNS names, IPv4 and IPv6 addresses', () => {
    for (const ok of ['h1', 'm-1.example.com', 'bastion_1.lab', '10.200.0.11', 'fd00::11', '::1', 'example.com.'])
      expect(isHostName(ok), ok).toBe(true);
  });

  it('refuses line breaks, control characters, patterns and lists', () => {
    for (const bad of [...hostile, 'fe80::1%eth0', 'a'.repeat(64)])
      expect(isHostName(bad), bad).toBe(false);
  });

  it('the known_hosts writer refuses them and the file stays as it was', async () => {
    const file = join(dir, 'known_hosts');
    await writeFile(
      file,
      '10.0.0.9 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKIt3jjehuX7FcFPX+CtPUjL3uvuHDRjTMJMx0CEZMYG\n',
    );
    const before = await readFile(file, 'utf8');
    const key = ed25519Blob();
    for (const bad of hostile) {
      const err = thrown(() => formatKnownHost(bad, 22, key));
      expect(err.type).toBe('InvalidInput');
      expect(err.retryable).toBe(false);
    }
    expect(() => formatKnownHost('h1', 22, key, 'ok\nh2 ssh-ed25519 AAAA')).toThrow(/control character/);
    expect(await readFile(file, 'utf8')).toBe(before);
    // A good one still goes in as one line for one host.
    await appendKnownHost(file, formatKnownHost('10.0.0.12', 2222, key));
    expect(parseKnownHosts(await readFile(file, 'utf8')).map((e) => e.patterns)).toEqual([
      ['10.0.0.9'],
      ['[10.0.0.12]:2222'],
    ]);
  });

  it('target resolution refuses a bad address, naming the host', () => {
    const err = thrown(() => resolveTarget({ name: 'm1', address: '10.0.0.1\nx' }, SshSettings.parse({}), [], '/h'));
    expect(err.type).toBe('InvalidInput');
    expect(err.message).toBe(
      'm1: address "10.0.0.1\\nx" is not a host name, IPv4 or IPv6 address; refusing to connect',
    );
  });

  it('bastion resolution refuses a bad bastion, from the plan or from ssh config', () => {
    const settings = SshSettings.parse({});
    const viaPlan = thrown(() =>
      resolveTarget({ name: 'm1', address: '10.0.0.1', bastion: 'root@[a\nb]' }, settings, [], '/h'),
    );
    expect(viaPlan.message).toMatch(/^m1: bastion "a\\nb" is not a host name/);
    const config = parseSshConfig('Host jumper\n  HostName *\n');
    const viaConfig = thrown(() =>
      resolveTarget({ name: 'm1', address: '10.0.0.1', bastion: 'jumper' }, settings, config, '/h'),
    );
    expect(viaConfig.message).toMatch(/^m1: bastion HostName \(ssh config\) "\*" is not a host name/);
  });
});
