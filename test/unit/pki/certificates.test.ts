import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  createCa,
  issueCertificate,
  keyMatchesCertificate,
  parseCertificate,
  type CertificateAndKey,
  type KeyType,
} from '../../../src/pki/index.js';
import { Scratch } from './openssl.js';

const scratch = new Scratch();
afterAll(() => scratch.remove());

const hostSans = { dnsNames: ['h1', 'localhost'], ipAddresses: ['10.200.0.11', '127.0.0.1', '::1'] };
const privateKeyHeader: Record<KeyType, string> = {
  'ecdsa-p256': '-----BEGIN EC PRIVATE KEY-----',
  'rsa-2048': '-----BEGIN RSA PRIVATE KEY-----',
  'rsa-3072': '-----BEGIN RSA PRIVATE KEY-----',
  'rsa-4096': '-----BEGIN RSA PRIVATE KEY-----',
};

/** openssl's own view: the key's public half equals the certificate's. */
function opensslKeyMatches(name: string, pair: CertificateAndKey): boolean {
  const key = scratch.openssl('pkey', '-in', scratch.file(`${name}.key`, pair.keyPem), '-pubout');
  const cert = scratch.openssl('x509', '-in', scratch.file(`${name}.crt`, pair.certPem), '-noout', '-pubkey');
  return key.code === 0 && cert.code === 0 && key.out === cert.out;
}

// RSA-4096 keys take about a second each; the slow type gets the CA + server case only.
describe.each<[KeyType, boolean]>([
  ['ecdsa-p256', true],
  ['rsa-2048', true],
  ['rsa-3072', false],
  ['rsa-4096', false],
])('%s', (keyType, full) => {
  const now = new Date();
  let ca: CertificateAndKey;
  let server: CertificateAndKey;
  let caFile: string;

  beforeAll(async () => {
    ca = await createCa({ commonName: 'etcd-ca', keyType, validityDays: 3650, now });
    server = await issueCertificate({ ca, commonName: 'h1', keyType, validityDays: 365, usages: 'peer', ...hostSans, now });
    caFile = scratch.file(`${keyType}-ca.crt`, ca.certPem);
    // RSA-4096 generation takes seconds on a loaded 2-core machine; the default 10 s hook limit is too tight.
  }, 120_000);

  it('makes a self-signed CA that openssl accepts as a CA (critical CA:TRUE, critical keyUsage with keyCertSign)', () => {
    expect(scratch.openssl('verify', '-CAfile', caFile, caFile)).toMatchObject({ code: 0 });
    const text = scratch.openssl('x509', '-in', caFile, '-noout', '-text').out;
    expect(text).toMatch(/Basic Constraints: critical\s+CA:TRUE/);
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature, Key Encipherment, Certificate Sign/);
    expect(text).toMatch(/Subject Key Identifier/);
    expect(text).toContain('Subject: CN = etcd-ca');
    expect(ca.keyPem.startsWith(privateKeyHeader[keyType])).toBe(true);
    expect(opensslKeyMatches(`${keyType}-ca`, ca)).toBe(true);
  });

  it('issues a server certificate that openssl verifies for TLS server and client use, with real IP SANs', () => {
    const file = scratch.file(`${keyType}-server.crt`, server.certPem);
    expect(scratch.openssl('verify', '-CAfile', caFile, '-purpose', 'sslserver', file)).toMatchObject({ code: 0 });
    expect(scratch.openssl('verify', '-CAfile', caFile, '-purpose', 'sslclient', file)).toMatchObject({ code: 0 });
    const text = scratch.openssl('x509', '-in', file, '-noout', '-text').out;
    expect(text).toContain('DNS:h1, DNS:localhost, IP Address:10.200.0.11, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature, Key Encipherment/);
    expect(text).toMatch(/Extended Key Usage:\s*\n\s+TLS Web Server Authentication, TLS Web Client Authentication/);
    expect(text).toMatch(/Signature Algorithm: (ecdsa-with-SHA256|sha256WithRSAEncryption)/);
    expect(scratch.openssl('x509', '-in', file, '-noout', '-checkend', String(364 * 86400))).toMatchObject({ code: 0 });
    expect(scratch.openssl('x509', '-in', file, '-noout', '-checkend', String(366 * 86400)).code).toBe(1);
    expect(server.keyPem.startsWith(privateKeyHeader[keyType])).toBe(true);
    expect(opensslKeyMatches(`${keyType}-server`, server)).toBe(true);
    expect(keyMatchesCertificate(server.keyPem, server.certPem)).toBe(true);
  });

  it.runIf(full)('issues client certificates (healthcheck, apiserver-etcd-client) with kubeadm subjects', async () => {
    const client = await issueCertificate({
      ca,
      commonName: 'kube-apiserver-etcd-client',
      organization: 'system:masters',
      keyType,
      validityDays: 365,
      usages: 'client',
    });
    const file = scratch.file(`${keyType}-client.crt`, client.certPem);
    expect(scratch.openssl('verify', '-CAfile', caFile, '-purpose', 'sslclient', file)).toMatchObject({ code: 0 });
    // A client-only certificate must not pass as a server one.
    expect(scratch.openssl('verify', '-CAfile', caFile, '-purpose', 'sslserver', file).code).not.toBe(0);
    const text = scratch.openssl('x509', '-in', file, '-noout', '-text').out;
    expect(text).toContain('Subject: O = system:masters, CN = kube-apiserver-etcd-client');
    expect(text).not.toContain('Subject Alternative Name');
    expect(opensslKeyMatches(`${keyType}-client`, client)).toBe(true);
  });

  it.runIf(full)('sets serial, validity window and key identifiers as kubeadm does', () => {
    const info = parseCertificate(server.certPem);
    expect(info.serial).toMatch(/^[4-7][0-9A-F]{31}$/); // 16 bytes, positive, no padding byte
    const second = Math.floor(now.getTime() / 1000) * 1000;
    expect(info.notBefore.getTime()).toBe(second - 5 * 60 * 1000);
    expect(info.notAfter.getTime()).toBe(second + 365 * 86400 * 1000);
    expect(info).toMatchObject({ subjectCommonName: 'h1', issuerCommonName: 'etcd-ca', isCa: false });
    expect(info.sans).toEqual({ dnsNames: ['h1', 'localhost'], ipAddresses: ['10.200.0.11', '127.0.0.1', '::1'] });
    expect(parseCertificate(ca.certPem).isCa).toBe(true);
    // AKI of the leaf = SKI of the CA: openssl prints both as the same hex.
    const ski = /Subject Key Identifier:\s*\n\s*([0-9A-F:]+)/.exec(
      scratch.openssl('x509', '-in', caFile, '-noout', '-text').out,
    )?.[1];
    const leafText = scratch.openssl('x509', '-in', scratch.file(`${keyType}-s2.crt`, server.certPem), '-noout', '-text');
    expect(ski).toBeDefined();
    expect(leafText.out).toMatch(new RegExp(`Authority Key Identifier:\\s*\\n\\s*(keyid:)?${ski}`));
  });
});

