import { describe, expect, it } from 'vitest';
import { unreachableFacts, type HostSetupFacts, type SetupFacts } from '../../../src/activities/setup-facts.js';
import { Inventory, type InventoryInput } from '../../../src/inventory/schema.js';
import { describeEtcdPlan, etcdFactsRequest, planEtcdSetup, planEtcdSetupRunbook } from '../../../src/plan/etcd.js';
import { describeRunbook, ONCE, type Runbook } from '../../../src/plan/runbook.js';
import { etcdMember } from '../../support/etcd-member.js';

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

/** Facts as readSetupFacts returns them for etcdFactsRequest: every host done, then `patch` per host. */
function factsOf(i: Inventory, patch: Record<string, Partial<HostSetupFacts>> = {}): SetupFacts {
  const req = etcdFactsRequest(i);
  return {
    hosts: req.hosts.map((h): HostSetupFacts => {
      const name = h.host.target.name;
      return {
        name,
        osPrepared: false,
        packages: {},
        held: [],
        containerd: false,
        joined: false,
        controlPlane: false,
        adminConf: false,
        ...(h.etcdMember && {
          etcd: { version: i.cluster.etcd.version, etcdctl: true, member: true, running: true, healthy: true },
        }),
        ...(h.etcdClient && { etcdClientCert: true }),
        ...patch[name],
      };
    }),
    adminKubeconfigStored: false,
    durationMs: 5,
  };
}

