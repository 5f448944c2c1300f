// The certificate check schedule's start action, lab-free: created on the run's real Temporal dev server for a task
// queue nobody polls, triggered once, and the run it started described (nothing serves it, no host is contacted).
// The run must carry what every start of ours carries: the project's workflow task timeout (not the server's 10 s
// default, which times out tasks on a busy worker) and the summary the Web UI lists it by.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteCertsSchedule, ensureCertsSchedule } from '../../src/cli/certs-schedule.js';
import { loadInventory } from '../../src/inventory/index.js';
import type { Inventory } from '../../src/inventory/schema.js';
import { connectTemporal, pollUntil, uniqueQueue, workflowTaskTimeoutMs } from './helpers.js';

let temporal: Awaited<ReturnType<typeof connectTemporal>>;
let inventory: Inventory;
const started: { workflowId: string; runId: string }[] = [];

beforeAll(async () => {
  temporal = await connectTemporal();
  const loaded = (await loadInventory('test/fixtures/inventory/yaml/valid.yaml')).inventory;
  inventory = { ...loaded, cluster: { ...loaded.cluster, name: `sched-${randomUUID().slice(0, 6)}` } };
});

afterAll(async () => {
  if (!temporal) return;
  for (const r of started)
    await temporal.client.workflow
      .getHandle(r.workflowId, r.runId)
      .terminate('certs schedule test done')
      .catch(() => {});
  await deleteCertsSchedule(temporal.client, inventory.cluster.name).catch(() => false);
  await temporal.close();
});

describe('certificate check schedule: the runs it starts', () => {
  it('start with the project workflow task timeout and the scheduled summary', async () => {
    const t0 = Date.now();
    const { handle } = await ensureCertsSchedule(temporal.client, {
      inventory,
      every: '24h',
      taskQueue: uniqueQueue('unserved-certs'),
    });
    expect((await handle.describe()).action.workflowTaskTimeout).toBe(30_000);
    await handle.trigger();
    const action = await pollUntil(
      async () => (await handle.describe()).info.recentActions[0],
      'the triggered run',
      30_000,
      200,
    );
    const { workflowId, firstExecutionRunId: runId } = action.action.workflow;
    started.push({ workflowId, runId });
    const desc = await temporal.client.workflow.getHandle(workflowId, runId).describe();
    expect(workflowTaskTimeoutMs(desc)).toBe(30_000);
    expect(await desc.staticSummary()).toBe(`certs check of ${inventory.cluster.name} (scheduled)`);
    process.stderr.write(`[certs-schedule-start] created, triggered and described in ${Date.now() - t0} ms\n`);
  });
});
