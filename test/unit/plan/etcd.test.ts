import { describe, expect, it } from 'vitest';
import { Inventory, type InventoryInput } from '../../../src/inventory/schema.js';
import { describeEtcdPlan, planEtcdSetup, planEtcdSetupRunbook } from '../../../src/plan/etcd.js';
import { describeRunbook, type Runbook } from '../../../src/plan/runbook.js';

/** Each host's steps (activity ids) in the runbook's per-host phase. */
const hostSteps = (rb: Runbook) =>
  Object.fromEntries(
    rb.phases.flatMap((p) => (p.kind === 'hosts' ? p.hosts.map((h) => [h.target.name, h.steps.map((s) => s.id)]) : [])),
  );

const base: InventoryInput = {
  cluster: { name: 'lab', kubernetesVersion: '1.32.4', vip: { address: '10.200.1.100' } },
  hosts: [
    { name: 'm1', address: '10.200.1.11', roles: ['primary-master'] },
    { name: 'm2', address: '10.200.1.12', roles: ['secondary-master'] },
    { name: 'e1', address: '10.200.1.21', roles: ['etcd'] },
    { name: 'e2', address: '10.200.1.22', roles: ['etcd'] },
    { name: 'e3', address: 'e3.example.test', roles: ['etcd'] },
    { name: 'w1', address: '10.200.1.31', roles: ['worker'] },
  ],
};
const inv = (patch: Partial<InventoryInput['cluster']> = {}, hosts = base.hosts): Inventory =>
  Inventory.parse({ ...base, cluster: { ...base.cluster, ...patch }, hosts });