describe('etcd setup planned from facts', () => {
  const i = inv();

  it('asks every host that gets etcd PKI, members with their client URL, masters for their client certificate, no cluster view', () => {
    const req = etcdFactsRequest(i);
    expect(req.primary).toBeUndefined();
    expect(req.network).toBeUndefined();
    expect(req.hosts.map((h) => [h.host.target.name, h.etcdMember?.clientUrl, h.etcdClient])).toEqual([
      ['m1', undefined, true],
      ['m2', undefined, true],
      ['e1', 'https://10.200.1.21:2379', undefined],
      ['e2', 'https://10.200.1.22:2379', undefined],
      ['e3', 'https://e3.example.test:2379', undefined],
    ]);
    // Only booleans and versions come back; the request itself names no file content either.
    expect(req.hosts.every((h) => h.containerd === undefined && h.keepalived === undefined)).toBe(true);
  });

  it('plans 0 steps on a healthy cluster and lists every host and the CA and health gate as already done', () => {
    const { runbook } = planEtcdSetupRunbook({ inventory: i }, factsOf(i));
    expect(runbook.phases).toEqual([]);
    expect(runbook.alreadyDone).toEqual([
      { host: 'm1', steps: ['ensureHostCertificates'] },
      { host: 'm2', steps: ['ensureHostCertificates'] },
      ...['e1', 'e2', 'e3'].map((host) => ({
        host,
        steps: ['ensureEtcdInstalled', 'ensureHostCertificates', 'configureEtcd', 'ensureEtcdRunning'],
      })),
      { host: ONCE, steps: ['ensureEtcdCa', 'ensureEtcdHealthy'] },
    ]);
    expect(describeRunbook(runbook)).toContain('nothing to do: the hosts show every step done');
  });

  const memberSteps = ['ensureEtcdInstalled', 'ensureHostCertificates', 'configureEtcd', 'ensureEtcdRunning'];
  const empty = { etcd: { version: '3.4.23', etcdctl: true, member: false, running: false, healthy: false } };

  it('plans only the member whose data is gone, joined to the running cluster, with the CA before it and the health gate after', () => {
    const facts = factsOf(i, { e2: empty });
    const { runbook } = planEtcdSetupRunbook({ inventory: i }, facts);
    expect(runbook.phases.map((p) => p.id)).toEqual(['ca', 'join', 'health']);
    expect(hostSteps(runbook)).toEqual({ e2: [...memberSteps, 'waitEtcdMemberStarted'] });
    expect(runbook.alreadyDone?.map((d) => d.host)).toEqual(['m1', 'm2', 'e1', 'e3']);
  });

  it('plans a joining member in the parallel phase, as before the join phase, for a run that read facts without it (joinPhase false: replay)', () => {
    const facts = factsOf(i, { e2: empty });
    const { runbook } = planEtcdSetupRunbook({ inventory: i }, facts, { joinPhase: false });
    expect(runbook.phases.map((p) => p.id)).toEqual(['ca', 'members', 'health']);
    expect(hostSteps(runbook)).toEqual({ e2: memberSteps });
  });

  it('joins new etcd hosts one at a time, after the members that need work, and waits for each to start', () => {
    const five = inv({}, [
      ...base.hosts,
      { name: 'e4', address: '10.200.1.24', roles: ['etcd'] },
      { name: 'e5', address: '10.200.1.25', roles: ['etcd'] },
    ]);
    const stopped = { etcd: { version: '3.4.23', etcdctl: true, member: true, running: false, healthy: false } };
    const { plan, runbook } = planEtcdSetupRunbook(
      { inventory: five, healthTimeoutSeconds: 45 },
      factsOf(five, { e1: stopped, e4: empty, e5: empty }),
    );
    expect(runbook.phases.map((p) => [p.id, p.kind === 'hosts' && p.rollout.kind])).toEqual([
      ['ca', false],
      ['members', 'parallel'],
      ['join', 'serial'],
      ['health', false],
    ]);
    expect(hostSteps(runbook)).toEqual({
      e1: memberSteps,
      e4: [...memberSteps, 'waitEtcdMemberStarted'],
      e5: [...memberSteps, 'waitEtcdMemberStarted'],
    });
    const join = runbook.phases.find((p) => p.id === 'join');
    const wait = join?.kind === 'hosts' ? join.hosts[0]!.steps[4]! : undefined;
    expect(wait?.args).toEqual({
      member: { name: 'e4', clientUrl: 'https://10.200.1.24:2379', peerUrl: 'https://10.200.1.24:2380' },
      endpoints: plan.endpoints,
      tls: plan.healthcheckClient,
      timeoutSeconds: 45,
    });
    expect(runbook.alreadyDone?.map((d) => d.host)).toEqual(['m1', 'm2', 'e2', 'e3']);
    // No member answers healthy (a new cluster, or every member down): they start together, nobody joins.
    const down = factsOf(five, { e1: empty, e2: stopped, e3: stopped, e4: empty, e5: empty });
    expect(planEtcdSetupRunbook({ inventory: five }, down).runbook.phases.map((p) => p.id)).toEqual([
      'ca',
      'members',
      'health',
    ]);
  });

  it('counts a member as not done at another version, stopped, unhealthy or unread, and a master without its certificate', () => {
    const facts = factsOf(i, {
      e1: { etcd: { version: '3.5.16', etcdctl: true, member: true, running: true, healthy: true } },
      e2: { etcd: { version: '3.4.23', etcdctl: true, member: true, running: true, healthy: false } },
      m2: { etcdClientCert: false },
    });
    facts.hosts[facts.hosts.findIndex((h) => h.name === 'e3')] = unreachableFacts(
      etcdFactsRequest(i).hosts.find((h) => h.host.target.name === 'e3')!,
      'e3: unreachable: connect timed out',
    );
    const { runbook } = planEtcdSetupRunbook({ inventory: i }, facts);
    expect(Object.keys(hostSteps(runbook))).toEqual(['m2', 'e1', 'e2', 'e3']);
    expect(runbook.alreadyDone).toEqual([{ host: 'm1', steps: ['ensureHostCertificates'] }]);
  });

  it('plans every step without facts, with facts that show nothing done (the same runbook), and with --replace-ca', () => {
    const all = planEtcdSetupRunbook({ inventory: i }).runbook;
    expect(all.alreadyDone).toBeUndefined();
    const nothing = factsOf(i);
    nothing.hosts = nothing.hosts.map((h) => ({ ...h, unreachable: 'unreachable', etcdClientCert: false }));
    expect(planEtcdSetupRunbook({ inventory: i }, nothing).runbook).toEqual(all);
    const replace = planEtcdSetupRunbook({ inventory: i, replaceCa: true }, factsOf(i)).runbook;
    expect(hostSteps(replace)).toEqual(hostSteps(all));
    expect(replace.alreadyDone).toBeUndefined();
  });
});

