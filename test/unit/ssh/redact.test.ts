import { describe, expect, it } from 'vitest';
import { redact, redactedTail } from '../../../src/ssh/redact.js';

describe('redact', () => {
  it('masks bootstrap tokens anywhere', () => {
    expect(redact('token: abcdef.0123456789abcdef')).toBe('token: [redacted]');
    expect(redact('kubeadm join 10.0.0.1:6443 --token abcdef.0123456789abcdef')).not.toContain('0123456789abcdef');
  });

  it('masks --token and --certificate-key values but keeps the public CA hash', () => {
    const line =
      'kubeadm join vip:8443 --token secret-ish --discovery-token-ca-cert-hash sha256:' +
      'a'.repeat(64) +
      ' --control-plane --certificate-key ' +
      'b'.repeat(64);
    const out = redact(line);
    expect(out).toContain('--token [redacted]');
    expect(out).toContain(`sha256:${'a'.repeat(64)}`);
    expect(out).toContain('--certificate-key [redacted]');
    expect(out).not.toContain('b'.repeat(64));
    expect(redact('--token=xyz')).toBe('--token=[redacted]');
  });

  it('masks kubeadm "Using certificate key" output', () => {
    expect(redact(`Using certificate key:\n${'c'.repeat(64)}`)).not.toContain('c'.repeat(64));
  });

  it('masks PEM private key blocks, also cut-off ones, but not certificates', () => {
    const key = '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\nsecret\n-----END EC PRIVATE KEY-----';
    expect(redact(`before\n${key}\nafter`)).toBe('before\n-----BEGIN EC PRIVATE KEY----- [redacted]\nafter');
    expect(redact('-----BEGIN PRIVATE KEY-----\nMIIEvQ\nmore')).toBe('-----BEGIN PRIVATE KEY----- [redacted]');
    const cert = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';
    expect(redact(cert)).toBe(cert);
  });

  it('masks bearer tokens', () => {
    expect(redact('Authorization: Bearer eyJhbGciOi.x.y')).toBe('Authorization: Bearer [redacted]');
  });

  it('redactedTail keeps the last non-empty lines', () => {
    const text = Array.from({ length: 30 }, (_, i) => `line ${i}`).join('\n\n');
    const tail = redactedTail(text, 20).split('\n');
    expect(tail).toHaveLength(20);
    expect(tail[0]).toBe('line 10');
    expect(tail.at(-1)).toBe('line 29');
  });
});