describe('etcd setup plan', () => {
  const plan = planEtcdSetup(inv());

  it('pins Debian 12 etcd by default and takes the inventory version when set', () => {
    expect(plan.version).toBe('3.4.23');
    expect(planEtcdSetup(inv({ etcd: { version: '3.5.16' } })).version).toBe('3.5.16');
    expect(plan.mirror).toBeUndefined();
    expect(planEtcdSetup(inv({ packages: { mirror: 'http://mirror.test/debian' } })).mirror).toBe(
      'http://mirror.test/debian',
    );
  });

  it('makes every etcd host a member with TLS URLs on 2379/2380 and one initial-cluster string', () => {
    expect(plan.members.map((m) => m.target.name)).toEqual(['e1', 'e2', 'e3']);
    const e1 = plan.members[0]!.config;
    expect(e1.initialCluster).toBe(
      'e1=https://10.200.1.21:2380,e2=https://10.200.1.22:2380,e3=https://e3.example.test:2380',
    );
    expect(e1.listenClientUrls).toEqual(['https://10.200.1.21:2379', 'https://127.0.0.1:2379']);
    expect(e1.advertiseClientUrls).toEqual(['https://10.200.1.21:2379']);
    expect(e1.listenPeerUrls).toEqual(['https://10.200.1.21:2380']);
    expect(e1.initialAdvertisePeerUrls).toEqual(['https://10.200.1.21:2380']);
    expect(e1.initialClusterToken).toBe('lab-etcd');
    expect(e1.dataDir).toBe('/var/lib/etcd');
    expect(plan.endpoints).toEqual([
      'https://10.200.1.21:2379',
      'https://10.200.1.22:2379',
      'https://e3.example.test:2379',
    ]);
  });

  it('uses kubeadm paths for the member TLS files and the healthcheck client', () => {
    expect(plan.members[1]!.config.tls).toEqual({
      trustedCaFile: '/etc/kubernetes/pki/etcd/ca.crt',
      certFile: '/etc/kubernetes/pki/etcd/server.crt',
      keyFile: '/etc/kubernetes/pki/etcd/server.key',
      peerTrustedCaFile: '/etc/kubernetes/pki/etcd/ca.crt',
      peerCertFile: '/etc/kubernetes/pki/etcd/peer.crt',
      peerKeyFile: '/etc/kubernetes/pki/etcd/peer.key',
    });
    expect(plan.healthcheckClient).toEqual({
      caFile: '/etc/kubernetes/pki/etcd/ca.crt',
      certFile: '/etc/kubernetes/pki/etcd/healthcheck-client.crt',
      keyFile: '/etc/kubernetes/pki/etcd/healthcheck-client.key',
    });
  });

  it('listens on every address for a member known only by a DNS name, and advertises the name', () => {
    const e3 = plan.members[2]!;
    expect(e3.config.listenClientUrls).toEqual(['https://0.0.0.0:2379']);
    expect(e3.config.listenPeerUrls).toEqual(['https://0.0.0.0:2380']);
    expect(e3.peerUrl).toBe('https://e3.example.test:2380');
    const sans = plan.pki.find((h) => h.host === 'e3')!.certificates.find((c) => c.name === 'etcd-server')!;
    expect(sans.dnsNames).toContain('e3.example.test');
  });

  it('gives members all steps, masters only their etcd client certificate, and workers nothing', () => {
    const { runbook } = planEtcdSetupRunbook({ inventory: inv() });
    const member = ['ensureEtcdInstalled', 'ensureHostCertificates', 'configureEtcd', 'ensureEtcdRunning'];
    expect(hostSteps(runbook)).toEqual({
      m1: ['ensureHostCertificates'],
      m2: ['ensureHostCertificates'],
      e1: member,
      e2: member,
      e3: member,
    });
    // The CA before any host, the health gate after all of them, each once.
    expect(runbook.phases.map((p) => [p.id, p.kind])).toEqual([
      ['ca', 'once'],
      ['members', 'hosts'],
      ['health', 'once'],
    ]);
    const certs = (h: string) => plan.pki.find((x) => x.host === h)!.certificates.map((c) => c.name);
    expect(certs('m1')).toEqual(['apiserver-etcd-client']);
    expect(certs('e2')).toEqual(['etcd-server', 'etcd-peer', 'etcd-healthcheck-client']);
  });

  it('puts a master that is also a member through all steps with all four certificates', () => {
    const { plan: stackedLike, runbook } = planEtcdSetupRunbook({
      inventory: inv({}, [
        { name: 'h1', address: '10.200.1.11', roles: ['primary-master', 'etcd'] },
        { name: 'h2', address: '10.200.1.12', roles: ['etcd'] },
        { name: 'h3', address: '10.200.1.13', roles: ['etcd'] },
      ]),
    });
    expect(hostSteps(runbook).h1).toHaveLength(4);
    expect(stackedLike.pki[0]!.certificates.map((c) => c.name)).toEqual([
      'etcd-server',
      'etcd-peer',
      'etcd-healthcheck-client',
      'apiserver-etcd-client',
    ]);
  });

  it('refuses stacked etcd and an inventory without etcd hosts, with a clear message', () => {
    expect(() => planEtcdSetup(inv({ etcd: { mode: 'stacked' } }))).toThrow(/stacked.*kubeadm runs etcd/);
    expect(() => planEtcdSetup(inv({}, [{ name: 'm1', address: '10.200.1.11', roles: ['primary-master'] }]))).toThrow(
      /at least one host with the "etcd" role/,
    );
  });

  it('carries no secret: the plan is names, paths, URLs and policies', () => {
    expect(JSON.stringify(plan)).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE/);
  });

  it('describes itself in one line per host for --dry-run', () => {
    const lines = describeEtcdPlan(plan);
    expect(lines[0]).toContain('etcd 3.4.23 for cluster lab: 3 member(s)');
    expect(lines[0]).toContain('no package mirror');
    const steps = describeRunbook(planEtcdSetupRunbook({ inventory: inv() }).runbook);
    expect(steps.find((l) => l.trim().startsWith('e1 '))).toContain(
      'ensureEtcdInstalled → ensureHostCertificates(caFingerprints from earlier steps) → configureEtcd(binary from earlier steps) → ensureEtcdRunning(binary, restartIfRunning from earlier steps)',
    );
    expect(lines.find((l) => l.startsWith('m1 '))).toContain('/etc/kubernetes/pki/apiserver-etcd-client.crt');
  });
});
