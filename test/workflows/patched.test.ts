// Changing the upgrade workflow's code while a run waits (issue 12 item 5). An upgrade can wait days at its approval;
// the worker is redeployed meanwhile with changed code, and the new worker replays the run's history through it.
// The change here is a real one: upgradeCluster now checks the target's images (on the nodes, else in the registry)
// before it plans, a new activity before the approval point, guarded by patched(UPGRADE_PATCHES.imageCheck).
//
// The workflow is the real upgradeCluster (real planner, executor, approval gate) on a real Temporal dev server with
// real workers; the cluster is the stand-in of test/support/upgrade-sim.ts. The code versions are three bundles of
// today's src/workflows: "before" (upgrade.ts's patched() answers false: the old path, exactly the code before the
// change), "after" (as shipped) and "unguarded" (patched() answers true without its marker: the change written
// without a guard). test/fixtures/histories/upgrade-2m1w-approved-before-image-check.json was recorded by the code
// before the change itself (git main before it); it replays here and in test/unit/replay/histories.test.ts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { temporal as proto } from '@temporalio/proto';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { Compiler, Configuration } from 'webpack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Waiting } from '../../src/plan/gates.js';
import { workflowBundleOptions } from '../../src/temporal/bundle.js';
import { CODEC_ENV, dataConverter } from '../../src/temporal/data-converter.js';
import { approveUpdate, progressQuery } from '../../src/workflows/messages.js';
import { UPGRADE_PATCHES, type UpgradeResult } from '../../src/workflows/upgrade.js';
import { connectTemporal, pollUntil, uniqueQueue } from '../e2e/helpers.js';
import { setEnv } from '../support/env.js';
import { simCluster, simInventory } from '../support/upgrade-sim.js';

type Code = 'before' | 'after' | 'unguarded';
const UPGRADE_SRC = join(import.meta.dirname, '..', '..', 'src', 'workflows', 'upgrade.ts');
const stubs: Record<Exclude<Code, 'after'>, string> = {
  before: join(import.meta.dirname, 'fixtures', 'patched', 'patches-off.ts'),
  unguarded: join(import.meta.dirname, 'fixtures', 'patched', 'patches-unguarded.ts'),
};
const recordedBefore = join(
  import.meta.dirname,
  '..',
  'fixtures',
  'histories',
  'upgrade-2m1w-approved-before-image-check.json',
);

let temporal: Awaited<ReturnType<typeof connectTemporal>>;
let restoreEnv: (() => void) | undefined;
const bundles = {} as Record<Code, WorkflowBundleWithSourceMap>;

/** upgrade.ts's import of @temporalio/workflow (and only its) resolved to a stub module instead. */
function withStub(config: Configuration, stub: string): Configuration {
  const plugin = {
    apply(compiler: Compiler) {
      compiler.hooks.normalModuleFactory.tap('patched-stub', (nmf) => {
        nmf.hooks.beforeResolve.tap('patched-stub', (data) => {
          if (data.request === '@temporalio/workflow' && data.contextInfo.issuer === UPGRADE_SRC) data.request = stub;
        });
      });
    },
  };
  return { ...config, plugins: [...(config.plugins ?? []), plugin] };
}

beforeAll(async () => {
  restoreEnv = setEnv({ [CODEC_ENV]: 'off' });
  for (const code of ['before', 'after', 'unguarded'] as const) {
    const stub = code === 'after' ? undefined : stubs[code];
    bundles[code] = await bundleWorkflowCode({
      ...workflowBundleOptions(),
      ...(stub && { webpackConfigHook: (c: Configuration) => withStub(c, stub) }),
    });
  }
  temporal = await connectTemporal();
}, 600_000);
afterAll(async () => {
  await temporal?.close();
  restoreEnv?.();
});

const inventory = simInventory(2, 1);
type Sim = ReturnType<typeof simCluster>;
function newSim(): Sim {
  const sim = simCluster('1.33.13', { masters: ['m1', 'm2'], workers: ['w1'] });
  sim.state.offered = ['1.33.13', '1.34.12'];
  return sim;
}

const workerOf = (code: Code, taskQueue: string, sim: Sim) =>
  Worker.create({
    connection: temporal.native,
    taskQueue,
    workflowBundle: bundles[code],
    activities: sim.activities,
    dataConverter: dataConverter(),
  });

const start = (taskQueue: string, name: string) =>
  temporal.client.workflow.start('upgradeCluster', {
    taskQueue,
    workflowId: `upg/cluster-change/${taskQueue}/${name}`,
    args: [{ inventory, target: '1.34.12' }],
  });

const untilApprovalWaits = (h: WorkflowHandle) =>
  pollUntil(async () => {
    const w: Waiting[] = (await h.query(progressQuery)).waiting ?? [];
    return w.some((x) => x.kind === 'approve') || undefined;
  }, 'the approval before the first change waiting');