describe('etcd scale-in planned from facts', () => {
  // The cluster has e1..e5; the inventory keeps e1..e3 (e3's address as its peer URL names it).
  const three = inv();
  const member = etcdMember;
  const listed = [
    member('e1', '10.200.1.21', 'a1'),
    member('e2', '10.200.1.22', 'a2'),
    member('e3', 'e3.example.test', 'a3'),
    member('e4', '10.200.1.24', 'a4'),
    member('e5', '10.200.1.25', 'a5'),
  ];
  const healthy = (extra: Partial<NonNullable<HostSetupFacts['etcd']>> = {}) => ({
    etcd: { version: '3.4.23', etcdctl: true, member: true, running: true, healthy: true, members: listed, ...extra },
  });
  const down = { etcd: { version: '3.4.23', etcdctl: true, member: true, running: false, healthy: false } };

  it('plans the members the inventory lost, one at a time after approval: member remove, stop (data kept), health gate', () => {
    const { plan, runbook } = planEtcdSetupRunbook({ inventory: three }, factsOf(three, { e1: healthy() }));
    expect(runbook.phases.map((p) => p.id)).toEqual(['remove']);
    const remove = runbook.phases[0]!;
    expect(remove).toMatchObject({ kind: 'hosts', rollout: { kind: 'serial' }, approval: { scope: 'phase' } });
    expect(hostSteps(runbook)).toEqual({
      e4: ['removeEtcdMember', 'stopRemovedEtcdMember', 'ensureEtcdHealthy'],
      e5: ['removeEtcdMember', 'stopRemovedEtcdMember', 'ensureEtcdHealthy'],
    });
    // Hosts that left the inventory are reached at their peer URL's address; etcdctl runs on a remaining member.
    const hosts = remove.kind === 'hosts' ? remove.hosts : [];
    expect(hosts.map((h) => h.target)).toEqual([
      { name: 'e4', address: '10.200.1.24', roles: [] },
      { name: 'e5', address: '10.200.1.25', roles: [] },
    ]);
    expect(hosts[0]!.steps.map((s) => s.class)).toEqual(['hostStep', 'hostStep', 'wait']);
    expect(hosts[0]!.steps[0]!.args).toMatchObject({
      via: { target: { name: 'e1' } },
      member: { id: 'a4', name: 'e4' },
      endpoints: plan.endpoints,
    });
    expect(describeRunbook(runbook).join('\n')).toContain('after approval');
    // --yes: no gate.
    const yes = planEtcdSetupRunbook({ inventory: three, approveRemoval: true }, factsOf(three, { e1: healthy() }));
    expect(yes.runbook.phases[0]!.approval).toBeUndefined();
  });

  it('refuses, naming the members, a removal that would leave the remaining members without quorum', () => {
    const facts = factsOf(three, { e1: healthy(), e2: down, e3: down });
    expect(() => planEtcdSetupRunbook({ inventory: three }, facts)).toThrow(
      /removing etcd member\(s\) e4, e5 would leave 3 member\(s\) \(e1, e2, e3\) with 1 healthy, below the quorum of 2; bring e2, e3 back first/,
    );
    // One of three down still leaves quorum: it is started again and gated first, then the removals.
    expect(
      planEtcdSetupRunbook({ inventory: three }, factsOf(three, { e1: healthy(), e3: down })).runbook.phases.map(
        (p) => p.id,
      ),
    ).toEqual(['ca', 'members', 'health', 'remove']);
  });

  it('refuses a leaving member named like a planned one (host re-addressed): stopping it by name would hit the kept one', () => {
    // e3 was at 10.200.1.23; the inventory now has e3 at e3.example.test, which joins as a new member.
    const moved = listed.map((m) => (m.name === 'e3' ? member('e3', '10.200.1.23', 'a3') : m));
    expect(() =>
      planEtcdSetupRunbook({ inventory: three }, factsOf(three, { e1: healthy({ members: moved }) })),
    ).toThrow(
      /etcd member\(s\) e3 \(id a3, https:\/\/10\.200\.1\.23:2380\) share a name with the inventory's member\(s\) at https:\/\/e3\.example\.test:2380/,
    );
  });

  it("refuses, showing expected and listed peer URLs, when no listed member has the inventory's peer URL", () => {
    const byIp = listed.map((m) => (m.name === 'e3' ? member('e3', '10.200.1.23', 'a3') : m)).slice(0, 3);
    const other = inv(
      {},
      base.hosts.map((h) => (h.name === 'e1' || h.name === 'e2' ? { ...h, address: `${h.name}.lab` } : h)),
    );
    expect(() =>
      planEtcdSetupRunbook({ inventory: other }, factsOf(other, { e1: healthy({ members: byIp }) })),
    ).toThrow(
      "no etcd member in `member list` has a peer URL of the inventory's: expected e1 https://e1.lab:2380, " +
        'e2 https://e2.lab:2380, e3 https://e3.example.test:2380; listed e1 https://10.200.1.21:2380, ' +
        "e2 https://10.200.1.22:2380, e3 https://10.200.1.23:2380; make the etcd hosts' addresses the ones the " +
        'members were set up with',
    );
  });

  it("takes an inventory host for a leaving member only at the peer URL's address, else that address", () => {
    // w1 (10.200.1.31) ran a member here before; a member named m2 ran at another address than m2's.
    const more = [...listed.slice(0, 3), member('w1', '10.200.1.31', 'b1'), member('m2', '10.200.1.42', 'b2')];
    const { runbook } = planEtcdSetupRunbook({ inventory: three }, factsOf(three, { e1: healthy({ members: more }) }));
    const remove = runbook.phases.find((p) => p.id === 'remove')!;
    expect(remove.kind === 'hosts' && remove.hosts.map((h) => h.target)).toEqual([
      { name: 'm2', address: '10.200.1.42', roles: [] },
      { name: 'w1', address: '10.200.1.31', roles: ['worker'] },
    ]);
    const stop = remove.kind === 'hosts' ? remove.hosts[0]!.steps[1]! : undefined;
    expect(stop?.args).toEqual({ memberId: 'b2', peerUrls: ['https://10.200.1.42:2380'] });
  });

  it('etcd setup refuses it where a master runs a control plane (setup moves the API servers first); not for replays', () => {
    const facts = factsOf(three, { e1: healthy(), m1: { controlPlane: true } });
    expect(() => planEtcdSetupRunbook({ inventory: three }, facts)).toThrow(/run `kubeadm2ha setup`/);
    expect(planEtcdSetupRunbook({ inventory: three }, facts, { apiServersFollow: true }).runbook.phases).toHaveLength(
      1,
    );
    expect(planEtcdSetupRunbook({ inventory: three }, facts, { removal: false }).runbook.phases).toEqual([]);
  });

  it('counts a master it could not read as a control plane: its API server may use the leaving members', () => {
    const m2 = etcdFactsRequest(three).hosts.find((h) => h.host.target.name === 'm2')!;
    const facts = factsOf(three, { e1: healthy(), m2: unreachableFacts(m2, 'ssh: connect timed out') });
    expect(() => planEtcdSetupRunbook({ inventory: three }, facts)).toThrow(
      /while the API servers on m2 \(not read\) may still use them/,
    );
  });
});
