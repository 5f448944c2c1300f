// The daily certificate check as a Temporal Schedule: one schedule per cluster (`<cluster>/certs-schedule`) that
// starts checkCertificates with the inventory. Each run's result is the record; each run also puts the fewest days
// left in its memo, which `show` reads back. Creating is idempotent: a second `certs schedule` updates the one
// schedule instead of adding another.
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleDescription,
  type ScheduleHandle,
  type ScheduleOptionsStartWorkflowAction,
  type ScheduleSpec,
} from '@temporalio/client';
import { InvalidInputError } from '../errors.js';
import type { Inventory } from '../inventory/schema.js';
import { CERTS_MEMO_MIN_DAYS_LEFT, checkThreshold, DEFAULT_THRESHOLD_DAYS, type CertsInput } from '../plan/certs.js';
import { ClusterName, Operation } from '../temporal/search-attributes.js';
import { WORKFLOW_TASK_TIMEOUT } from '../temporal/workflow-start.js';
import { workflowIdFor } from '../workflows/ids.js';
import { runStaticDetails, runSummary } from './operation.js';

export const DEFAULT_EVERY = '24h';
const unitMs = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

export const certsScheduleId = (cluster: string): string => `${cluster}/certs-schedule`;

/** `30m`, `24h`, `7d` → milliseconds. At least a minute: a certificate check every few seconds only loads hosts. */
export function parseEvery(every: string): number {
  const m = /^([1-9]\d*)([smhd])$/.exec(every);
  const ms = m ? Number(m[1]) * unitMs[m[2] as keyof typeof unitMs] : NaN;
  if (!(ms >= 60_000)) {
    throw new InvalidInputError(
      `--every must be a duration of at least a minute like 30m, 24h or 7d, got ${JSON.stringify(every)}`,
    );
  }
  return ms;
}

export interface CertsScheduleOptions {
  inventory: Inventory;
  every?: string;
  thresholdDays?: number;
  taskQueue: string;
}

function scheduleParts(opts: CertsScheduleOptions): {
  spec: ScheduleSpec;
  action: ScheduleOptionsStartWorkflowAction<(input: CertsInput) => Promise<unknown>>;
  everyMs: number;
} {
  const cluster = opts.inventory.cluster.name;
  const everyMs = parseEvery(opts.every ?? DEFAULT_EVERY);
  const input: CertsInput = {
    inventory: opts.inventory,
    thresholdDays: checkThreshold(opts.thresholdDays ?? DEFAULT_THRESHOLD_DAYS),
  };
  return {
    everyMs,
    spec: { intervals: [{ every: everyMs }] },
    action: {
      type: 'startWorkflow',
      workflowType: 'checkCertificates',
      // The server appends the scheduled time, so runs never collide with each other or with `certs check`.
      workflowId: workflowIdFor(cluster, 'certs'),
      taskQueue: opts.taskQueue,
      args: [input],
      // A run that cannot finish within one interval (no worker polling) gives way to the next one, rather than
      // making the SKIP policy skip every later run behind it.
      workflowRunTimeout: everyMs,
      // As every start of ours (src/temporal/workflow-start.ts): the server's 10 s default times out tasks on a busy
      // worker, and they run again from their last recorded point.
      workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT,
      // What the Web UI lists each scheduled run by, as for a `certs check` the operator runs.
      staticSummary: runSummary({ command: 'certs check', cluster, about: '(scheduled)' }),
      staticDetails: runStaticDetails({
        workflowType: 'checkCertificates',
        operation: 'certs',
        command: 'certs check (scheduled)',
        cluster,
        kubernetesVersion: opts.inventory.cluster.kubernetesVersion,
        hosts: opts.inventory.hosts.map((h) => h.name),
      }),
      typedSearchAttributes: [
        { key: ClusterName, value: cluster },
        { key: Operation, value: 'certs' },
      ],
    },
  };
}

