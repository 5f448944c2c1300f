// Changing workflow code while a run waits (issue 12 item 5). An upgrade can wait days at an approval; the worker is
// redeployed meanwhile with changed workflow code. The new worker replays the run's history through the NEW code,
// so a change that adds a command before the waiting point must be guarded with patched().
//
// The stand-in workflow (test/workflows/fixtures/patched: the real executor, approval gate and recorded activities,
// stand-in steps) exists in three versions: v1; v2 with a new pre-flight activity guarded by patched(); v2 without
// the guard. Real Temporal dev server, real workers; the only stand-in is the recording activity.
// TODO(#12): port to the upgrade workflow once it is on main (same mechanism, its own first changed step).
import { join } from 'node:path';
import { type WorkflowHandle } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Waiting } from '../../src/plan/gates.js';
import { dataConverter, failureConverterPath } from '../../src/temporal/data-converter.js';
import { approveUpdate, progressQuery } from '../../src/workflows/messages.js';
import type { RunbookResult } from '../../src/workflows/runbook.js';
import { connectTemporal, pollUntil, uniqueQueue } from '../e2e/helpers.js';

type Version = 'v1' | 'v2' | 'v2-unguarded';
let temporal: Awaited<ReturnType<typeof connectTemporal>>;
const bundles = {} as Record<Version, WorkflowBundleWithSourceMap>;

beforeAll(async () => {
  for (const v of ['v1', 'v2', 'v2-unguarded'] as const) {
    bundles[v] = await bundleWorkflowCode({
      workflowsPath: join(import.meta.dirname, 'fixtures', 'patched', `${v}.ts`),
      failureConverterPath: failureConverterPath(),
      logger: new DefaultLogger('WARN'),
    });
  }
  temporal = await connectTemporal();
}, 300_000);
afterAll(async () => {
  await temporal?.close();
});

/** A worker of one code version with the recording activity; `calls` lists what it ran. */
async function workerOf(v: Version, taskQueue: string): Promise<{ worker: Worker; calls: string[] }> {
  const calls: string[] = [];
  const worker = await Worker.create({
    connection: temporal.native,
    taskQueue,
    workflowBundle: bundles[v],
    dataConverter: dataConverter({ role: 'worker' }),
    activities: {
      recordStep({ name, host }: { name: string; host?: { target: { name: string } } }): Promise<string> {
        calls.push(`${host?.target.name ?? 'once'}:${name}`);
        return Promise.resolve(name);
      },
    },
  });
  return { worker, calls };
}

const untilApprovalWaits = (h: WorkflowHandle) =>
  pollUntil(async () => {
    const w: Waiting[] = (await h.query(progressQuery)).waiting ?? [];
    return w.some((x) => x.kind === 'approve') || undefined;
  }, 'the workers approval waiting');

/** Starts a v1 run and parks it at the approval; the v1 worker is gone afterwards. */
async function parkedV1Run(): Promise<{ handle: WorkflowHandle; taskQueue: string; v1Calls: string[] }> {
  const taskQueue = uniqueQueue('patched');
  const { worker, calls } = await workerOf('v1', taskQueue);
  const handle = await worker.runUntil(async () => {
    const h = await temporal.client.workflow.start('standInUpgradeWorkflow', {
      taskQueue,
      workflowId: `patched-test/${taskQueue}`,
      args: [['w1', 'w2']],
    });
    await untilApprovalWaits(h);
    return h;
  });
  return { handle, taskQueue, v1Calls: calls };
}

const patchMarkers = async (h: WorkflowHandle): Promise<number> =>
  ((await h.fetchHistory()).events ?? []).filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')
    .length;

describe('workflow code changed while a run waits at an approval (patched())', () => {
  it('a run parked by v1 is approved and completed by a v2 worker; new runs take the v2 path', async () => {
    const { handle, taskQueue, v1Calls } = await parkedV1Run();
    expect(v1Calls).toEqual(['once:snapshot']);

    const v2 = await workerOf('v2', taskQueue);
    const result = await v2.worker.runUntil(async () => {
      await handle.executeUpdate(approveUpdate, { args: [{ by: 'ops@test', reason: 'window open' }] });
      return (await handle.result()) as RunbookResult;
    });
    // The old run went on where it waited: no pre-flight (it is past that point), no step repeated.
    expect(v2.calls).toEqual(['w1:upgrade', 'w2:upgrade']);
    expect(result.gates).toMatchObject([{ kind: 'approve', phase: 'workers', by: 'ops@test' }]);
    expect(await patchMarkers(handle)).toBe(0);

    // A run started on v2 takes the new path, and its history records the patch.
    const fresh = await workerOf('v2', taskQueue);
    await fresh.worker.runUntil(async () => {
      const h = await temporal.client.workflow.start('standInUpgradeWorkflow', {
        taskQueue,
        workflowId: `patched-test/${taskQueue}/new`,
        args: [['w1']],
      });
      await untilApprovalWaits(h);
      await h.executeUpdate(approveUpdate, { args: [{ by: 'ops@test' }] });
      await h.result();
      expect(await patchMarkers(h)).toBe(1);
    });
    expect(fresh.calls).toEqual(['once:pre-upgrade-check', 'once:snapshot', 'w1:upgrade']);
  });

  it('the parked v1 history replays on v2; without patched() the same change fails replay with a determinism error', async () => {
    const { handle } = await parkedV1Run();
    const history = await handle.fetchHistory();
    await Worker.runReplayHistory({ workflowBundle: bundles.v2, dataConverter: dataConverter() }, history);
    const unguarded = await Worker.runReplayHistory(
      { workflowBundle: bundles['v2-unguarded'], dataConverter: dataConverter() },
      history,
    ).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(unguarded?.name).toBe('DeterminismViolationError');
    expect(unguarded?.message).toMatch(/Nondeterminism|nondeterminism/);
    await handle.terminate('test done');
  });
});
