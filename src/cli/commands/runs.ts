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

export interface RunSummary {
  workflowId: string;
  runId: string;
  /** The workflow type (`setupCluster`, `checkCertificates`). */
  operation: string;
  /** What the run was started as, in words (`upgrade of lab1 to 1.34.12`): the summary its start set, the one the Web
   * UI lists it by. Absent for a run started without one (or one this CLI's codec key cannot decrypt). */
  summary?: string;
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

/** The summary the run's start set (user metadata), decoded with our codec; undefined when there is none. */
async function startSummary(ctx: OperationContext, wf: WorkflowExecutionInfo): Promise<string | undefined> {
  try {
    const desc = await ctx.client.workflow.getHandle(wf.workflowId, wf.runId).describe();
    return (await desc.staticSummary()) || undefined;
  } catch {
    // Gone since the list (retention), or encrypted with a key this CLI lacks: the workflow type stands in.
    return undefined;
  }
}

/** Progress and what waits for a running run; or, when no worker answers, what to do. */
async function liveState(
  ctx: OperationContext,
  wf: WorkflowExecutionInfo,
  cluster: string,
): Promise<Pick<RunSummary, 'progress' | 'waitingAt' | 'note'>> {
  // Only a worker can answer a query; with none polling, the server holds it until its deadline. Ask briefly,
  // and say what to do when nobody answers.
  try {
    const handle = ctx.client.workflow.getHandle(wf.workflowId, wf.runId);
    const progress = await ctx.client.withDeadline(Date.now() + QUERY_DEADLINE_MS, () => handle.query(progressQuery));
    const [first] = describeWaiting(cluster, progress.waiting ?? []);
    return { progress, ...(first !== undefined && { waitingAt: first }) };
  } catch {
    return {
      note: `no worker is serving it (task queue ${wf.taskQueue}); run \`kubeadm2ha resume --workflow-id ${wf.workflowId}\` or start \`kubeadm2ha worker\``,
    };
  }
}

/** The most recent runs matching `query`, newest first, with their summaries, and progress (and what waits) for
 * running ones. Runs are looked at concurrently: a query nobody answers costs its deadline once, not once per run. */
async function listRuns(ctx: OperationContext, query: string | undefined, limit: number): Promise<RunSummary[]> {
  const found: { wf: WorkflowExecutionInfo; cluster: string }[] = [];
  for await (const wf of ctx.client.workflow.list(query ? { query } : {}) as AsyncIterable<WorkflowExecutionInfo>) {
    const cluster = wf.typedSearchAttributes.get(ClusterName);
    // Child workflows of a big phase carry no cluster: they are part of their run.
    if (cluster === undefined) continue;
    found.push({ wf, cluster });
    if (found.length >= limit) break;
  }
  return Promise.all(
    found.map(async ({ wf, cluster }): Promise<RunSummary> => {
      const [summary, live] = await Promise.all([
        startSummary(ctx, wf),
        wf.status.name === 'RUNNING' ? liveState(ctx, wf, cluster) : undefined,
      ]);
      return {
        workflowId: wf.workflowId,
        runId: wf.runId,
        operation: wf.type,
        ...(summary !== undefined && { summary }),
        cluster,
        ...(live?.waitingAt !== undefined && { waitingAt: live.waitingAt }),
        status: wf.status.name,
        startTime: wf.startTime.toISOString(),
        ...(wf.closeTime && { closeTime: wf.closeTime.toISOString() }),
        ...(ctx.uiBaseUrl && { link: workflowUiLink(ctx.uiBaseUrl, ctx.namespace, wf.workflowId, wf.runId) }),
        ...(live?.progress && { progress: live.progress }),
        ...(live?.note !== undefined && { note: live.note }),
        ...(wf.memo && Object.keys(wf.memo).length > 0 && { memo: wf.memo }),
      };
    }),
  );
}

/** One line of `kubeadm2ha runs`: status, start, what the run is (its summary, else type and cluster), and the first
 * gate waiting for a person (with how many more wait) or why nobody reports on it. */
export function runsLine(r: RunSummary): string {
  const what = r.summary ?? `${r.operation} (cluster ${r.cluster ?? '?'})`;
  const more = (r.progress?.waiting?.length ?? 0) - 1;
  const waiting = r.waitingAt
    ? `  waiting: ${r.waitingAt}${more > 0 ? ` (and ${more} more waiting)` : ''}`
    : r.note
      ? `  ${r.note}`
      : '';
  return forTerminal(`${r.status.padEnd(10)} ${r.startTime}  ${what}${waiting}`);
}

/** The head line of one run in `kubeadm2ha status`: status, start, what the run is (its summary as `runs` and the Web
 * UI show it, else its workflow type; the cluster is the command's), and its workflow id (for `resume`). */
export function statusLine(r: RunSummary): string {
  return forTerminal(`${r.status.padEnd(10)} ${r.startTime}  ${r.summary ?? r.operation}  ${r.workflowId}`);
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
        console.log(statusLine(r));
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
    else for (const r of list) console.log(runsLine(r));
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
      .description('list runs (status, start, what each is, what waits for a person), newest first')
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
