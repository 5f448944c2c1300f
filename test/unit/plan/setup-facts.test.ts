// The setup planner on gathered facts (src/activities/setup-facts.ts): fresh hosts plan everything, a finished
// cluster plans nothing, a reset worker plans only its join, a reset master its PKI and control-plane join. The
// fixtures are facts as the activity returns them.
import { describe, expect, it } from 'vitest';
import { unreachableFacts, type HostSetupFacts, type SetupFacts } from '../../../src/activities/setup-facts.js';
import { Inventory, type InventoryInput } from '../../../src/inventory/schema.js';
import { describeRunbook, ONCE, type Runbook } from '../../../src/plan/runbook.js';
import { planSetup, setupFactsRequest } from '../../../src/plan/setup.js';
import { etcdMember } from '../../support/etcd-member.js';

const input: InventoryInput = {
  cluster: { name: 'prod', kubernetesVersion: '1.34.12', vip: { address: '10.10.0.100' } },
  hosts: [
    { name: 'm1', address: '10.10.0.11', roles: ['primary-master', 'etcd'] },
    { name: 'm2', address: '10.10.0.12', roles: ['secondary-master', 'etcd'] },
    { name: 'm3', address: '10.10.0.13', roles: ['secondary-master', 'etcd'] },
    { name: 'w1', address: '10.10.0.21', roles: ['worker'] },
    { name: 'w2', address: '10.10.0.22', roles: ['worker'] },
  ],
};
const inv = Inventory.parse(input);
const stacked = Inventory.parse({
  ...input,
  cluster: { ...input.cluster, etcd: { mode: 'stacked' } },
  hosts: input.hosts.map((h) => ({ ...h, roles: h.roles.filter((r) => r !== 'etcd') })),
});

/** Facts of a cluster this inventory's setup finished. */
function finished(i: Inventory): SetupFacts {
  const req = setupFactsRequest(i);
  const hosts = req.hosts.map((h): HostSetupFacts => {
    const master = h.keepalived !== undefined;
    return {
      name: h.host.target.name,
      osPrepared: true,
      packages: { kubeadm: '1.34.12-1.1', kubelet: '1.34.12-1.1', kubectl: '1.34.12-1.1' },
      held: ['kubeadm', 'kubectl', 'kubelet'],
      containerd: true,
      cniBinDir: '/opt/cni/bin',
      ...(master && { keepalived: true }),
      ...(h.loadBalancer && { loadBalancer: true }),
      kubelet: true,
      joined: true,
      controlPlane: master,
      adminConf: h.host.target.name === req.primary,
      ...(h.etcdMember && {
        etcd: { version: i.cluster.etcd.version, etcdctl: true, member: true, running: true, healthy: true },
      }),
      ...(h.etcdClient && { etcdClientCert: true }),
    };
  });
  return {
    hosts,
    cluster: {
      answering: true,
      nodes: hosts.map((h) => ({ name: h.name, ready: true })),
      coreDnsReplicas: 3,
      podNetwork: true,
    },
    adminKubeconfigStored: true,
    durationMs: 900,
  };
}

/** The same facts with one host changed. */
function withHost(f: SetupFacts, name: string, change: Partial<HostSetupFacts>): SetupFacts {
  return { ...f, hosts: f.hosts.map((h) => (h.name === name ? { ...h, ...change } : h)) };
}

/** host → step ids, in runbook order (ONCE for cluster-wide steps). */
function planned(rb: Runbook): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const p of rb.phases) {
    if (p.kind === 'once') out[ONCE] = [...(out[ONCE] ?? []), ...p.steps.map((s) => s.id)];
    else if (p.kind === 'hosts')
      for (const h of p.hosts) out[h.target.name] = [...(out[h.target.name] ?? []), ...h.steps.map((s) => s.id)];
  }
  return out;
}

const stepCount = (rb: Runbook) => Object.values(planned(rb)).flat().length;

