// readSetupFacts' reading of a host's answer (src/activities/setup-facts.ts): files count as done only when they are
// what the setup would write for this host (rendered by the same templates), services only when running, and no
// file content reaches the facts. The lab test (test/workflows/setup.test.ts) runs the script on real hosts.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { clusterFactsOf, hostFactsOf, type SetupFactsHost } from '../../../src/activities/setup-facts.js';
import { Inventory } from '../../../src/inventory/schema.js';
import { setupFactsRequest } from '../../../src/plan/setup.js';
import { CONTAINERD_CONFIG, renderContainerdConfig } from '../../../src/templates/containerd.js';
import {
  KEEPALIVED_CHECK_SCRIPT,
  KEEPALIVED_CONF,
  renderApiserverCheck,
  renderKeepalivedConf,
} from '../../../src/templates/keepalived.js';
import { HAPROXY_CFG, renderHaproxyCfg } from '../../../src/templates/load-balancer.js';
import { MODULES_FILE, SYSCTL_FILE, modulesText, sysctlText } from '../../../src/activities/node-os.js';

const inv = Inventory.parse({
  cluster: { name: 'prod', kubernetesVersion: '1.34.12', vip: { address: '10.10.0.100' } },
  hosts: [
    { name: 'm1', address: '10.10.0.11', roles: ['primary-master', 'etcd'] },
    { name: 'w1', address: '10.10.0.21', roles: ['worker'] },
  ],
});
const req = setupFactsRequest(inv);
const m1 = req.hosts.find((h) => h.host.target.name === 'm1')!;
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** A master's answer when everything is in place, with cni dir /usr/lib/cni. */
function answer(h: SetupFactsHost, change: Record<string, string> = {}): string {
  const files: Record<string, string> = {
    [MODULES_FILE]: modulesText,
    [SYSCTL_FILE]: sysctlText,
    [CONTAINERD_CONFIG]: renderContainerdConfig({ ...h.containerd!.settings, cniBinDir: '/usr/lib/cni' }),
    [KEEPALIVED_CONF]: renderKeepalivedConf(h.keepalived!),
    [KEEPALIVED_CHECK_SCRIPT]: renderApiserverCheck(h.keepalived!.apiserverPort),
    [HAPROXY_CFG]: renderHaproxyCfg(h.loadBalancer!.settings),
    ...change,
  };
  return [
    ...Object.entries(files).map(([p, c]) => `sha ${sha(c)} ${p}`),
    'kubeadm 1.34.12-1.1 hi',
    'kubelet 1.34.12-1.1 hi',
    'kubectl 1.34.12-1.1 hi',
    'held kubeadm kubectl kubelet ',
    'cni /usr/lib/cni',
    'active containerd',
    'active keepalived',
    'active haproxy',
    'active etcd',
    'exists /etc/kubernetes/kubelet.conf',
    'exists /etc/kubernetes/manifests/kube-apiserver.yaml',
    'exists /etc/kubernetes/admin.conf',
    'exists /etc/kubernetes/pki/apiserver-etcd-client.crt',
    'exists /etc/kubernetes/pki/etcd/ca.crt',
    `etcd-version ${inv.cluster.etcd.version}`,
    'etcdctl yes',
    'etcd-member yes',
    'etcd-healthy yes',
    '',
  ].join('\n');
}