/** Create the cluster's schedule, or update it in place when it exists. */
export async function ensureCertsSchedule(
  client: Client,
  opts: CertsScheduleOptions,
): Promise<{ handle: ScheduleHandle; created: boolean }> {
  const cluster = opts.inventory.cluster.name;
  const scheduleId = certsScheduleId(cluster);
  const { spec, action, everyMs } = scheduleParts(opts);
  const policies = {
    overlap: ScheduleOverlapPolicy.SKIP,
    // After an outage, one missed check is worth running; a backlog of them is not.
    catchupWindow: everyMs,
    pauseOnFailure: false,
  };
  try {
    const handle = await client.schedule.create({
      scheduleId,
      spec,
      action,
      policies,
      memo: { cluster },
      typedSearchAttributes: [{ key: ClusterName, value: cluster }],
      state: { note: 'kubeadm2ha certs schedule' },
    });
    return { handle, created: true };
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  const handle = client.schedule.getHandle(scheduleId);
  await handle.update((prev) => ({
    spec,
    action,
    policies,
    state: { paused: prev.state.paused, ...(prev.state.note !== undefined && { note: prev.state.note }) },
    typedSearchAttributes: [{ key: ClusterName, value: cluster }],
  }));
  return { handle, created: false };
}

/** Delete the cluster's schedule; false when there was none. Runs already started finish on their own. */
export async function deleteCertsSchedule(client: Client, cluster: string): Promise<boolean> {
  try {
    await client.schedule.getHandle(certsScheduleId(cluster)).delete();
    return true;
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return false;
    throw err;
  }
}

export interface CertsScheduleView {
  scheduleId: string;
  everyMs: number[];
  thresholdDays?: number;
  taskQueue?: string;
  overlap: string;
  paused: boolean;
  nextRuns: string[];
  actionsTaken: number;
  /** The most recent runs, oldest first, with what each found. */
  recentRuns: { workflowId: string; runId: string; startedAt: string; status?: string; minDaysLeft?: number | null }[];
}

export async function describeCertsSchedule(client: Client, cluster: string): Promise<CertsScheduleView | undefined> {
  let desc: ScheduleDescription;
  try {
    desc = await client.schedule.getHandle(certsScheduleId(cluster)).describe();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return undefined;
    throw err;
  }
  const input = desc.action.args?.[0] as Partial<CertsInput> | undefined;
  const recentRuns: CertsScheduleView['recentRuns'] = [];
  for (const a of desc.info.recentActions) {
    const { workflowId, firstExecutionRunId: runId } = a.action.workflow;
    const run: CertsScheduleView['recentRuns'][number] = { workflowId, runId, startedAt: a.takenAt.toISOString() };
    try {
      const wf = await client.workflow.getHandle(workflowId, runId).describe();
      run.status = wf.status.name;
      const min = wf.memo?.[CERTS_MEMO_MIN_DAYS_LEFT];
      if (typeof min === 'number' || min === null) run.minDaysLeft = min;
    } catch {
      // Retention removed it: the time it ran is all there is to show.
    }
    recentRuns.push(run);
  }
  return {
    scheduleId: desc.scheduleId,
    everyMs: (desc.spec.intervals ?? []).map((i) => i.every),
    ...(input?.thresholdDays !== undefined && { thresholdDays: input.thresholdDays }),
    ...(desc.action.taskQueue !== undefined && { taskQueue: desc.action.taskQueue }),
    overlap: desc.policies.overlap ?? 'unspecified',
    paused: desc.state.paused,
    nextRuns: desc.info.nextActionTimes.map((t) => t.toISOString()),
    actionsTaken: desc.info.numActionsTaken,
    recentRuns,
  };
}

const human = (ms: number): string => {
  for (const [u, n] of [
    ['d', unitMs.d],
    ['h', unitMs.h],
    ['m', unitMs.m],
  ] as const) {
    if (ms % n === 0) return `${ms / n}${u}`;
  }
  return `${ms / 1000}s`;
};

export function formatCertsSchedule(v: CertsScheduleView): string[] {
  const lines = [
    `${v.scheduleId}: every ${v.everyMs.map(human).join(', ')}, threshold ${v.thresholdDays ?? '?'} days, ` +
      `task queue ${v.taskQueue ?? '?'}, overlap ${v.overlap}${v.paused ? ', PAUSED' : ''}; ${v.actionsTaken} runs so far`,
    'next runs:',
    ...v.nextRuns.map((t) => `  ${t}`),
  ];
  if (v.recentRuns.length) {
    lines.push('recent runs:');
    for (const r of v.recentRuns) {
      const min = r.minDaysLeft === undefined ? '' : `, fewest days left: ${r.minDaysLeft ?? 'no certificates'}`;
      lines.push(`  ${r.startedAt}  ${r.status ?? 'unknown'}${min}  ${r.workflowId}`);
    }
  }
  return lines;
}
