// Run one workflow to its end on a fresh in-process worker with real SSH, trusting what the lab inventory says
// (SSH trust is the worker's, never the input's). The lab workflow tests share this instead of each building the
// same worker, timing the run and closing the SSH pool.
import { Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { createActivities } from '../../src/activities/index.js';
import { createSshDeps } from '../../src/activities/ssh-deps.js';
import { sshTrustOf } from '../../src/activities/ssh-trust.js';
import type { Inventory } from '../../src/inventory/schema.js';
import { dataConverter } from '../../src/temporal/data-converter.js';
import { uniqueQueue, type connectTemporal } from '../e2e/helpers.js';

export interface LabWorkflowRun {
  temporal: Awaited<ReturnType<typeof connectTemporal>>;
  bundle: WorkflowBundleOption;
  inventory: Inventory;
  workflowType: string;
  args: unknown[];
  taskQueue: string;
  workflowId: string;
}

export async function runOnLabWorker<R>(run: LabWorkflowRun): Promise<{ result: R; ms: number }> {
  const deps = createSshDeps(sshTrustOf(run.inventory));
  const worker = await Worker.create({
    connection: run.temporal.native,
    taskQueue: run.taskQueue,
    workflowBundle: run.bundle,
    dataConverter: dataConverter(),
    activities: createActivities(deps),
  });
  const started = Date.now();
  try {
    const result = (await worker.runUntil(
      run.temporal.client.workflow.execute(run.workflowType, {
        taskQueue: run.taskQueue,
        workflowId: run.workflowId,
        args: run.args,
      }),
    )) as R;
    return { result, ms: Date.now() - started };
  } finally {
    await deps.close();
  }
}

/** runOnLabWorker on a fresh task queue and workflow id (`<cluster>/<name>/<queue>`), with the run's history as JSON
 * (tests search it for secrets). */
export async function runLabWorkflow<R>(
  run: Omit<LabWorkflowRun, 'taskQueue' | 'workflowId'> & { name: string },
): Promise<{ result: R; history: string; ms: number }> {
  const taskQueue = uniqueQueue(run.name);
  const workflowId = `${run.inventory.cluster.name}/${run.name}/${taskQueue}`;
  const { result, ms } = await runOnLabWorker<R>({ ...run, taskQueue, workflowId });
  const history = JSON.stringify(await run.temporal.client.workflow.getHandle(workflowId).fetchHistory());
  return { result, history, ms };
}
