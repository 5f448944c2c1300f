// `kubeadm2ha decide <cluster> retry|skip|rollback|abort` and `kubeadm2ha approve <cluster>`: let a run that waits for a
// person go on. Both are Temporal updates: the workflow's validator rejects what fits no waiting gate (no step
// waits, another host waits, a master cannot be skipped) and the rejection's reason is printed here (exit 2).
// The same decisions can be sent from the Web UI as signals (README, "Decisions and approvals").
import { hostname, userInfo } from 'node:os';
import type { Command } from 'commander';
import { WorkflowUpdateFailedError, type Client, type WorkflowExecutionInfo } from '@temporalio/client';
import { InvalidInputError } from '../../errors.js';
import { decisionActions, type Approval, type Decision, type GateRecord } from '../../plan/gates.js';
import { approveUpdate, decideUpdate } from '../../workflows/messages.js';
import { addTemporalOptions } from '../../temporal/connection.js';
import { operationContext, type OperationFlags } from '../context.js';
import { livePollers } from '../worker-watch.js';

interface GateFlags extends OperationFlags {
  reason?: string;
  host?: string;
  phase?: string;
  workflowId?: string;
  option?: string;
}

/** Who decided: recorded in the run and its result. */
const operator = (): string => `${userInfo().username}@${hostname()}`;

/** The one running operation of a cluster (or the one named). */
async function runningRun(client: Client, cluster: string, workflowId?: string): Promise<WorkflowExecutionInfo> {
  if (/['\\]/.test(cluster)) throw new InvalidInputError(`cluster name ${JSON.stringify(cluster)} cannot be queried`);
  const runs: WorkflowExecutionInfo[] = [];
  for await (const wf of client.workflow.list({
    query: `ClusterName = '${cluster}' AND ExecutionStatus = 'Running'`,
  }) as AsyncIterable<WorkflowExecutionInfo>) {
    if (!workflowId || wf.workflowId === workflowId) runs.push(wf);
  }
  if (runs.length === 1) return runs[0]!;
  if (runs.length === 0)
    throw new InvalidInputError(
      `no running operation of cluster ${cluster}${workflowId ? ` with id ${workflowId}` : ''}`,
    );
  throw new InvalidInputError(
    `several operations of ${cluster} are running (${runs.map((r) => r.workflowId).join(', ')}); name one with --workflow-id`,
  );
}

async function send(
  flags: GateFlags,
  cluster: string,
  sendUpdate: (client: Client, workflowId: string) => Promise<GateRecord[]>,
): Promise<GateRecord[]> {
  const { ctx, close } = await operationContext({ ...flags, worker: 'external' });
  try {
    const run = await runningRun(ctx.client, cluster, flags.workflowId);
    // An update is answered by a worker (its validator runs there): without one it would wait silently.
    if ((await livePollers(ctx.client, ctx.namespace, run.taskQueue)) === 0) {
      throw new InvalidInputError(
        `no worker serves ${run.workflowId} (task queue ${run.taskQueue}); start \`kubeadm2ha worker\` or \`kubeadm2ha resume --workflow-id ${run.workflowId}\` first`,
      );
    }
    try {
      const records = await sendUpdate(ctx.client, run.workflowId);
      if (flags.json) console.log(JSON.stringify(records, null, 2));
      else
        for (const r of records)
          console.log(
            `${run.workflowId}: ${r.action ?? 'approved'}${r.option ? ` --option ${r.option}` : ''} ${[r.phase, r.host, r.step].filter(Boolean).join('/')} by ${r.by} at ${r.at}`,
          );
      return records;
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) {
        throw new InvalidInputError(`rejected by ${run.workflowId}: ${err.cause?.message ?? err.message}`);
      }
      throw err;
    }
  } finally {
    await close();
  }
}

export async function decide(cluster: string, action: string, flags: GateFlags): Promise<GateRecord[]> {
  if (!decisionActions.includes(action as Decision['action'])) {
    throw new InvalidInputError(`decide: action must be one of ${decisionActions.join(', ')}, not ${action}`);
  }
  const decision: Decision = {
    action: action as Decision['action'],
    by: operator(),
    ...(flags.host !== undefined && { host: flags.host }),
    ...(flags.reason !== undefined && { reason: flags.reason }),
    ...(flags.option !== undefined && { option: flags.option }),
  };
  return send(flags, cluster, (client, id) =>
    client.workflow.getHandle(id).executeUpdate(decideUpdate, { args: [decision] }),
  );
}

export async function approve(cluster: string, flags: GateFlags): Promise<GateRecord[]> {
  const approval: Approval = {
    by: operator(),
    ...(flags.phase !== undefined && { phase: flags.phase }),
    ...(flags.host !== undefined && { host: flags.host }),
    ...(flags.reason !== undefined && { reason: flags.reason }),
  };
  return send(flags, cluster, (client, id) =>
    client.workflow.getHandle(id).executeUpdate(approveUpdate, { args: [approval] }),
  );
}

export function register(program: Command): void {
  addTemporalOptions(
    program
      .command('decide')
      .description(
        'a step failed for good and the run waits: retry it, skip its host (not masters), roll its host back (upgrade), or abort (undo this run)',
      )
      .argument('<cluster>', 'cluster name')
      .argument('<action>', decisionActions.join('|'))
      .option('--host <name>', 'the waiting host (needed when several wait)')
      .option('--option <name>', 'with retry: a retry the waiting step offers (e.g. evict-anyway for a blocked drain)')
      .option('--reason <text>', 'why; recorded with the decision')
      .option('--workflow-id <id>', 'the run, when several operations of the cluster are running')
      .option('--json', 'print what was recorded as JSON'),
  ).action(async (cluster: string, action: string, flags: GateFlags) => {
    await decide(cluster, action, flags);
  });
  addTemporalOptions(
    program
      .command('approve')
      .description('let a phase (or one host of it) that waits for approval go on')
      .argument('<cluster>', 'cluster name')
      .option('--phase <id>', 'the waiting phase')
      .option('--host <name>', 'the waiting host, when the phase approves host by host')
      .option('--reason <text>', 'why; recorded with the approval')
      .option('--workflow-id <id>', 'the run, when several operations of the cluster are running')
      .option('--json', 'print what was recorded as JSON'),
  ).action(async (cluster: string, flags: GateFlags) => {
    await approve(cluster, flags);
  });
}
