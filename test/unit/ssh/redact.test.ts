import { generateKeyPairSync } from 'node:crypto';
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

  describe('kubeadm secrets', () => {
    const token = 'k8s0ab.c1d2e3f4a5b6c7d8';
    const hash = `sha256:${'0123456789abcdef'.repeat(4)}`;
    const certKey = 'f00dfeed'.repeat(8);

    it('masks the token of a join command but keeps the discovery CA hash (public)', () => {
      const out = redact(`kubeadm join 10.200.0.10:8443 --token ${token} --discovery-token-ca-cert-hash ${hash}`);
      expect(out).not.toContain(token);
      expect(out).toContain(`--discovery-token-ca-cert-hash ${hash}`);
      const eq = redact(`--discovery-token=${token} --discovery-token-ca-cert-hash=${hash}`);
      expect(eq).toBe(`--discovery-token=[redacted] --discovery-token-ca-cert-hash=${hash}`);
      expect(redact(`--tls-bootstrap-token ${token}`)).toBe('--tls-bootstrap-token [redacted]');
    });

    it('masks a bootstrap token in kubeadm output and YAML/JSON, and leaves look-alikes alone', () => {
      const list = `TOKEN                     TTL   EXPIRES\n${token}   23h   2030-01-01T00:00:00Z`;
      expect(redact(list)).not.toContain(token);
      expect(redact(`bootstrapTokens:\n- token: "${token}"`)).toBe('bootstrapTokens:\n- token: "[redacted]"');
      expect(redact(JSON.stringify({ token }))).toBe('{"token":"[redacted]"}');
      // Not the token format: upper case, wrong lengths, a version string, a file name.
      for (const keep of ['ABCDEF.0123456789ABCDEF', 'abcdef.0123456789abcde', 'v1.31.0', 'kubeadm-config.yaml']) {
        expect(redact(keep)).toBe(keep);
      }
    });

    it('masks --certificate-key in both flag forms, kubeadm init output and certificateKey in config', () => {
      expect(redact(`kubeadm join vip:8443 --control-plane --certificate-key ${certKey}`)).toBe(
        'kubeadm join vip:8443 --control-plane --certificate-key [redacted]',
      );
      expect(redact(`--certificate-key=${certKey}`)).toBe('--certificate-key=[redacted]');
      expect(redact(`[upload-certs] Using certificate key:\n${certKey}\n`)).not.toContain(certKey);
      expect(redact(`certificateKey: ${certKey}`)).toBe('certificateKey: [redacted]');
      expect(redact(`{"certificateKey":"${certKey}"}`)).toBe('{"certificateKey":"[redacted]"}');
    });

    it('masks real private keys of every kind node generates, and kubeconfig client-key-data', () => {
      const pems = [
        generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
        generateKeyPairSync('ec', { namedCurve: 'P-256' })
          .privateKey.export({ format: 'pem', type: 'sec1' })
          .toString(),
        generateKeyPairSync('rsa', { modulusLength: 1024 })
          .privateKey.export({ format: 'pem', type: 'pkcs1' })
          .toString(),
      ];
      for (const pem of pems) {
        const body = pem.split('\n').slice(1, -2).join('\n');
        const out = redact(`cat /etc/kubernetes/pki/x.key\n${pem}done`);
        expect(out).not.toContain(body.slice(0, 40));
        expect(out).toMatch(/-----BEGIN [A-Z ]*PRIVATE KEY----- \[redacted\]\ndone$/);
      }
      const keyData = Buffer.from(pems[0]!).toString('base64');
      const kubeconfig = `users:\n- name: kubernetes-admin\n  user:\n    client-certificate-data: LS0tQ0VSVA==\n    client-key-data: ${keyData}\n`;
      const out = redact(kubeconfig);
      expect(out).not.toContain(keyData.slice(0, 30));
      expect(out).toContain('client-key-data: [redacted]');
      expect(out).toContain('client-certificate-data: LS0tQ0VSVA=='); // certificates are public
    });

    it('masks kubeconfig / service-account bearer tokens', () => {
      const jwt = 'eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
      expect(redact(`    token: ${jwt}`)).toBe('    token: [redacted]');
      expect(redact(`"token": "${jwt}"`)).toBe('"token": "[redacted]"');
    });

    it('is idempotent', () => {
      const text = `kubeadm join x --token ${token} --certificate-key ${certKey}\ncertificateKey: ${certKey}`;
      expect(redact(redact(text))).toBe(redact(text));
    });
  });
});
