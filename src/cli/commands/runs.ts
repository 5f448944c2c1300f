// `kubeadm2ha status` and `kubeadm2ha resume`: find a cluster's operations in Temporal, show where each stands per
// host, and pick a stopped-watching run back up (the workflow never stopped; only this terminal did).
import type { Command } from 'commander';
import { sshTrustOf } from '../../activities/ssh-trust.js';
import type { WorkflowExecutionInfo } from '@temporalio/client';
import { InvalidInputError } from '../../errors.js';
import { loadInventory } from '../../inventory/index.js';
import type { Progress } from '../../plan/types.js';
import { workflowUiLink } from '../../temporal/connection.js';
import { progressQuery } from '../../workflows/messages.js';
import { isOperation, operations, workflowIdFor, type Operation } from '../../workflows/ids.js';
import { addOperationOptions, operationContext, type OperationFlags } from '../context.js';
import { followOperation, type OperationContext } from '../operation.js';
import { forTerminal } from '../terminal-text.js';
import { describeWaiting } from '../../plan/gates.js';
import { ClusterName } from '../../temporal/search-attributes.js';
import { renderProgress } from '../progress.js';

const QUERY_DEADLINE_MS = 3_000;

interface RunsFlags extends OperationFlags {
  inventory?: string;
  cluster?: string;
  limit?: string;
}

async function clusterName(flags: RunsFlags): Promise<string> {
  if (flags.cluster) return flags.cluster;
  if (flags.inventory) return (await loadInventory(flags.inventory)).inventory.cluster.name;
  throw new InvalidInputError('name the cluster: -i <inventory> or --cluster <name>');
}