describe('planSetup from facts', () => {
  it('fresh hosts (no facts, or facts saying nothing is there) plan every step, as without facts', () => {
    const bare = planSetup(inv);
    expect(bare.alreadyDone).toBeUndefined();
    const nothing: SetupFacts = {
      hosts: finished(inv).hosts.map((h) => ({
        ...h,
        osPrepared: false,
        packages: {},
        held: [],
        containerd: false,
        ...(h.keepalived !== undefined && { keepalived: false, loadBalancer: false }),
        joined: false,
        controlPlane: false,
        adminConf: false,
        ...(h.etcd && { etcd: { etcdctl: false, member: false, running: false, healthy: false } }),
        ...(h.etcdClientCert !== undefined && { etcdClientCert: false }),
      })),
      adminKubeconfigStored: false,
      durationMs: 1,
    };
    const fresh = planSetup(inv, nothing);
    expect(fresh.phases).toEqual(bare.phases);
    expect(fresh.alreadyDone).toEqual([]);
    // nodes 5×3, etcd CA + 3 members×4 + health, cluster CA, prep 3×3, init, kubeconfig, pod network, joins 2+2, converge 2
    expect(stepCount(bare)).toBe(15 + 14 + 1 + 9 + 1 + 1 + 1 + 4 + 2);
  });

  it('a finished cluster plans nothing; --dry-run says so and lists what is done', () => {
    for (const i of [inv, stacked]) {
      const rb = planSetup(i, finished(i));
      expect(rb.phases).toEqual([]);
      const done = Object.fromEntries(rb.alreadyDone!.map((d) => [d.host, d.steps]));
      expect(done.m1).toEqual([
        'prepareNodeOs',
        'installKubePackages',
        'configureContainerd',
        ...(i === inv ? ['etcd'] : []),
        'placeClusterPki',
        'configureKeepalived',
        'configureLoadBalancer',
        'kubeadmInit',
      ]);
      expect(done.w2).toEqual(['prepareNodeOs', 'installKubePackages', 'configureContainerd', 'joinNode']);
      expect(done[ONCE]).toEqual([
        'ensureClusterCas',
        'applyPodNetwork',
        'scaleCoreDns',
        'waitNodesReady',
        'fetchAdminKubeconfig',
      ]);
      const lines = describeRunbook(rb);
      expect(lines).toContain('nothing to do: the hosts show every step done');
      expect(lines.join('\n')).not.toMatch(/^\d+\. /m);
    }
  });

  it('one worker reset (kubeadm reset: no kubelet.conf, NotReady): only its join, the admin kubeconfig is not fetched again, then every node Ready', () => {
    const f = finished(inv);
    const reset = withHost(
      { ...f, cluster: { ...f.cluster!, nodes: f.cluster!.nodes.map((n) => ({ ...n, ready: n.name !== 'w2' })) } },
      'w2',
      { joined: false, kubelet: false },
    );
    const rb = planSetup(inv, reset);
    expect(planned(rb)).toEqual({ w2: ['joinNode'], [ONCE]: ['waitNodesReady'] });
    expect(rb.phases.map((p) => p.id)).toEqual(['join-workers', 'converge']);
    expect(rb.phases[0]).toMatchObject({ kind: 'hosts', hosts: [{ maySkip: true }] });
    const text = describeRunbook(rb).join('\n');
    expect(text).toMatch(/w2 \(10\.10\.0\.22\): joinNode/);
    expect(text).toMatch(/already done/);
  });

  it('a worker added to the inventory: its node preparation and join; containerd elsewhere stays done', () => {
    const i = Inventory.parse({
      ...input,
      hosts: [...input.hosts, { name: 'w3', address: '10.10.0.23', roles: ['worker'] }],
    });
    const f = finished(inv);
    const rb = planSetup(i, {
      ...f,
      hosts: [
        ...f.hosts,
        { ...f.hosts[4]!, name: 'w3', osPrepared: false, packages: {}, held: [], containerd: false, joined: false },
      ],
    });
    expect(planned(rb)).toEqual({
      w3: ['prepareNodeOs', 'installKubePackages', 'configureContainerd', 'joinNode'],
      [ONCE]: ['waitNodesReady'],
    });
  });

  it('a master missing (reset): the cluster CAs placed again, its keepalived kept, its control-plane join; no init', () => {
    const f = finished(inv);
    const rb = planSetup(inv, withHost(f, 'm3', { joined: false, controlPlane: false }));
    expect(planned(rb)).toEqual({
      [ONCE]: ['ensureClusterCas', 'waitNodesReady'],
      m3: ['placeClusterPki', 'joinNode'],
    });
    expect(rb.phases.map((p) => p.id)).toEqual(['cluster-ca', 'control-plane-prep', 'join-masters', 'converge']);
    const join = rb.phases.find((p) => p.id === 'join-masters');
    expect(join?.kind === 'hosts' && join.hosts[0]!.steps[0]!.args.controlPlane).toBe(true);
  });

  it('a joined worker that is not a control plane still counts as a joined master only with its apiserver', () => {
    const f = finished(inv);
    // m2 has kubelet.conf but no apiserver manifest (a join that failed half-way): join again as control plane.
    expect(planned(planSetup(inv, withHost(f, 'm2', { controlPlane: false })))).toMatchObject({
      m2: ['placeClusterPki', 'joinNode'],
    });
  });

  it('packages: a wrong version or a missing hold plans the install; an unreachable host plans everything it has', () => {
    const f = finished(inv);
    expect(
      planned(planSetup(inv, withHost(f, 'w1', { packages: { ...f.hosts[3]!.packages, kubelet: '1.33.13-1.1' } }))),
    ).toMatchObject({ w1: ['installKubePackages'] });
    expect(planned(planSetup(inv, withHost(f, 'w1', { held: ['kubeadm'] })))).toMatchObject({
      w1: ['installKubePackages'],
    });
    const gone = planned(planSetup(inv, withHost(f, 'w1', { unreachable: 'connect ETIMEDOUT' })));
    expect(gone.w1).toEqual(['prepareNodeOs', 'installKubePackages', 'configureContainerd', 'joinNode']);
  });

  it('pod network missing: applied, with containerd on every node for the CNI directories, and the kubeconfig only when the store lacks it', () => {
    const f = finished(inv);
    const rb = planSetup(inv, { ...f, cluster: { ...f.cluster!, podNetwork: false } });
    const p = planned(rb);
    expect(p[ONCE]).toEqual(['applyPodNetwork', 'waitNodesReady']);
    for (const h of ['m1', 'm2', 'm3', 'w1', 'w2']) expect(p[h]).toEqual(['configureContainerd']);
    const fetch = planned(
      planSetup(inv, { ...f, adminKubeconfigStored: false, cluster: { ...f.cluster!, coreDnsReplicas: 2 } }),
    );
    expect(fetch[ONCE]).toEqual(['fetchAdminKubeconfig', 'scaleCoreDns', 'waitNodesReady']);
  });

  it('external etcd: a member down plans that member and the etcd CA and health gate, nothing else', () => {
    const f = finished(inv);
    const rb = planSetup(
      inv,
      withHost(f, 'm2', {
        etcd: { version: inv.cluster.etcd.version, etcdctl: true, member: true, running: false, healthy: false },
      }),
    );
    expect(rb.phases.map((p) => p.id)).toEqual(['etcd-ca', 'etcd-members', 'etcd-health', 'converge']);
    expect(planned(rb).m2).toEqual([
      'ensureEtcdInstalled',
      'ensureHostCertificates',
      'configureEtcd',
      'ensureEtcdRunning',
    ]);
  });
});

