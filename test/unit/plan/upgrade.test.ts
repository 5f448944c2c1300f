// The upgrade runbook from facts: what `upgrade plan`, `upgrade --dry-run` and the workflow all run. Facts come
// from the stand-in cluster (test/support/upgrade-sim.ts) in the shape readUpgradeFacts returns.
import { describe, expect, it } from 'vitest';
import type { HostPhase } from '../../../src/plan/runbook.js';
import { describeUpgrade, planUpgrade } from '../../../src/plan/upgrade.js';
import { simCluster, simInventory } from '../../support/upgrade-sim.js';

const inv = simInventory(3, 3);
const cluster = () => {
  const c = simCluster('1.33.13', { masters: ['m1', 'm2', 'm3'], workers: ['w1', 'w2', 'w3'] });
  c.state.offered = ['1.34.12', '1.33.13'];
  return c;
};
const opts = { target: '1.34.12', stamp: '20261202T210000Z' };
const hostPhase = (p: ReturnType<typeof planUpgrade>, id: string) =>
  p.runbook.phases.find((x): x is HostPhase => x.id === id && x.kind === 'hosts');

describe('planUpgrade', () => {
  it('a whole cluster: approval, snapshot, backups, first master apply, masters one by one, workers in batches', () => {
    const p = planUpgrade(inv, cluster().facts(), { ...opts, workerBatch: { count: 2 } });
    expect(p.policy.allowed).toBe(true);
    expect(p.runbook.phases.map((x) => x.id)).toEqual(['safety', 'backup', 'first-master', 'masters', 'workers']);
    const safety = p.runbook.phases[0]!;
    expect(safety.approval).toEqual({ scope: 'phase' });
    expect(safety.kind === 'once' && safety.steps.map((s) => s.id)).toEqual([
      'saveEtcdSnapshot',
      'fetchAdminKubeconfig',
    ]);
    expect(hostPhase(p, 'backup')!.hosts.map((h) => h.target.name)).toEqual(['m1', 'm2', 'm3', 'w1', 'w2', 'w3']);
    const first = hostPhase(p, 'first-master')!;
    expect(first.hosts.map((h) => h.target.name)).toEqual(['m1']);
    expect(first.hosts[0]!.steps.map((s) => s.id)).toEqual([
      'installKubePackages',
      'setSandboxImage',
      'ensureCriSocket',
      'kubeadmUpgradeApply',
      'drainNode',
      'installKubePackages',
      'restartKubelet',
      'uncordonNode',
      'waitNodeUpgraded',
      'configureKeepalived',
      'configureLoadBalancer',
    ]);
    // Every drain is undone by an uncordon; every node can be rolled back to its copy and previous packages.
    expect(first.hosts[0]!.steps[4]!.undo).toMatchObject({ id: 'uncordonNode', args: { node: 'm1' } });
    expect(first.hosts[0]!.rollback!.map((s) => s.id)).toEqual([
      'restoreKubernetesConfig',
      'installKubePackages',
      'installKubePackages',
      'restartKubelet',
      'uncordonNode',
    ]);
    expect(first.hosts[0]!.rollback![1]!.args).toMatchObject({ version: '1.33.13', packages: ['kubelet', 'kubectl'] });
    expect(first.hosts[0]!.maySkip).toBe(false);
    const masters = hostPhase(p, 'masters')!;
    expect(masters.rollout).toEqual({ kind: 'serial' });
    expect(masters.hosts.map((h) => h.target.name)).toEqual(['m2', 'm3']);
    expect(masters.hosts[0]!.steps.map((s) => s.id)).toContain('kubeadmUpgradeNode');
    const workers = hostPhase(p, 'workers')!;
    expect(workers.rollout).toEqual({ kind: 'batches', size: 2 });
    expect(workers.hosts.every((h) => h.maySkip)).toBe(true);
    expect(workers.hosts[0]!.steps.map((s) => s.id)).not.toContain('configureKeepalived');
    expect(describeUpgrade(p)).toContain(
      '  m1  kubelet 1.33.13, kubeadm 1.33.13, apiserver 1.33.13, Ready, held: kubeadm,kubectl,kubelet  →  kubeadm upgrade apply → 1.34.12',
    );
  });

  it("node repairs before kubeadm upgrade apply|node: the target's pause as containerd's sandbox image, the CRI socket annotation; listed by the plan", () => {
    const p = planUpgrade(inv, cluster().facts(), opts);
    for (const h of ['first-master', 'masters', 'workers'].flatMap((id) => hostPhase(p, id)!.hosts)) {
      const ids = h.steps.map((s) => s.id);
      const kubeadm = ids.findIndex((id) => id === 'kubeadmUpgradeApply' || id === 'kubeadmUpgradeNode');
      expect(ids.slice(kubeadm - 2, kubeadm), h.target.name).toEqual(['setSandboxImage', 'ensureCriSocket']);
      expect(h.steps[kubeadm - 2]!.args).toEqual({ image: 'registry.k8s.io/pause:3.10.1' });
      expect(ids.filter((id) => id === 'setSandboxImage')).toHaveLength(1);
    }
    expect(describeUpgrade(p)).toContain(
      '  before kubeadm on each node: containerd sandbox image registry.k8s.io/pause:3.10.1; the CRI socket annotation where missing (each only if not so already)',
    );
    // The inventory's own sandbox image is kept; the image repository is followed.
    const own = simInventory(3, 3);
    own.cluster.containerRuntime.sandboxImage = 'mirror.example/pause:custom';
    const steps = hostPhase(planUpgrade(own, cluster().facts(), opts), 'workers')!.hosts[0]!.steps;
    expect(steps.find((s) => s.id === 'setSandboxImage')!.args).toEqual({ image: 'mirror.example/pause:custom' });
    const mirror = simInventory(3, 3);
    mirror.cluster.imageRepository = '10.200.7.1:5000/k8s';
    const m = hostPhase(planUpgrade(mirror, cluster().facts(), opts), 'masters')!.hosts[0]!.steps;
    expect(m.find((s) => s.id === 'setSandboxImage')!.args).toEqual({ image: '10.200.7.1:5000/k8s/pause:3.10.1' });
    // The plan of a run started before the repairs existed (patched() false in the workflow): none of them.
    const old = planUpgrade(inv, cluster().facts(), { ...opts, nodeRepairs: false });
    const oldIds = old.runbook.phases.flatMap((x) => (x.kind === 'hosts' ? x.hosts.flatMap((h) => h.steps) : []));
    expect(oldIds.map((s) => s.id)).not.toContain('setSandboxImage');
    expect(oldIds.map((s) => s.id)).not.toContain('ensureCriSocket');
    expect(describeUpgrade(old).join('\n')).not.toMatch(/before kubeadm on each node/);
  });

  it('a rerun after m1 was upgraded plans only the rest: no apply again, no backup of done nodes', () => {
    const c = cluster();
    for (const n of ['m1']) {
      const x = c.nodes.get(n)!;
      x.packages = { kubeadm: '1.34.12', kubelet: '1.34.12', kubectl: '1.34.12' };
      x.runningKubelet = '1.34.12';
      if (x.master) x.apiserver = '1.34.12';
    }
    c.state.clusterVersion = '1.34.12';
    // m2 died after its kubeadm package: that step is not planned again.
    c.nodes.get('m2')!.packages.kubeadm = '1.34.12';
    const p = planUpgrade(inv, c.facts(), { ...opts, approved: true });
    expect(p.policy.problems).toEqual([]);
    expect(p.runbook.phases.map((x) => x.id)).toEqual(['safety', 'backup', 'masters', 'workers']);
    expect(p.runbook.phases[0]!.approval).toBeUndefined();
    expect(hostPhase(p, 'backup')!.hosts.map((h) => h.target.name)).toEqual(['m2', 'm3', 'w1', 'w2', 'w3']);
    const m2 = hostPhase(p, 'masters')!.hosts[0]!;
    expect(m2.target.name).toBe('m2');
    expect(m2.steps.map((s) => s.id).slice(0, 4)).toEqual([
      'setSandboxImage',
      'ensureCriSocket',
      'kubeadmUpgradeNode',
      'drainNode',
    ]);
    expect(p.policy.upToDate).toEqual(['m1']);
  });

  it('a node at the target but left cordoned is only uncordoned', () => {
    const c = simCluster('1.34.12', { masters: ['m1', 'm2', 'm3'], workers: ['w1', 'w2', 'w3'] });
    c.state.offered = ['1.34.12'];
    c.nodes.get('w2')!.cordoned = true;
    const p = planUpgrade(inv, c.facts(), opts);
    expect(p.runbook.phases.map((x) => x.id)).toEqual(['safety', 'leftovers']);
    expect(hostPhase(p, 'leftovers')!.hosts[0]!.steps.map((s) => s.id)).toEqual(['uncordonNode']);
    expect(p.nodes.find((n) => n.name === 'w2')!.change).toBe('uncordon');
  });

  it('target == current: nothing to do', () => {
    const c = simCluster('1.34.12', { masters: ['m1', 'm2', 'm3'], workers: ['w1', 'w2', 'w3'] });
    c.state.offered = ['1.34.12'];
    const p = planUpgrade(inv, c.facts(), opts);
    expect(p.policy.allowed).toBe(true);
    expect(p.runbook.phases).toEqual([]);
    expect(describeUpgrade(p).at(-1)).toBe('nothing to do: every node runs 1.34.12');
  });

  it('refuses a target the package sources do not offer, an API that did not answer and an unregistered node', () => {
    const c = cluster();
    c.state.offered = ['1.33.13'];
    const facts = c.facts();
    facts.nodes = facts.nodes!.filter((n) => n.name !== 'w3');
    let p = planUpgrade(inv, facts, opts);
    expect(p.policy.allowed).toBe(false);
    expect(p.policy.problems.join('\n')).toMatch(/offers no kubeadm 1\.34\.12/);
    expect(p.policy.problems.join('\n')).toMatch(/w3: not a node of the cluster/);
    expect(p.runbook.phases).toEqual([]);
    const down = { ...cluster().facts(), nodes: undefined, apiError: 'connection refused' };
    p = planUpgrade(inv, down, opts);
    expect(p.policy.problems).toContain('the API did not answer on the primary: connection refused');
  });

  it('--approve-each puts an approval before every node', () => {
    const p = planUpgrade(inv, cluster().facts(), { ...opts, approveEach: true });
    for (const id of ['first-master', 'masters', 'workers'])
      expect(hostPhase(p, id)!.approval).toEqual({ scope: 'host' });
  });
});