/** The ids of the patch markers in a run's history. */
const patchMarkers = async (h: WorkflowHandle): Promise<string[]> =>
  ((await h.fetchHistory()).events ?? [])
    .filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')
    .map((e) => {
      const data = e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0]?.data;
      return data ? (JSON.parse(Buffer.from(data).toString('utf8')) as { id: string }).id : '?';
    });

/** The replay's error, or undefined when the history replays. */
const replay = (code: Code, history: unknown): Promise<Error | undefined> =>
  Worker.runReplayHistory({ workflowBundle: bundles[code], dataConverter: dataConverter() }, history).then(
    () => undefined,
    (e: unknown) => e as Error,
  );

let parkedHistory: proto.api.history.v1.IHistory | undefined;
let newRunHistory: proto.api.history.v1.IHistory | undefined;

describe('upgradeCluster changed while a run waits at its approval (patched())', () => {
  it('a run parked by the code before the image check is approved and completed by the new code without it; new runs check images', async () => {
    const sim = newSim();
    const taskQueue = uniqueQueue('patched-upgrade');
    const before = await workerOf('before', taskQueue, sim);
    const handle = await before.runUntil(async () => {
      const h = await start(taskQueue, 'parked');
      await untilApprovalWaits(h);
      return h;
    });
    expect(sim.reads).toEqual(['readUpgradeFacts']);
    expect(sim.calls).toEqual([]); // nothing changed before the approval

    const after = await workerOf('after', taskQueue, sim);
    const t0 = Date.now();
    const result = await after.runUntil(async () => {
      await handle.executeUpdate(approveUpdate, { args: [{ by: 'ops@test', reason: 'window open' }] });
      return (await handle.result()) as UpgradeResult;
    });
    process.stderr.write(`[patched] parked run completed by the new code in ${Date.now() - t0} ms\n`);
    // It went on where it waited: no image check (it had planned before there was one), only the final read.
    expect(sim.reads).toEqual(['readUpgradeFacts', 'readUpgradeFacts']);
    expect(result.gates).toMatchObject([{ kind: 'approve', phase: 'safety', by: 'ops@test' }]);
    expect(sim.calls.filter((c) => /kubeadmUpgrade/.test(c))).toEqual([
      'm1:kubeadmUpgradeApply',
      'm2:kubeadmUpgradeNode',
      'w1:kubeadmUpgradeNode',
    ]);
    expect(result.after.map((n) => [n.name, n.kubelet, n.kubeadm, n.cordoned])).toEqual([
      ['m1', '1.34.12', '1.34.12', false],
      ['m2', '1.34.12', '1.34.12', false],
      ['w1', '1.34.12', '1.34.12', false],
    ]);
    expect(await patchMarkers(handle)).toEqual([]);
    parkedHistory = await handle.fetchHistory();

    // A run started on the new code checks the images first, records the patch, and is refused for an image that
    // is neither on the masters nor in the registry, before any approval or change.
    const fresh = newSim();
    fresh.state.lacking = ['registry.k8s.io/kube-apiserver:v1.34.12'];
    const worker = await workerOf('after', taskQueue, fresh);
    const refused = await worker.runUntil(async () => {
      const h = await start(taskQueue, 'new');
      const err = await h.result().then(
        () => undefined,
        (e: unknown) => e,
      );
      newRunHistory = await h.fetchHistory();
      // Every patch of today's code is recorded (the node repairs' too: it is decided before the plan).
      expect(await patchMarkers(h)).toEqual([UPGRADE_PATCHES.imageCheck, UPGRADE_PATCHES.nodeRepairs]);
      return err;
    });
    expect(refused).toBeInstanceOf(WorkflowFailedError);
    expect((refused as WorkflowFailedError).cause?.message).toContain(
      'image registry.k8s.io/kube-apiserver:v1.34.12: not in the registry (https://registry.k8s.io has no such manifest) and not on m1, m2',
    );
    expect(fresh.reads).toEqual(['readUpgradeFacts', 'readUpgradeImages']);
    expect(fresh.calls).toEqual([]);
  });

  it('its history replays on the code before and after the change; the change without patched() breaks replay', async () => {
    expect(parkedHistory).toBeDefined();
    expect(await replay('after', parkedHistory)).toBeUndefined();
    expect(await replay('before', parkedHistory)).toBeUndefined();
    const unguarded = await replay('unguarded', parkedHistory);
    expect(unguarded?.name).toBe('DeterminismViolationError');

    // The history the code before the change recorded itself replays on today's code, not on the unguarded one.
    const recorded: unknown = JSON.parse(readFileSync(recordedBefore, 'utf8'));
    expect(await replay('after', recorded)).toBeUndefined();
    expect((await replay('unguarded', recorded))?.name).toBe('DeterminismViolationError');

    // One way only: a run started on the new code cannot be served by a worker rolled back to the old code.
    expect(await replay('after', newRunHistory)).toBeUndefined();
    expect((await replay('before', newRunHistory))?.name).toBe('DeterminismViolationError');
  });
});
