// upgradeCluster (the real workflow, planner and executor) on a real Temporal dev server, against the stand-in
// cluster of test/support/upgrade-sim.ts: its activities change node state where the real ones change a real node,
// and readUpgradeFacts reports it, so the planner sees what a real rerun would see. No lab: the gates, the order,
// rollback, abort with undo and the rerun that starts at the first node not at the target, in seconds. The same
// workflow on real Kubernetes is test/e2e/upgrade.test.ts.
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Waiting } from '../../src/plan/gates.js';
import { loadWorkflowBundle } from '../../src/temporal/bundle.js';
import { CODEC_ENV, dataConverter } from '../../src/temporal/data-converter.js';
import { approveUpdate, decideUpdate, progressQuery } from '../../src/workflows/messages.js';
import type { UpgradeClusterInput, UpgradeResult } from '../../src/workflows/upgrade.js';
import { connectTemporal, pollUntil, uniqueQueue } from '../e2e/helpers.js';
import { setEnv } from '../support/env.js';
import { simCluster, simInventory } from '../support/upgrade-sim.js';

let temporal: Awaited<ReturnType<typeof connectTemporal>>;
let bundle: WorkflowBundleOption;
let restoreEnv: (() => void) | undefined;

const inventory = simInventory(3, 2);

beforeAll(async () => {
  restoreEnv = setEnv({ [CODEC_ENV]: 'off' });
  bundle = await loadWorkflowBundle();
  temporal = await connectTemporal();
}, 300_000);
afterAll(async () => {
  await temporal?.close();
  restoreEnv?.();
});

type Sim = ReturnType<typeof simCluster>;
const newSim = (): Sim => {
  const sim = simCluster('1.33.13', { masters: ['m1', 'm2', 'm3'], workers: ['w1', 'w2'] });
  sim.state.offered = ['1.33.13', '1.34.12'];
  return sim;
};

async function start(sim: Sim, input: Omit<UpgradeClusterInput, 'inventory'>) {
  const taskQueue = uniqueQueue('upgrade');
  const worker = await Worker.create({
    connection: temporal.native,
    taskQueue,
    workflowBundle: bundle,
    activities: sim.activities,
    dataConverter: dataConverter(),
  });
  const running = worker.run();
  const handle = await temporal.client.workflow.start('upgradeCluster', {
    taskQueue,
    workflowId: `upg/upgrade/${taskQueue}`,
    args: [{ inventory, ...input }],
  });
  return {
    handle,
    stop: async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    },
  };
}

const waiting = (h: WorkflowHandle, kind: Waiting['kind']) =>
  pollUntil(async () => {
    const w = ((await h.query(progressQuery).catch(() => undefined))?.waiting ?? []).filter((x) => x.kind === kind);
    return w.length ? w : undefined;
  }, `a ${kind} gate waiting`);
/** The node each call touched, in order, first touch only: the order nodes were upgraded in (the backups of every
 * node run in parallel before any upgrade, so they do not count). */
const nodeOrder = (calls: string[]) => [
  ...new Set(
    calls
      .filter((c) => !c.startsWith('cluster:') && !c.endsWith(':backupKubernetesConfig'))
      .map((c) => c.split(':')[0]),
  ),
];
const atTarget = (r: UpgradeResult) =>
  r.after.every((n) => n.kubelet === '1.34.12' && n.kubeadm === '1.34.12' && !n.cordoned);