describe("the API servers' etcd servers after the etcd group changed", () => {
  const all = ['10.10.0.11', '10.10.0.12', '10.10.0.13'].map((a) => `https://${a}:2379`);
  /** A finished cluster whose masters and kubeadm-config name `servers`. */
  const showing = (servers: string[], config = servers): SetupFacts => {
    const f = finished(inv);
    return {
      ...f,
      cluster: { ...f.cluster!, etcdEndpoints: config },
      hosts: f.hosts.map((h) => (h.controlPlane ? { ...h, etcdServers: servers } : h)),
    };
  };

  it('plans nothing when kubeadm-config and every master name the inventory members, in any order', () => {
    expect(stepCount(planSetup(inv, showing(all)))).toBe(0);
    expect(stepCount(planSetup(inv, showing([...all].reverse())))).toBe(0);
  });

  it('plans kubeadm-config first, then each stale master one at a time with its health gate, before joins', () => {
    const rb = planSetup(inv, showing(all.slice(0, 1)));
    const ids = rb.phases.map((p) => p.id);
    expect(ids).toEqual(['etcd-endpoints', 'apiserver-etcd', 'converge']);
    const masters = rb.phases[1]!;
    expect(masters).toMatchObject({ kind: 'hosts', rollout: { kind: 'serial' } });
    expect(planned(rb)).toEqual({
      [ONCE]: ['updateKubeadmEtcdEndpoints', 'waitNodesReady'],
      m1: ['updateApiserverEtcdServers', 'waitApiserverReady'],
      m2: ['updateApiserverEtcdServers', 'waitApiserverReady'],
      m3: ['updateApiserverEtcdServers', 'waitApiserverReady'],
    });
    const first = rb.phases[0]!;
    expect(first.kind === 'once' && first.steps[0]!.args.endpoints).toEqual(all);
    expect(describeRunbook(rb).join('\n')).toContain('updateApiserverEtcdServers → waitApiserverReady');
  });

  it('only the master that differs; kubeadm-config left alone when it is right', () => {
    const f = withHost(showing(all), 'm2', { etcdServers: all.slice(0, 2) });
    expect(planned(planSetup(inv, f))).toEqual({
      [ONCE]: ['waitNodesReady'],
      m2: ['updateApiserverEtcdServers', 'waitApiserverReady'],
    });
  });

  it('fetches the admin kubeconfig first when the store lacks it', () => {
    const f = { ...showing(all.slice(0, 1)), adminKubeconfigStored: false };
    expect(planSetup(inv, f).phases.map((p) => p.id)[0]).toBe('kubeconfig');
  });

  it('not for runs recorded before it (apiserverEtcd false), nor without a cluster view, nor for stacked etcd', () => {
    expect(stepCount(planSetup(inv, showing(all.slice(0, 1)), { apiserverEtcd: false }))).toBe(0);
    const noView = { ...showing(all.slice(0, 1)), cluster: undefined };
    expect(planSetup(inv, noView).phases.map((p) => p.id)).not.toContain('apiserver-etcd');
    expect(stepCount(planSetup(stacked, finished(stacked)))).toBe(0);
  });
});

