// Certificate expiry: the pure report (days left, threshold, order), the kubeconfig parser, and the host-side
// script that reads certificates, run here with the same /bin/sh, find, sed, awk and base64 the lab hosts have.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';

import {
  certificateFacts,
  KUBECONFIG_FILTER_AWK,
  parseKubeconfigCertificates,
  parseScriptOutput,
  readCertificatesScript,
} from '../../../src/activities/cert-files.js';
import { InvalidInputError } from '../../../src/errors.js';
import { Inventory } from '../../../src/inventory/schema.js';
import {
  buildCertReport,
  certSources,
  describeCertsPlan,
  formatCertTable,
  planCertificateCheck,
  type CertFact,
  type CertSource,
} from '../../../src/plan/certs.js';
import {
  describeEtcdRenewal,
  FORCE_RENEWAL_DAYS,
  planEtcdRenewal,
  planEtcdRenewalRunbook,
} from '../../../src/plan/cert-renewal.js';
import { createCa, issueCertificate, needsRenewal, type CertificateAndKey } from '../../../src/pki/index.js';

const DAY = 24 * 60 * 60 * 1000;
const now = Date.parse('2030-01-01T00:00:00Z');

const inventory = Inventory.parse({
  cluster: { name: 'demo', kubernetesVersion: '1.32.4', vip: { address: '10.0.0.100' } },
  hosts: [
    { name: 'm1', address: '10.0.0.11', roles: ['primary-master', 'etcd'] },
    { name: 'm2', address: '10.0.0.12', roles: ['secondary-master', 'etcd'] },
    { name: 'w1', address: '10.0.0.21', roles: ['worker'] },
  ],
});

const fact = (path: string, daysFromNow: number, subject = path): CertFact => ({
  path,
  source: 'cert',
  subject,
  issuer: 'etcd-ca',
  notBefore: new Date(now - 300 * DAY).toISOString(),
  notAfter: new Date(now + daysFromNow * DAY).toISOString(),
  isCa: false,
  serial: '01',
  sha256Fingerprint: 'ab'.repeat(32),
});

const b64 = (s: string): string => Buffer.from(s).toString('base64');

function kubeconfig(users: { name: string; cert?: CertificateAndKey; token?: string }[]): string {
  return stringify({
    apiVersion: 'v1',
    clusters: [{ cluster: { 'certificate-authority-data': 'Q0E=', server: 'https://10.0.0.100:8443' }, name: 'demo' }],
    contexts: [{ context: { cluster: 'demo', user: users[0]?.name }, name: 'ctx' }],
    'current-context': 'ctx',
    kind: 'Config',
    preferences: {},
    users: users.map((u) => ({
      name: u.name,
      user: u.cert
        ? { 'client-certificate-data': b64(u.cert.certPem), 'client-key-data': b64(u.cert.keyPem) }
        : { token: u.token ?? 'abcdef.0123456789abcdef' },
    })),
  });
}

