// Is anybody serving this workflow? The server lists a worker as polling for about a minute after its last poll,
// so a worker that was killed (kill -9 of an earlier command) or that exited with its own run (the embedded worker
// of the previous command) still counts, and a command that trusted the list waited forever. Two checks instead:
// pollers that are processes of this machine must still be alive, and work the server has scheduled must be
// picked up within a few seconds, or the command embeds a worker of its own.
import { hostname } from 'node:os';
import type { Client, WorkflowExecutionDescription } from '@temporalio/client';

/** Workers that polled within this window count as alive (a long poll lasts up to a minute). */
const LIVE_POLLER_MS = 70_000;

/** Scheduled work not started for this long means no worker is serving the queue (a live one takes it at once). */
export const STALLED_MS = 5_000;

/** The SDK's default worker identity is `${pid}@${hostname}`; a poller of this machine whose pid is gone is dead. */
export function deadLocalPoller(identity: string, host = hostname()): boolean {
  const m = /^(\d+)@(.+)$/.exec(identity);
  if (!m || m[2] !== host) return false;
  try {
    process.kill(Number(m[1]), 0);
    return false;
  } catch (err) {
    // EPERM: the process exists, it is just not ours.
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

export async function livePollers(client: Client, namespace: string, taskQueue: string): Promise<number> {
  const res = await client.workflowService.describeTaskQueue({
    namespace,
    taskQueue: { name: taskQueue, kind: 1 /* NORMAL */ },
    taskQueueType: 1 /* WORKFLOW */,
  });
  const now = Date.now();
  return (res.pollers ?? []).filter((p) => {
    const secs = Number(p.lastAccessTime?.seconds ?? 0);
    return now - secs * 1000 < LIVE_POLLER_MS && !deadLocalPoller(p.identity ?? '');
  }).length;
}

type Timestamp = { seconds?: unknown; nanos?: number | null } | null | undefined;
const millis = (t: Timestamp): number | undefined =>
  t?.seconds == null ? undefined : Number(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);

/**
 * What has been waiting for a worker longer than STALLED_MS (a workflow task or an activity the server scheduled
 * and nobody started), or undefined while work is being picked up. Activities waiting out a retry backoff are not
 * stalled: their waiting starts when the backoff ends.
 */
export function stalledWork(desc: WorkflowExecutionDescription, now = Date.now()): string | undefined {
  const wft = desc.raw.pendingWorkflowTask;
  const wftSince = millis(wft?.scheduledTime);
  if (
    Number(wft?.state) === 1 /* PENDING_WORKFLOW_TASK_STATE_SCHEDULED */ &&
    wftSince !== undefined &&
    now - wftSince > STALLED_MS
  )
    return `a workflow task has waited ${Math.round((now - wftSince) / 1000)} s`;
  for (const a of desc.raw.pendingActivities ?? []) {
    if (Number(a.state) !== 1 /* PENDING_ACTIVITY_STATE_SCHEDULED */) continue;
    const since = Math.max(millis(a.scheduledTime) ?? 0, millis(a.nextAttemptScheduleTime) ?? 0);
    if (since > 0 && now - since > STALLED_MS)
      return `activity ${a.activityType?.name ?? '?'} has waited ${Math.round((now - since) / 1000)} s`;
  }
  return undefined;
}
