import { beforeAll, describe, expect, it } from 'vitest';

import { createCa, issueCertificate, needsRenewal, type CertificateAndKey } from '../../../src/pki/index.js';

const DAY = 86400 * 1000;
const sans = { dnsNames: ['h1', 'localhost'], ipAddresses: ['10.200.0.11', '127.0.0.1', '::1'] };

describe('needsRenewal', () => {
  let ca: CertificateAndKey;
  let otherCa: CertificateAndKey;
  let fresh: CertificateAndKey;

  beforeAll(async () => {
    ca = await createCa({ commonName: 'etcd-ca', keyType: 'ecdsa-p256', validityDays: 3650 });
    otherCa = await createCa({ commonName: 'etcd-ca', keyType: 'ecdsa-p256', validityDays: 3650 });
    fresh = await issueCertificate({ ca, commonName: 'h1', keyType: 'ecdsa-p256', validityDays: 365, usages: 'peer', ...sans });
  });

  it('keeps a fresh certificate that chains to the CA and has the expected SANs, so a rerun changes nothing', () => {
    const verdict = needsRenewal(fresh.certPem, {
      ca: ca.certPem,
      minDaysLeft: 30,
      expectedSans: sans,
      commonName: 'h1',
      keyType: 'ecdsa-p256',
    });
    expect(verdict).toEqual({ renew: false, reasons: [] });
  });

  it('keeps a certificate whose IPv6 SAN is spelled differently or that has extra names', () => {
    const expectedSans = { dnsNames: ['H1'], ipAddresses: ['0:0:0:0:0:0:0:1', '10.200.0.11'] };
    expect(needsRenewal(fresh.certPem, { ca: ca.certPem, minDaysLeft: 30, expectedSans }).renew).toBe(false);
  });

  it('flags an expired certificate', async () => {
    const longAgo = new Date(Date.now() - 400 * DAY);
    const old = await issueCertificate({ ca: await createCa({ commonName: 'etcd-ca', keyType: 'ecdsa-p256', validityDays: 3650, now: longAgo }), commonName: 'h1', keyType: 'ecdsa-p256', validityDays: 365, usages: 'peer', now: longAgo });
    const verdict = needsRenewal(old.certPem, { ca: old.certPem, minDaysLeft: 30 });
    expect(verdict.renew).toBe(true);
    expect(verdict.reasons.join('\n')).toMatch(/^expired on /m);
  });

  it('flags a certificate close to expiry, and not one just outside the threshold', () => {
    const in340Days = new Date(Date.now() + 340 * DAY);
    const near = needsRenewal(fresh.certPem, { ca: ca.certPem, minDaysLeft: 30, now: in340Days });
    expect(near.renew).toBe(true);
    expect(near.reasons).toEqual([expect.stringMatching(/^expires in 25\.\d days \(renewing below 30\)$/)]);
    const in330Days = new Date(Date.now() + 330 * DAY);
    expect(needsRenewal(fresh.certPem, { ca: ca.certPem, minDaysLeft: 30, now: in330Days }).renew).toBe(false);
  });

  it('flags a certificate not yet valid (host clock far behind)', () => {
    const verdict = needsRenewal(fresh.certPem, { ca: ca.certPem, minDaysLeft: 30, now: new Date(Date.now() - DAY) });
    expect(verdict.reasons).toEqual([expect.stringMatching(/^not valid before /)]);
  });

  it('flags a certificate from another CA, even one with the same name', () => {
    const verdict = needsRenewal(fresh.certPem, { ca: otherCa.certPem, minDaysLeft: 30 });
    expect(verdict).toEqual({ renew: true, reasons: ['not issued by the expected CA (issuer: etcd-ca)'] });
  });

  it('flags missing SANs and names them', () => {
    const expectedSans = { dnsNames: ['h1', 'etcd.example.org'], ipAddresses: ['10.200.0.12', '127.0.0.1'] };
    const verdict = needsRenewal(fresh.certPem, { ca: ca.certPem, minDaysLeft: 30, expectedSans });
    expect(verdict).toEqual({ renew: true, reasons: ['missing SANs: DNS:etcd.example.org, IP:10.200.0.12'] });
  });

  it('flags a renamed host and a changed key type', () => {
    const verdict = needsRenewal(fresh.certPem, { ca: ca.certPem, minDaysLeft: 30, commonName: 'h9', keyType: 'rsa-2048' });
    expect(verdict.reasons).toEqual(['common name is h1, expected h9', 'key is ecdsa-p256, expected rsa-2048']);
  });

  it('flags a file that is not a certificate instead of throwing', () => {
    const verdict = needsRenewal('not a certificate', { ca: ca.certPem, minDaysLeft: 30 });
    expect(verdict.renew).toBe(true);
    expect(verdict.reasons[0]).toMatch(/^unreadable certificate: /);
  });

  it('checks a CA against itself', () => {
    expect(needsRenewal(ca.certPem, { ca: ca.certPem, minDaysLeft: 0 })).toEqual({ renew: false, reasons: [] });
    expect(needsRenewal(ca.certPem, { ca: otherCa.certPem, minDaysLeft: 0 }).renew).toBe(true);
  });
});
