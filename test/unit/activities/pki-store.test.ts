// The operator-side CA store (real files in a scratch dir) and the keep-or-replace decision for host certificates.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { replaceReasons } from '../../../src/activities/pki.js';
import { LocalPkiStore, pkiStoreDir } from '../../../src/activities/pki-store.js';
import { Inventory } from '../../../src/inventory/schema.js';
import { createCa, issueCertificate } from '../../../src/pki/index.js';
import { planEtcdPki } from '../../../src/plan/pki.js';

const scratch = mkdtempSync(join(tmpdir(), 'k2h-pkistore-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const inv = Inventory.parse({
  cluster: { name: 'lab', kubernetesVersion: '1.32.4', vip: { address: '10.200.1.100' } },
  hosts: [{ name: 'h1', address: '10.200.1.11', roles: ['primary-master', 'etcd'] }],
});
const pki = planEtcdPki(inv);
const mode = (p: string) => statSync(p).mode & 0o777;

describe('local PKI store', () => {
  it('lives under the state dir, per cluster', () => {
    expect(pkiStoreDir('lab')).toMatch(/kubeadm2ha\/clusters\/lab\/pki$/);
    expect(() => LocalPkiStore.forCluster('../etc')).toThrow(/invalid cluster name/);
  });

  it('makes the CA once, 0600 files in a 0700 dir, and keeps it byte for byte afterwards', async () => {
    const store = new LocalPkiStore(join(scratch, 'a', 'pki'));
    const first = await store.ensureCa(pki.ca);
    expect(first.ref).toMatchObject({ name: 'etcd-ca', commonName: 'etcd-ca', created: true });
    expect(first.ref.sha256Fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(mode(store.dir)).toBe(0o700);
    expect(mode(store.keyPath('etcd-ca'))).toBe(0o600);
    expect(mode(store.certPath('etcd-ca'))).toBe(0o600);
    const key = readFileSync(store.keyPath('etcd-ca'), 'utf8');

    const second = await store.ensureCa(pki.ca);
    expect(second.ref.created).toBe(false);
    expect(second.ref.sha256Fingerprint).toBe(first.ref.sha256Fingerprint);
    expect(readFileSync(store.keyPath('etcd-ca'), 'utf8')).toBe(key);
    // The reference is what travels to the workflow: no key material in it.
    expect(JSON.stringify(second.ref)).not.toContain('PRIVATE KEY');
  });

  it('replaces an expired CA and says why', async () => {
    const store = new LocalPkiStore(join(scratch, 'b', 'pki'));
    const first = await store.ensureCa({ ...pki.ca, validityDays: 1 });
    const later = new Date(Date.now() + 3 * 24 * 3600 * 1000);
    const second = await store.ensureCa(pki.ca, later);
    expect(second.ref.created).toBe(true);
    expect(second.ref.reasons.join()).toMatch(/expired/);
    expect(second.ref.sha256Fingerprint).not.toBe(first.ref.sha256Fingerprint);
  });

  it('refuses a store whose key does not belong to its certificate instead of minting a new CA', async () => {
    const store = new LocalPkiStore(join(scratch, 'c', 'pki'));
    await store.ensureCa(pki.ca);
    const other = await createCa({ commonName: 'etcd-ca', keyType: 'ecdsa-p256', validityDays: 10 });
    writeFileSync(store.keyPath('etcd-ca'), other.keyPem);
    await expect(store.ensureCa(pki.ca)).rejects.toThrow(/key that does not belong to its certificate/);
  });
});

describe('keep or replace a host certificate', () => {
  const server = pki.hosts[0]!.certificates.find((c) => c.name === 'etcd-server')!;
  const issue = async (
    ca: { certPem: string; keyPem: string },
    over: Partial<Parameters<typeof issueCertificate>[0]> = {},
  ) =>
    issueCertificate({
      ca,
      commonName: server.commonName,
      keyType: server.keyType,
      validityDays: server.validityDays,
      usages: server.usages,
      dnsNames: server.dnsNames,
      ipAddresses: server.ipAddresses,
      ...over,
    });

  it('keeps a valid pair, replaces missing, foreign, mismatched, short-named and expiring ones', async () => {
    const ca = await createCa({ commonName: 'etcd-ca', keyType: 'ecdsa-p256', validityDays: 3650 });
    const otherCa = await createCa({ commonName: 'etcd-ca', keyType: 'ecdsa-p256', validityDays: 3650 });
    const good = await issue(ca);
    expect(replaceReasons(server, good, ca.certPem)).toEqual([]);
    expect(replaceReasons(server, {}, ca.certPem)).toEqual(['missing']);
    expect(replaceReasons(server, { certPem: good.certPem }, ca.certPem)).toEqual(['key missing']);
    expect(replaceReasons(server, await issue(otherCa), ca.certPem).join()).toMatch(/not issued by the expected CA/);
    const other = await issue(ca);
    expect(replaceReasons(server, { certPem: good.certPem, keyPem: other.keyPem }, ca.certPem)).toEqual([
      'key does not match the certificate',
    ]);
    expect(replaceReasons(server, await issue(ca, { ipAddresses: ['127.0.0.1'] }), ca.certPem).join()).toMatch(
      /missing SANs: .*10\.200\.1\.11/,
    );
    expect(replaceReasons(server, await issue(ca, { validityDays: 20 }), ca.certPem).join()).toMatch(/expires in/);
  });

  it('replaces a client certificate without the organization kubeadm gives it', async () => {
    const client = pki.hosts[0]!.certificates.find((c) => c.name === 'apiserver-etcd-client')!;
    const ca = await createCa({ commonName: 'etcd-ca', keyType: 'ecdsa-p256', validityDays: 3650 });
    const base = {
      ca,
      commonName: client.commonName,
      keyType: client.keyType,
      validityDays: 365,
      usages: client.usages,
    };
    expect(
      replaceReasons(client, await issueCertificate({ ...base, organization: 'system:masters' }), ca.certPem),
    ).toEqual([]);
    expect(replaceReasons(client, await issueCertificate(base), ca.certPem).join()).toMatch(/organization/);
  });
});