describe('setup facts from a host answer', () => {
  it('a set-up master: everything done, versions and holds as dpkg says', () => {
    const f = hostFactsOf(m1, answer(m1));
    expect(f).toEqual({
      name: 'm1',
      osPrepared: true,
      packages: { kubeadm: '1.34.12-1.1', kubelet: '1.34.12-1.1', kubectl: '1.34.12-1.1' },
      held: ['kubeadm', 'kubectl', 'kubelet'],
      containerd: true,
      cniBinDir: '/usr/lib/cni',
      keepalived: true,
      loadBalancer: true,
      joined: true,
      controlPlane: true,
      adminConf: true,
      etcd: { version: inv.cluster.etcd.version, etcdctl: true, member: true, running: true, healthy: true },
      etcdClientCert: true,
    });
  });

  it('a file other than the setup would write, or a daemon not running, is not done', () => {
    expect(hostFactsOf(m1, answer(m1, { [HAPROXY_CFG]: 'listen old\n' })).loadBalancer).toBe(false);
    expect(hostFactsOf(m1, answer(m1, { [SYSCTL_FILE]: '' })).osPrepared).toBe(false);
    expect(hostFactsOf(m1, answer(m1).replace('active keepalived\n', '')).keepalived).toBe(false);
    // The config rendered for the other CNI directory is not this host's.
    expect(hostFactsOf(m1, answer(m1).replace('cni /usr/lib/cni', 'cni /opt/cni/bin')).containerd).toBe(false);
    expect(hostFactsOf(m1, answer(m1).replace('fstab', '') + 'fstab-swap yes\n').osPrepared).toBe(false);
  });

  it('a daemon owed a restart (its marker left by a run cut before the restart) is not done, though file and daemon look right', () => {
    const facts = hostFactsOf(m1, `${answer(m1)}owed keepalived\nowed haproxy\n`);
    expect(facts).toMatchObject({ keepalived: false, loadBalancer: false, containerd: true });
    expect(hostFactsOf(m1, `${answer(m1)}owed containerd\n`)).toMatchObject({ containerd: false, keepalived: true });
  });

  it('an etcd-only host is asked nothing about containerd and reports no CNI directory', () => {
    const i = Inventory.parse({
      cluster: { name: 'prod', kubernetesVersion: '1.34.12', vip: { address: '10.10.0.100' } },
      hosts: [
        { name: 'm1', address: '10.10.0.11', roles: ['primary-master'] },
        { name: 'e1', address: '10.10.0.31', roles: ['etcd'] },
      ],
    });
    const e1 = setupFactsRequest(i).hosts.find((h) => h.host.target.name === 'e1')!;
    expect(e1.containerd).toBeUndefined();
    expect(e1.etcdMember).toBeDefined();
    const f = hostFactsOf(e1, 'cni /usr/lib/cni\nactive containerd\n');
    expect(f.cniBinDir).toBeUndefined();
    expect(f.containerd).toBe(false);
  });

  it("the primary's cluster view: API, nodes Ready, CoreDNS replicas; an API error is reported, not thrown", () => {
    expect(clusterFactsOf('api ok\nnode m1 True\nnode w1 False\ncoredns 2\npod-network yes\n')).toEqual({
      answering: true,
      nodes: [
        { name: 'm1', ready: true },
        { name: 'w1', ready: false },
      ],
      coreDnsReplicas: 2,
      podNetworkObjects: true,
    });
    expect(clusterFactsOf('api-error The connection to the server 10.10.0.100:8443 was refused\n')).toMatchObject({
      answering: false,
      error: 'The connection to the server 10.10.0.100:8443 was refused',
      nodes: [],
    });
  });
  it("a master's --etcd-servers from its apiserver manifest; kubeadm-config's external endpoints from the primary", () => {
    const text = answer(m1) + 'etcd-servers https://10.10.0.11:2379,https://10.10.0.12:2379\n';
    expect(hostFactsOf(m1, text).etcdServers).toEqual(['https://10.10.0.11:2379', 'https://10.10.0.12:2379']);
    expect(hostFactsOf(m1, answer(m1)).etcdServers).toBeUndefined();
    const config = [
      'apiVersion: kubeadm.k8s.io/v1beta4',
      'kind: ClusterConfiguration',
      'etcd:',
      '  external:',
      '    caFile: /etc/kubernetes/pki/etcd/ca.crt',
      '    endpoints:',
      '    - https://10.10.0.11:2379',
      '    - https://10.10.0.12:2379',
      '',
    ].join('\n');
    const b64 = Buffer.from(config).toString('base64');
    expect(clusterFactsOf(`api ok\nkubeadm-config ${b64}\n`).etcdEndpoints).toEqual([
      'https://10.10.0.11:2379',
      'https://10.10.0.12:2379',
    ]);
    const local = Buffer.from('etcd:\n  local:\n    dataDir: /var/lib/etcd\n').toString('base64');
    expect(clusterFactsOf(`api ok\nkubeadm-config ${local}\n`).etcdEndpoints).toBeUndefined();
  });
});
