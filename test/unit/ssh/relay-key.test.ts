// The relay key pair: every one OpenSSH can load (ssh2 makes about one ed25519 key in a hundred that it refuses, a
// public half with a leading zero byte written as 31 bytes), checked with the real ssh-keygen.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { relayKeyPair } from '../../../src/ssh/relay-key.js';

describe('relayKeyPair', () => {
  it('250 keys in a row: ssh-keygen loads each private key and derives its public line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'k2h-relay-key-'));
    try {
      for (let i = 0; i < 250; i++) {
        const { privateKey, publicKey } = relayKeyPair(`kubeadm2ha-relay-${i}`);
        const file = join(dir, 'key');
        writeFileSync(file, privateKey, { mode: 0o600 });
        const derived = execFileSync('ssh-keygen', ['-y', '-f', file], { encoding: 'utf8' }).trim();
        expect(derived.split(' ').slice(0, 2)).toEqual(publicKey.split(' ').slice(0, 2));
        rmSync(file);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