describe('mixed key types (the inventory keyType changed after the CA was made)', () => {
  it.each<[KeyType, KeyType]>([
    ['rsa-2048', 'ecdsa-p256'],
    ['ecdsa-p256', 'rsa-2048'],
  ])('a %s CA signs a %s leaf that openssl verifies', async (caType, leafType) => {
    const ca = await createCa({ commonName: 'mixed-ca', keyType: caType, validityDays: 30 });
    const leaf = await issueCertificate({ ca, commonName: 'h1', keyType: leafType, validityDays: 10, usages: 'server', ...hostSans });
    const caFile = scratch.file(`mixed-${caType}-ca.crt`, ca.certPem);
    const leafFile = scratch.file(`mixed-${caType}-leaf.crt`, leaf.certPem);
    expect(scratch.openssl('verify', '-CAfile', caFile, '-purpose', 'sslserver', leafFile)).toMatchObject({ code: 0 });
  });
});

describe('issuing guards', () => {
  it('caps a leaf at its CA expiry', async () => {
    const ca = await createCa({ commonName: 'short-ca', keyType: 'ecdsa-p256', validityDays: 10 });
    const leaf = await issueCertificate({ ca, commonName: 'x', keyType: 'ecdsa-p256', validityDays: 365, usages: 'client' });
    expect(parseCertificate(leaf.certPem).notAfter).toEqual(parseCertificate(ca.certPem).notAfter);
  });

  it('refuses an IP address given as a DNS name, a bad IP, a non-CA issuer and a CA key that is not the CA’s', async () => {
    const ca = await createCa({ commonName: 'guard-ca', keyType: 'ecdsa-p256', validityDays: 10 });
    const other = await createCa({ commonName: 'other-ca', keyType: 'ecdsa-p256', validityDays: 10 });
    const base = { ca, commonName: 'h1', keyType: 'ecdsa-p256' as const, validityDays: 5, usages: 'server' as const };
    await expect(issueCertificate({ ...base, dnsNames: ['10.0.0.1'] })).rejects.toThrow(/is an IP address: pass it in ipAddresses/);
    await expect(issueCertificate({ ...base, ipAddresses: ['10.0.0.256'] })).rejects.toThrow(/not an IPv4 or IPv6 address/);
    await expect(issueCertificate({ ...base, ca: { certPem: ca.certPem, keyPem: other.keyPem } })).rejects.toThrow(
      /CA key does not belong/,
    );
    const leaf = await issueCertificate(base);
    await expect(issueCertificate({ ...base, ca: leaf })).rejects.toThrow(/is not a CA/);
    await expect(createCa({ commonName: 'x', keyType: 'ecdsa-p256', validityDays: 0 })).rejects.toThrow(/positive number of days/);
  });
});