describe('certificate report', () => {
  const plan = planCertificateCheck({ inventory, thresholdDays: 30 });

  it('plans one read per inventory host over the kubeadm, kubeconfig and kubelet locations', () => {
    expect(plan.hosts.map((h) => h.target.name)).toEqual(['m1', 'm2', 'w1']);
    expect(plan.sources.map((s) => s.dir)).toEqual(['/etc/kubernetes/pki', '/etc/kubernetes', '/var/lib/kubelet/pki']);
    const text = describeCertsPlan(plan).join('\n');
    expect(text).toContain('/etc/kubernetes/pki/**/{*.crt}');
    expect(text).toContain('client-certificate-data of /etc/kubernetes/{*.conf}');
    expect(text).toContain('m1 (10.0.0.11)');
  });

  it('refuses a threshold that is not a whole number of days', () => {
    expect(() => planCertificateCheck({ inventory, thresholdDays: -1 })).toThrow(InvalidInputError);
    expect(() => planCertificateCheck({ inventory, thresholdDays: 1.5 })).toThrow(/whole number/);
    expect(planCertificateCheck({ inventory }).thresholdDays).toBe(30);
  });

  it('sorts by days left across hosts, counts whole days and flags what is under the threshold', () => {
    const report = buildCertReport(
      plan,
      [
        { host: 'm2', certificates: [fact('/p/ok.crt', 365), fact('/p/soon.crt', 5.5)], problems: [] },
        {
          host: 'm1',
          certificates: [fact('/p/old.crt', -3), fact('/p/edge.crt', 29.9), fact('/p/thirty.crt', 30)],
          problems: [],
        },
        { host: 'w1', certificates: [], problems: [] },
      ],
      [],
      now,
    );
    expect(report.rows.map((r) => `${r.host}:${r.path}:${r.daysLeft}:${r.status}`)).toEqual([
      'm1:/p/old.crt:-3:expired',
      'm2:/p/soon.crt:5:expiring',
      'm1:/p/edge.crt:29:expiring',
      'm1:/p/thirty.crt:30:ok',
      'm2:/p/ok.crt:365:ok',
    ]);
    expect(report).toMatchObject({
      minDaysLeft: -3,
      expired: 1,
      expiring: 2,
      ok: false,
      checkedAt: '2030-01-01T00:00:00.000Z',
    });
    expect(report.hosts).toEqual([
      { host: 'm1', certificates: 3, read: true },
      { host: 'm2', certificates: 2, read: true },
      { host: 'w1', certificates: 0, read: true },
    ]);
  });

  it('is ok only when nothing is under the threshold and every host was read', () => {
    const good = [{ host: 'm1', certificates: [fact('/p/a.crt', 200)], problems: [] }];
    expect(buildCertReport(plan, good, [], now).ok).toBe(true);
    expect(buildCertReport({ ...plan, thresholdDays: 365 }, good, [], now).ok).toBe(false);
    const down = buildCertReport(plan, good, [{ host: 'w1', message: 'w1: unreachable: connect ECONNREFUSED' }], now);
    expect(down.ok).toBe(false);
    expect(down.hosts.find((h) => h.host === 'w1')).toEqual({ host: 'w1', certificates: 0, read: false });
    expect(down.problems).toEqual([{ host: 'w1', message: 'w1: unreachable: connect ECONNREFUSED' }]);
    expect(buildCertReport(plan, [], [], now).minDaysLeft).toBeNull();
  });

  it('prints the table with host, path, subject, notAfter, days left and issuer', () => {
    const report = buildCertReport(
      plan,
      [{ host: 'm1', certificates: [fact('/p/a.crt', 3, 'kube-etcd')], problems: [] }],
      [],
      now,
    );
    const [header, row, ...rest] = formatCertTable(report);
    expect(header).toMatch(/^HOST\s+PATH\s+SUBJECT CN\s+NOT AFTER\s+DAYS LEFT\s+ISSUER$/);
    expect(row).toMatch(/^m1\s+\/p\/a\.crt\s+kube-etcd\s+2030-01-04T00:00:00Z\s+3\s+etcd-ca\s+EXPIRING$/);
    expect(rest.at(-1)).toContain('0 expired, 1 under 30 days; fewest days left: 3');
  });
});