describe('upgradeCluster on a stand-in cluster (real Temporal, real workflow; stand-in activities)', () => {
  it('holds at the approval, then: snapshot, backups, first master apply, masters one by one, workers', async () => {
    const sim = newSim();
    const r = await start(sim, { target: '1.34.12', workerBatch: { count: 2 } });
    try {
      const [gate] = await waiting(r.handle, 'approve');
      expect(gate).toMatchObject({ phase: 'safety' });
      expect(sim.calls).toEqual([]); // nothing changed before the approval
      await r.handle.executeUpdate(approveUpdate, { args: [{ by: 'ops@test' }] });
      const res = (await r.handle.result()) as UpgradeResult;
      expect(sim.calls[0]).toBe('cluster:saveEtcdSnapshot');
      const upgrades = sim.calls.filter((c) => /kubeadmUpgrade(Apply|Node)/.test(c));
      // Masters in order, then both workers at once (one batch of 2, in parallel: either may start first).
      expect(upgrades.slice(0, 3)).toEqual([
        'm1:kubeadmUpgradeApply',
        'm2:kubeadmUpgradeNode',
        'm3:kubeadmUpgradeNode',
      ]);
      expect(upgrades.slice(3).sort()).toEqual(['w1:kubeadmUpgradeNode', 'w2:kubeadmUpgradeNode']);
      // m2 starts only after m1 passed its health gate (masters one at a time).
      expect(sim.calls.indexOf('m1:waitNodeUpgraded')).toBeLessThan(
        sim.calls.indexOf('m2:installKubePackages(kubeadm)'),
      );
      // Each node's repairs right before its kubeadm: the target's pause as containerd's sandbox, the CRI socket.
      for (const n of ['m1', 'm2', 'm3', 'w1', 'w2']) {
        const own = sim.calls.filter((c) => c.startsWith(`${n}:`));
        const kubeadm = own.findIndex((c) => /kubeadmUpgrade(Apply|Node)/.test(c));
        expect(own.slice(kubeadm - 2, kubeadm)).toEqual([`${n}:setSandboxImage`, `${n}:ensureCriSocket`]);
        expect(sim.state.sandbox.get(n)).toBe('registry.k8s.io/pause:3.10.1');
      }
      expect(atTarget(res)).toBe(true);
      expect(res.plan.find((n) => n.name === 'm1')!.change).toBe('kubeadm upgrade apply → 1.34.12');
      expect(res.gates).toMatchObject([{ kind: 'approve', by: 'ops@test' }]);
    } finally {
      await r.stop();
    }
  });

  it('a failure on the second master answered with rollback, then retry: it is put back, then upgraded', async () => {
    const sim = newSim();
    sim.failures.set('m2:kubeadmUpgradeNode', 1);
    const r = await start(sim, { target: '1.34.12', approved: true });
    try {
      const [w] = await waiting(r.handle, 'decide');
      expect(w).toMatchObject({ host: 'm2', step: 'kubeadmUpgradeNode', maySkip: false, mayRollback: true });
      // kubeadm was already at 1.34.12 on m2: the rollback must bring it back.
      expect(sim.nodes.get('m2')!.packages.kubeadm).toBe('1.34.12');
      await r.handle.executeUpdate(decideUpdate, { args: [{ action: 'rollback', by: 'ops', reason: 'bad node' }] });
      const [again] = await waiting(r.handle, 'decide');
      expect(again).toMatchObject({ host: 'm2', step: 'rollback' });
      const m2 = sim.nodes.get('m2')!;
      expect(m2.packages).toEqual({ kubeadm: '1.33.13', kubelet: '1.33.13', kubectl: '1.33.13' });
      expect(m2.cordoned).toBe(false);
      expect(sim.calls).toContain('m2:restoreKubernetesConfig');
      await r.handle.executeUpdate(decideUpdate, { args: [{ action: 'retry', by: 'ops' }] });
      const res = (await r.handle.result()) as UpgradeResult;
      expect(atTarget(res)).toBe(true);
      expect(res.rolledBack).toEqual(['m2']);
      expect(sim.calls.filter((c) => c === 'm2:kubeadmUpgradeNode')).toHaveLength(2);
    } finally {
      await r.stop();
    }
  });

  it('abort after a drain leaves no node cordoned; the rerun starts at the first node not at the target', async () => {
    const sim = newSim();
    // w1 fails after its drain: abort must uncordon it.
    sim.failures.set('w1:installKubePackages(kubelet,kubectl)', 1);
    const r = await start(sim, { target: '1.34.12', approved: true });
    try {
      await waiting(r.handle, 'decide');
      expect(sim.nodes.get('w1')!.cordoned).toBe(true);
      await r.handle.executeUpdate(decideUpdate, { args: [{ action: 'abort', by: 'ops' }] });
      const err: unknown = await r.handle.result().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect([...sim.nodes.values()].filter((n) => n.cordoned)).toEqual([]);
    } finally {
      await r.stop();
    }
    const before = sim.calls.length;
    const again = await start(sim, { target: '1.34.12', approved: true });
    try {
      const res = (await again.handle.result()) as UpgradeResult;
      const rerun = sim.calls.slice(before);
      // The masters were done: nothing of theirs is redone; w1 (whose kubeadm package was already in) goes on.
      expect(nodeOrder(rerun)).toEqual(['w1', 'w2']);
      expect(rerun).not.toContain('w1:installKubePackages(kubeadm)');
      expect(atTarget(res)).toBe(true);
      expect(res.plan.filter((n) => n.change.startsWith('nothing')).map((n) => n.name)).toEqual(['m1', 'm2', 'm3']);
    } finally {
      await again.stop();
    }
    // And once more: nothing to do, nothing touched.
    const third = await start(sim, { target: '1.34.12' });
    const n = sim.calls.length;
    try {
      const res = (await third.handle.result()) as UpgradeResult;
      expect(sim.calls.length).toBe(n);
      expect(res.steps).toEqual([]);
    } finally {
      await third.stop();
    }
  });
});