/** Visibility queries quote values with single quotes; a cluster name never holds one (schema), but be strict. */
function visibilityString(value: string): string {
  if (/['\\]/.test(value)) throw new InvalidInputError(`cluster name ${JSON.stringify(value)} cannot be queried`);
  return `'${value}'`;
}

interface RunSummary {
  workflowId: string;
  runId: string;
  operation: string;
  /** The ClusterName search attribute. */
  cluster?: string;
  /** The first gate waiting for a person, in words (running runs whose worker answered). */
  waitingAt?: string;
  status: string;
  startTime: string;
  closeTime?: string;
  link?: string;
  progress?: Progress;
  /** Why there is no progress for a running run, and what to do. */
  note?: string;
  /** What the run recorded about itself (e.g. certsMinDaysLeft of a certificate check). */
  memo?: Record<string, unknown>;
}

/** The most recent runs matching `query`, newest first, with progress (and what waits) for running ones. */
async function listRuns(ctx: OperationContext, query: string | undefined, limit: number): Promise<RunSummary[]> {
  const runs: RunSummary[] = [];
  for await (const wf of ctx.client.workflow.list(query ? { query } : {}) as AsyncIterable<WorkflowExecutionInfo>) {
    const cluster = wf.typedSearchAttributes.get(ClusterName);
    // Child workflows of a big phase carry no cluster: they are part of their run.
    if (cluster === undefined) continue;
    const summary: RunSummary = {
      workflowId: wf.workflowId,
      runId: wf.runId,
      operation: wf.type,
      cluster,
      status: wf.status.name,
      startTime: wf.startTime.toISOString(),
      ...(wf.closeTime && { closeTime: wf.closeTime.toISOString() }),
      ...(ctx.uiBaseUrl && { link: workflowUiLink(ctx.uiBaseUrl, ctx.namespace, wf.workflowId, wf.runId) }),
      ...(wf.memo && Object.keys(wf.memo).length > 0 && { memo: wf.memo }),
    };
    if (wf.status.name === 'RUNNING') {
      // Only a worker can answer a query; with none polling, the server holds it until its deadline. Ask briefly,
      // and say what to do when nobody answers.
      try {
        const handle = ctx.client.workflow.getHandle(wf.workflowId, wf.runId);
        summary.progress = await ctx.client.withDeadline(Date.now() + QUERY_DEADLINE_MS, () =>
          handle.query(progressQuery),
        );
        const [first] = describeWaiting(cluster, summary.progress.waiting ?? []);
        if (first !== undefined) summary.waitingAt = first;
      } catch {
        summary.note = `no worker is serving it (task queue ${wf.taskQueue}); run \`kubeadm2ha resume --workflow-id ${wf.workflowId}\` or start \`kubeadm2ha worker\``;
      }
    }
    runs.push(summary);
    if (runs.length >= limit) break;
  }
  return runs;
}

export async function status(flags: RunsFlags): Promise<RunSummary[]> {
  const cluster = await clusterName(flags);
  const { ctx, close } = await operationContext(flags);
  try {
    const runs = await listRuns(ctx, `ClusterName = ${visibilityString(cluster)}`, Number(flags.limit ?? 10));
    if (flags.json) console.log(JSON.stringify(runs, null, 2));
    else if (runs.length === 0) console.log(`no operations recorded for cluster ${cluster}`);
    else {
      for (const r of runs) {
        console.log(`${r.status.padEnd(10)} ${r.operation.padEnd(20)} ${r.startTime}  ${r.workflowId}`);
        if (r.memo)
          console.log(
            `    ${Object.entries(r.memo)
              .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
              .join(', ')}`,
          );
        if (r.note) console.log(`    ${r.note}`);
        if (r.progress) for (const line of renderProgress(r.progress)) console.log(`    ${line}`);
        if (r.link) console.log(`    ${r.link}`);
      }
    }
    return runs;
  } finally {
    await close();
  }
}

/** `kubeadm2ha runs [--cluster X]`: one line per run (every cluster unless one is named), newest first. */
export async function runs(flags: RunsFlags): Promise<RunSummary[]> {
  const { ctx, close } = await operationContext(flags);
  try {
    const query = flags.cluster ? `ClusterName = ${visibilityString(flags.cluster)}` : undefined;
    const list = await listRuns(ctx, query, Number(flags.limit ?? 20));
    if (flags.json) console.log(JSON.stringify(list, null, 2));
    else if (list.length === 0) console.log('no runs recorded');
    else
      for (const r of list) {
        const waiting = r.waitingAt ? `  waiting: ${forTerminal(r.waitingAt)}` : r.note ? `  ${r.note}` : '';
        console.log(
          `${r.operation.padEnd(22)} ${(r.cluster ?? '').padEnd(16)} ${r.status.padEnd(10)} ${r.startTime}${waiting}`,
        );
      }
    return list;
  } finally {
    await close();
  }
}

export async function resume(flags: RunsFlags & { operation?: string; workflowId?: string }): Promise<unknown> {
  if (!flags.workflowId && !flags.operation)
    throw new InvalidInputError('name the run: --operation <op> or --workflow-id <id>');
  if (flags.operation && !isOperation(flags.operation)) {
    throw new InvalidInputError(
      `unknown operation ${JSON.stringify(flags.operation)}; one of: ${operations.join(', ')}`,
    );
  }
  const workflowId = flags.workflowId ?? workflowIdFor(await clusterName(flags), flags.operation as Operation);
  // An embedded worker trusts what the operator's inventory says (its host keys, its keys), or the defaults.
  const trust = flags.inventory ? sshTrustOf((await loadInventory(flags.inventory)).inventory) : undefined;
  const { ctx, close } = await operationContext(flags, trust);
  try {
    const handle = ctx.client.workflow.getHandle(workflowId);
    const desc = await handle.describe();
    if (desc.status.name !== 'RUNNING') {
      throw new InvalidInputError(
        `${workflowId} is not running (${desc.status.name}); start the operation again instead`,
      );
    }
    const result = await followOperation<unknown>(ctx, handle, { label: 'resumed watching' });
    if (flags.json) console.log(JSON.stringify(result, null, 2));
    return result;
  } finally {
    await close();
  }
}

export function register(program: Command): void {
  addOperationOptions(
    program
      .command('status')
      .description("list a cluster's recent operations with per-host progress of running ones")
      .option('-i, --inventory <file>', 'inventory naming the cluster')
      .option('--cluster <name>', 'cluster name (instead of an inventory)')
      .option('--limit <n>', 'most recent runs to show', '10'),
  ).action(async (flags: RunsFlags) => {
    await status(flags);
  });
  addOperationOptions(
    program
      .command('runs')
      .description('list runs (operation, cluster, status, start, what waits for a person), newest first')
      .option('--cluster <name>', 'only this cluster')
      .option('--limit <n>', 'most recent runs to show', '20'),
  ).action(async (flags: RunsFlags) => {
    await runs(flags);
  });
  addOperationOptions(
    program
      .command('resume')
      .description('attach to a running operation: serve it with a worker if none polls, and follow it to its end')
      .option('-i, --inventory <file>', 'inventory naming the cluster')
      .option('--cluster <name>', 'cluster name (instead of an inventory)')
      .option('--operation <op>', 'operation to resume (preflight, setup, upgrade, …)')
      .option('--workflow-id <id>', 'workflow id (instead of cluster + operation)'),
  ).action(async (flags: RunsFlags & { operation?: string; workflowId?: string }) => {
    await resume(flags);
  });
}