describe('scale-in under setup: only when every API server is known to follow', () => {
  const all = ['10.10.0.11', '10.10.0.12', '10.10.0.13'].map((a) => `https://${a}:2379`);
  const member = etcdMember;
  const listed = [
    member('m1', '10.10.0.11', 'a1'),
    member('m2', '10.10.0.12', 'a2'),
    member('m3', '10.10.0.13', 'a3'),
    member('e4', '10.10.0.14', 'a4'),
  ];
  /** A finished cluster that still lists e4, each master's API server on all four members. */
  const leaving = (): SetupFacts => {
    const f = finished(inv);
    return {
      ...f,
      cluster: { ...f.cluster!, etcdEndpoints: all },
      hosts: f.hosts.map((h) => ({
        ...h,
        ...(h.controlPlane && { etcdServers: [...all, 'https://10.10.0.14:2379'] }),
        ...(h.etcd && { etcd: { ...h.etcd, members: listed } }),
      })),
    };
  };

  it('moves every API server first, then removes', () => {
    const ids = planSetup(inv, leaving(), { approveRemoval: true }).phases.map((p) => p.id);
    expect(ids.indexOf('apiserver-etcd')).toBeGreaterThanOrEqual(0);
    expect(ids.indexOf('etcd-remove')).toBeGreaterThan(ids.indexOf('apiserver-etcd'));
    // A master that runs no control plane yet joins later in this run, rendered from kubeadm-config: no obstacle.
    const joining = withHost(leaving(), 'm3', { controlPlane: false, etcdServers: undefined, joined: false });
    expect(planSetup(inv, joining).phases.map((p) => p.id)).toContain('etcd-remove');
  });

  it('refuses, naming the masters and why, when the API did not answer or a master is unread or its flag unknown', () => {
    const f = leaving();
    const silent = { ...f, cluster: { ...f.cluster!, answering: false, error: 'connection refused' } };
    expect(() => planSetup(inv, silent)).toThrow(
      /etcd member\(s\) e4 would be removed while the API servers may still use them: the API did not answer \(connection refused\)/,
    );
    const m2 = withHost(f, 'm2', unreachableFacts(setupFactsRequest(inv).hosts[1]!, 'ssh: timeout'));
    expect(() => planSetup(inv, m2)).toThrow(/m2 could not be read \(ssh: timeout\)/);
    expect(() => planSetup(inv, withHost(f, 'm3', { etcdServers: undefined }))).toThrow(
      /m3's --etcd-servers is unknown/,
    );
    expect(() => planSetup(inv, { ...f, hosts: f.hosts.filter((h) => h.name !== 'm2') })).toThrow(/m2 was not read/);
  });
});
