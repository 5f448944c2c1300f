import { describe, expect, it } from 'vitest';
import {
  batchSize,
  describeUpgradePolicy,
  planUpgradePolicy,
  type NodeVersions,
} from '../../../src/plan/upgrade-policy.js';

const at = (v: string, names = ['m1', 'm2', 'm3', 'w1', 'w2', 'w3', 'w4', 'w5']): NodeVersions[] =>
  names.map((name) => ({
    name,
    role: name === 'm1' ? 'primary-master' : name.startsWith('m') ? 'secondary-master' : 'worker',
    ...(name.startsWith('m') && { apiserver: v }),
    kubelet: v,
    kubeadm: v,
  }));
const setNode = (nodes: NodeVersions[], name: string, patch: Partial<NodeVersions>): NodeVersions[] =>
  nodes.map((n) => (n.name === name ? { ...n, ...patch } : n));

describe('upgrade skew policy', () => {
  it('allows one minor up: primary applies, other masters upgrade node, workers in batches of one by default', () => {
    const plan = planUpgradePolicy({ target: '1.34.12', nodes: at('1.33.13') });
    expect(plan.allowed).toBe(true);
    expect(plan.problems).toEqual([]);
    expect(plan.packageVersion).toBe('1.34.12-1.1');
    expect(plan.masters.map((m) => [m.name, m.kind, m.steps[1]])).toEqual([
      ['m1', 'first-master', 'kubeadm-upgrade-apply'],
      ['m2', 'master', 'kubeadm-upgrade-node'],
      ['m3', 'master', 'kubeadm-upgrade-node'],
    ]);
    expect(plan.masters[0]!.steps).toEqual([
      'kubeadm-package',
      'kubeadm-upgrade-apply',
      'drain',
      'kubelet-kubectl-packages',
      'kubelet-restart',
      'uncordon',
      'health',
    ]);
    expect(plan.workerBatches.map((b) => b.map((w) => w.name))).toEqual([['w1'], ['w2'], ['w3'], ['w4'], ['w5']]);
    expect(plan.workerBatches[0]![0]!.steps.slice(0, 3)).toEqual(['kubeadm-package', 'kubeadm-upgrade-node', 'drain']);
    expect(plan.upToDate).toEqual([]);
  });

  it('orders the primary master first wherever it stands in the list', () => {
    const nodes = at('1.33.13');
    const plan = planUpgradePolicy({ target: '1.34.12', nodes: [nodes[2]!, nodes[1]!, nodes[0]!] });
    expect(plan.masters.map((m) => m.name)).toEqual(['m1', 'm3', 'm2']);
  });

  it('allows a patch upgrade within a minor', () => {
    const plan = planUpgradePolicy({ target: '1.34.12', nodes: at('1.34.3') });
    expect(plan.allowed).toBe(true);
    expect(plan.masters[0]!.kind).toBe('first-master');
  });

  it('refuses to skip a minor and says where to go first', () => {
    const plan = planUpgradePolicy({ target: '1.35.0', nodes: at('1.33.13') });
    expect(plan.allowed).toBe(false);
    expect(plan.problems).toContain(
      '1.35.0 is 2 minor versions ahead of the oldest kube-apiserver (1.33.13): upgrade one minor version at a time (first to 1.34)',
    );
  });

  it('measures the step from the oldest apiserver of an HA control plane', () => {
    const nodes = setNode(at('1.34.12'), 'm3', { apiserver: '1.33.13' });
    expect(planUpgradePolicy({ target: '1.35.1', nodes }).problems[0]).toMatch(/oldest kube-apiserver \(1\.33\.13\)/);
  });

  it('refuses a new major version and a downgrade', () => {
    expect(planUpgradePolicy({ target: '2.0.0', nodes: at('1.34.12') }).problems[0]).toMatch(/a new major version/);
    const down = planUpgradePolicy({ target: '1.34.1', nodes: at('1.34.12') });
    expect(down.allowed).toBe(false);
    expect(down.problems).toContain(
      '1.34.1 is older than the newest kube-apiserver (1.34.12): downgrades are not supported',
    );
  });

  it('refuses a kubelet newer than the apiserver', () => {
    const nodes = setNode(at('1.33.13'), 'w2', { kubelet: '1.34.12' });
    const plan = planUpgradePolicy({ target: '1.34.12', nodes });
    expect(plan.allowed).toBe(false);
    expect(plan.problems).toEqual([
      'w2: kubelet 1.34.12 is newer than kube-apiserver 1.33.13 (a kubelet must not be newer than the apiserver)',
    ]);
  });

  it('refuses a worker kubelet at the target while a master still runs the old apiserver', () => {
    const nodes = setNode(setNode(at('1.33.13'), 'm1', { apiserver: '1.34.12', kubelet: '1.34.12' }), 'w1', {
      kubelet: '1.34.12',
    });
    expect(planUpgradePolicy({ target: '1.34.12', nodes }).problems).toEqual([
      'w1: kubelet 1.34.12 is newer than kube-apiserver 1.33.13 (a kubelet must not be newer than the apiserver)',
    ]);
    const ahead = setNode(at('1.34.12'), 'w3', { kubelet: '1.35.0' });
    expect(planUpgradePolicy({ target: '1.34.12', nodes: ahead }).problems).toContain(
      'w3: kubelet 1.35.0 is newer than the target 1.34.12',
    );
  });

  it('allows a kubelet three minors behind the target and refuses four', () => {
    const three = setNode(at('1.33.13'), 'w1', { kubelet: '1.31.2', kubeadm: '1.31.2' });
    expect(planUpgradePolicy({ target: '1.34.12', nodes: three }).allowed).toBe(true);
    const four = setNode(at('1.33.13'), 'w1', { kubelet: '1.30.2', kubeadm: '1.30.2' });
    const plan = planUpgradePolicy({ target: '1.34.12', nodes: four });
    expect(plan.allowed).toBe(false);
    expect(plan.problems).toEqual([
      'w1: kubelet 1.30.2 is 4 minor versions behind 1.34.12, more than the 3 the skew policy allows: upgrade it within its current control plane first',
    ]);
  });

  it('refuses a cluster whose apiservers are already more than one minor apart', () => {
    const nodes = setNode(setNode(at('1.33.13'), 'm2', { apiserver: '1.31.1' }), 'm1', { apiserver: '1.33.13' });
    const plan = planUpgradePolicy({ target: '1.33.14', nodes });
    expect(plan.problems).toContain(
      'kube-apiservers span 1.31.1..1.33.13, more than one minor version: the cluster is already outside the skew policy',
    );
  });

  it('refuses unreadable versions and a kubeadm newer than the target', () => {
    let nodes = setNode(at('1.33.13'), 'm2', { apiserver: 'garbage' });
    nodes = setNode(nodes, 'w1', { kubeadm: '1.35.0' });
    nodes = setNode(nodes, 'w2', { kubelet: '' });
    const plan = planUpgradePolicy({ target: '1.34.12', nodes });
    expect(plan.problems).toEqual(
      expect.arrayContaining([
        'm2: unreadable kube-apiserver version "garbage"',
        'w2: unreadable kubelet version ""',
        'w1: kubeadm 1.35.0 is newer than the target 1.34.12',
      ]),
    );
    expect(planUpgradePolicy({ target: 'latest', nodes: at('1.33.13') })).toMatchObject({
      allowed: false,
      problems: ['invalid target latest'],
    });
  });

  it('refuses a cluster without masters', () => {
    expect(planUpgradePolicy({ target: '1.34.12', nodes: at('1.33.13', ['w1']) }).problems).toEqual([
      'no master among the nodes: nothing to upgrade the control plane on',
    ]);
  });

  it('resumes: nodes at the target drop out and apply is not repeated once the cluster config is at the target', () => {
    let nodes = at('1.33.13');
    for (const n of ['m1', 'm2'])
      nodes = setNode(nodes, n, { apiserver: '1.34.12', kubelet: '1.34.12', kubeadm: '1.34.12' });
    // m3 died after its kubeadm package was installed.
    nodes = setNode(nodes, 'm3', { kubeadm: '1.34.12' });
    const plan = planUpgradePolicy({ target: '1.34.12', nodes, clusterVersion: '1.34.12' });
    expect(plan.allowed).toBe(true);
    expect(plan.upToDate).toEqual(['m1', 'm2']);
    expect(plan.masters.map((m) => [m.name, m.kind])).toEqual([['m3', 'master']]);
    expect(plan.masters[0]!.steps[0]).toBe('kubeadm-upgrade-node'); // package already there
    expect(plan.workerBatches.flat().map((w) => w.name)).toEqual(['w1', 'w2', 'w3', 'w4', 'w5']);
    // Once every master is at the target, a finished worker drops out too.
    let later = at('1.34.12', ['m1', 'm2', 'm3', 'w1']);
    later = [...later, ...at('1.33.13', ['w2'])];
    const rest = planUpgradePolicy({ target: '1.34.12', nodes: later, clusterVersion: '1.34.12' });
    expect(rest.upToDate).toEqual(['m1', 'm2', 'm3', 'w1']);
    expect(rest.workerBatches.flat().map((w) => w.name)).toEqual(['w2']);
  });

  it('runs apply on the first master not yet upgraded when the primary died before apply finished', () => {
    // Primary has the new kubeadm, no apiserver at the target yet, cluster config still old.
    const nodes = setNode(at('1.33.13'), 'm1', { kubeadm: '1.34.12' });
    const plan = planUpgradePolicy({ target: '1.34.12', nodes, clusterVersion: '1.33.13' });
    expect(plan.masters[0]).toMatchObject({ name: 'm1', kind: 'first-master' });
    expect(plan.masters[0]!.steps[0]).toBe('kubeadm-upgrade-apply');
  });

  it('without the cluster config, an apiserver at the target means apply already ran', () => {
    const nodes = setNode(at('1.33.13'), 'm1', { apiserver: '1.34.12' });
    const plan = planUpgradePolicy({ target: '1.34.12', nodes });
    expect(plan.masters.map((m) => m.kind)).toEqual(['master', 'master', 'master']);
  });

  it('has nothing to do when every node is at the target', () => {
    const plan = planUpgradePolicy({ target: '1.34.12', nodes: at('1.34.12') });
    expect(plan).toMatchObject({ allowed: true, masters: [], workerBatches: [] });
    expect(plan.upToDate).toHaveLength(8);
  });

  it('batches workers by count or by percentage, at least one and at most all', () => {
    const names = (b: { name: string }[][]) => b.map((x) => x.map((w) => w.name));
    const nodes = at('1.33.13');
    expect(names(planUpgradePolicy({ target: '1.34.12', nodes, workerBatch: { count: 2 } }).workerBatches)).toEqual([
      ['w1', 'w2'],
      ['w3', 'w4'],
      ['w5'],
    ]);
    expect(names(planUpgradePolicy({ target: '1.34.12', nodes, workerBatch: { percent: 40 } }).workerBatches)).toEqual([
      ['w1', 'w2'],
      ['w3', 'w4'],
      ['w5'],
    ]);
    expect(batchSize(5, { percent: 10 })).toBe(1); // 0.5 nodes rounds down, but never to zero
    expect(batchSize(5, { percent: 100 })).toBe(5);
    expect(batchSize(5, { percent: 250 })).toBe(5);
    expect(batchSize(5, { count: 0 })).toBe(1);
    expect(batchSize(5, { count: 9 })).toBe(5);
    expect(batchSize(0, { percent: 50 })).toBe(1);
  });

  it('takes the package version from the mirror when its list is known, and refuses a target it lacks', () => {
    const offered = ['1.34.12-1.1', '1.34.12-2.0', '1.33.13-1.1'];
    expect(
      planUpgradePolicy({ target: 'v1.34.12', nodes: at('1.33.13'), offeredPackages: offered }).packageVersion,
    ).toBe('1.34.12-1.1');
    const missing = planUpgradePolicy({ target: '1.34.11', nodes: at('1.33.13'), offeredPackages: offered });
    expect(missing.allowed).toBe(false);
    expect(missing.problems).toEqual([
      'the package mirror offers no kubeadm 1.34.11 (offered: 1.34.12-1.1, 1.34.12-2.0, 1.33.13-1.1)',
    ]);
  });

  it('describes the plan one line per node', () => {
    const lines = describeUpgradePolicy(planUpgradePolicy({ target: '1.34.12', nodes: at('1.33.13', ['m1', 'w1']) }));
    expect(lines).toEqual([
      'upgrade to 1.34.12 (packages 1.34.12-1.1): allowed',
      'm1 (first-master, kubelet 1.33.13): kubeadm-package, kubeadm-upgrade-apply, drain, kubelet-kubectl-packages, kubelet-restart, uncordon, health',
      'w1 (worker, batch 1, kubelet 1.33.13): kubeadm-package, kubeadm-upgrade-node, drain, kubelet-kubectl-packages, kubelet-restart, uncordon, health',
    ]);
  });
});