describe('certificates from hosts', () => {
  let ca: CertificateAndKey;
  let admin: CertificateAndKey;
  let kubelet: CertificateAndKey;
  let expired: CertificateAndKey;
  let dir: string;

  beforeAll(async () => {
    ca = await createCa({ commonName: 'kubernetes', keyType: 'ecdsa-p256', validityDays: 3650 });
    admin = await issueCertificate({
      ca,
      commonName: 'kubernetes-admin',
      organization: 'system:masters',
      keyType: 'ecdsa-p256',
      validityDays: 365,
      usages: 'client',
    });
    kubelet = await issueCertificate({
      ca,
      commonName: 'system:node:h1',
      keyType: 'ecdsa-p256',
      validityDays: 20,
      usages: 'client',
    });
    expired = await issueCertificate({
      ca,
      commonName: 'old',
      keyType: 'ecdsa-p256',
      validityDays: 30,
      usages: 'client',
      now: new Date(Date.now() - 40 * DAY),
    });
    dir = mkdtempSync(join(tmpdir(), 'k2h-certs-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('parses client-certificate-data of every user of a kubeconfig, skipping token users', () => {
    const certs = parseKubeconfigCertificates(kubeconfig([{ name: 'kubernetes-admin', cert: admin }, { name: 'bot' }]));
    expect(certs).toHaveLength(1);
    expect(certs[0]).toEqual({ user: 'kubernetes-admin', pem: admin.certPem.trim() });
    const facts = certificateFacts([
      {
        kind: 'kubeconfig',
        path: '/etc/kubernetes/admin.conf',
        content: kubeconfig([{ name: 'kubernetes-admin', cert: admin }]),
      },
    ]);
    expect(facts.problems).toEqual([]);
    expect(facts.certificates).toEqual([
      expect.objectContaining({
        path: '/etc/kubernetes/admin.conf',
        source: 'kubeconfig',
        subject: 'kubernetes-admin',
        issuer: 'kubernetes',
        isCa: false,
      }),
    ]);
    const days = (Date.parse(facts.certificates[0]!.notAfter) - Date.now()) / DAY;
    expect(days).toBeGreaterThan(364);
    expect(days).toBeLessThanOrEqual(365);
  });

  it('names each user of a kubeconfig with several client certificates', () => {
    const text = kubeconfig([
      { name: 'a', cert: admin },
      { name: 'b', cert: kubelet },
    ]);
    const facts = certificateFacts([{ kind: 'kubeconfig', path: '/k.conf', content: text }]);
    expect(facts.certificates.map((c) => `${c.path}=${c.subject}`)).toEqual([
      '/k.conf#a=kubernetes-admin',
      '/k.conf#b=system:node:h1',
    ]);
  });

  it('the kubeconfig filter keeps users and client certificates and drops keys, tokens and everything else', () => {
    const file = join(dir, 'filter.conf');
    writeFileSync(
      file,
      kubeconfig([
        { name: 'kubernetes-admin', cert: admin },
        { name: 'bot', token: 'abcdef.0123456789abcdef' },
      ]),
    );
    const out = spawnSync('awk', [KUBECONFIG_FILTER_AWK, file], { encoding: 'utf8' });
    expect(out.status).toBe(0);
    expect(out.stdout).not.toContain('client-key-data');
    expect(out.stdout).not.toContain(b64(admin.keyPem).slice(0, 40));
    expect(out.stdout).not.toContain('abcdef.0123456789abcdef');
    expect(out.stdout).not.toContain('certificate-authority-data');
    expect(parseKubeconfigCertificates(out.stdout)).toEqual([{ user: 'kubernetes-admin', pem: admin.certPem.trim() }]);
  });

  it('the host script reads certificates, kubeconfigs and kubelet files and never sends a private key', () => {
    const pki = join(dir, 'pki');
    const kube = join(dir, 'kube');
    const kubeletDir = join(dir, 'kubelet');
    for (const d of [join(pki, 'etcd'), kube, kubeletDir]) mkdirSync(d, { recursive: true });
    writeFileSync(join(pki, 'ca.crt'), ca.certPem);
    writeFileSync(join(pki, 'ca.key'), ca.keyPem);
    writeFileSync(join(pki, 'etcd', 'old.crt'), expired.certPem);
    writeFileSync(join(pki, 'etcd', 'weird name.crt'), 'not a certificate');
    writeFileSync(join(kube, 'admin.conf'), kubeconfig([{ name: 'kubernetes-admin', cert: admin }]));
    // kubelet's rotated client certificate: key and certificate in one file, a dated name, a -current link.
    writeFileSync(join(kubeletDir, 'kubelet-client-2029-01-01-00-00-00.pem'), kubelet.keyPem + kubelet.certPem);
    symlinkSync('kubelet-client-2029-01-01-00-00-00.pem', join(kubeletDir, 'kubelet-client-current.pem'));
    const sources: CertSource[] = certSources.map((s, i) => ({ ...s, dir: [pki, kube, kubeletDir][i]! }));

    const run = spawnSync('sh', ['-c', readCertificatesScript(sources)], { encoding: 'utf8' });
    expect(run.status).toBe(0);
    expect(run.stdout).not.toMatch(/PRIVATE KEY/);
    const decoded = parseScriptOutput(run.stdout)
      .map((f) => f.content)
      .join('\n');
    expect(decoded).not.toMatch(/PRIVATE KEY|client-key-data/);
    for (const key of [ca.keyPem, admin.keyPem, kubelet.keyPem]) {
      expect(run.stdout).not.toContain(b64(key).slice(0, 40));
      expect(decoded).not.toContain(key.split('\n')[1]);
    }

    const facts = certificateFacts(parseScriptOutput(run.stdout));
    expect(facts.certificates.map((c) => `${c.path.slice(dir.length)}=${c.subject}`)).toEqual([
      '/pki/ca.crt=kubernetes',
      '/pki/etcd/old.crt=old',
      '/kube/admin.conf=kubernetes-admin',
      '/kubelet/kubelet-client-current.pem=system:node:h1',
    ]);
    expect(facts.certificates[0]?.isCa).toBe(true);
    expect(facts.problems).toEqual([
      { path: join(pki, 'etcd', 'weird name.crt'), message: 'no PEM certificate in the file' },
    ]);
  });

  it('notices a listing that was cut off', () => {
    expect(() => parseScriptOutput('cert\t/etc/kubernetes/pki/ca.crt\tAAAA\n')).toThrow(/ended early/);
    expect(parseScriptOutput('k2h-certs-end\n')).toEqual([]);
  });
});

describe('etcd renewal plan', () => {
  it('renews each member in inventory order: server, peer and healthcheck-client, forced', async () => {
    const plan = planEtcdRenewal(inventory);
    expect(plan.members.map((m) => m.target.name)).toEqual(['m1', 'm2']);
    expect(plan.members[0]?.pki.certificates.map((c) => c.certPath)).toEqual([
      '/etc/kubernetes/pki/etcd/server.crt',
      '/etc/kubernetes/pki/etcd/peer.crt',
      '/etc/kubernetes/pki/etcd/healthcheck-client.crt',
    ]);
    expect(plan.members[1]?.pki.certificates.every((c) => c.minDaysLeft === FORCE_RENEWAL_DAYS)).toBe(true);
    expect(plan.members[1]?.pki.certificates[0]).toMatchObject({
      commonName: 'm2',
      ipAddresses: ['10.0.0.12', '127.0.0.1', '::1'],
    });
    const { runbook } = planEtcdRenewalRunbook({ inventory });
    const renew = runbook.phases.find((p) => p.id === 'renew');
    // One member at a time, each through the same steps; the CA is checked on every member before any change.
    expect(renew?.kind === 'hosts' && renew.rollout).toEqual({ kind: 'serial' });
    expect(renew?.kind === 'hosts' && renew.hosts.map((h) => h.steps.map((s) => s.id))).toEqual(
      ['m1', 'm2'].map(() => [
        'ensureEtcdInstalled',
        'ensureHostCertificates',
        'ensureEtcdRunning',
        'ensureEtcdHealthy',
        'readHostCertificates',
      ]),
    );
    expect(runbook.phases.map((p) => p.id)).toEqual(['ca', 'check', 'health-before', 'renew']);
    expect(describeEtcdRenewal(plan)[1]).toMatch(
      /^1\. m1 \(https:\/\/10\.0\.0\.11:2379\): .*server\.crt.*; restart etcd; wait healthy$/,
    );
    // The forced threshold makes needsRenewal replace even a brand-new certificate, for the stated reason.
    const ca = await createCa({ commonName: 'etcd-ca', keyType: 'ecdsa-p256', validityDays: 3650 });
    const fresh = await issueCertificate({
      ca,
      commonName: 'm1',
      keyType: 'ecdsa-p256',
      validityDays: 365,
      usages: 'peer',
    });
    expect(needsRenewal(fresh.certPem, { ca: ca.certPem, minDaysLeft: FORCE_RENEWAL_DAYS }).renew).toBe(true);
  });

  it('refuses stacked etcd, which kubeadm manages', () => {
    const stacked = Inventory.parse({ ...inventory, cluster: { ...inventory.cluster, etcd: { mode: 'stacked' } } });
    expect(() => planEtcdRenewal(stacked)).toThrow(InvalidInputError);
  });
});
