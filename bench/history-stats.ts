// What one workflow run cost in workflow tasks, read from its recorded history: how many tasks, how long each ran on
// the worker (WorkflowTaskStarted → Completed), how long each waited for a worker (Scheduled → Started), how many
// timed out or failed (and were retried), and how many activities ran as local activities (markers) or through the
// task queue. The bench prints it per round so a slow round can be told apart from a retried one.
import type { WorkflowHandle } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';

export interface HistoryStats {
  events: number;
  tasks: number;
  /** Worker time per task: WorkflowTaskStarted → WorkflowTaskCompleted. */
  longestTaskMs: number;
  taskMsTotal: number;
  /** Queue time per task: WorkflowTaskScheduled → WorkflowTaskStarted. */
  longestWaitMs: number;
  timedOut: number;
  failed: number;
  markers: number;
  activities: number;
}

const time = (e: temporal.api.history.v1.IHistoryEvent): number => {
  const t = e.eventTime;
  return t ? Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : 0;
};

export async function historyStats(handle: WorkflowHandle): Promise<HistoryStats> {
  const events = (await handle.fetchHistory()).events ?? [];
  const s: HistoryStats = {
    events: events.length,
    tasks: 0,
    longestTaskMs: 0,
    taskMsTotal: 0,
    longestWaitMs: 0,
    timedOut: 0,
    failed: 0,
    markers: 0,
    activities: 0,
  };
  let scheduled = 0;
  let started = 0;
  for (const e of events) {
    if (e.workflowTaskScheduledEventAttributes) scheduled = time(e);
    else if (e.workflowTaskStartedEventAttributes) {
      started = time(e);
      s.longestWaitMs = Math.max(s.longestWaitMs, started - scheduled);
    } else if (e.workflowTaskCompletedEventAttributes) {
      const ms = time(e) - started;
      s.tasks++;
      s.taskMsTotal += ms;
      s.longestTaskMs = Math.max(s.longestTaskMs, ms);
    } else if (e.workflowTaskTimedOutEventAttributes) s.timedOut++;
    else if (e.workflowTaskFailedEventAttributes) s.failed++;
    else if (e.markerRecordedEventAttributes) s.markers++;
    else if (e.activityTaskScheduledEventAttributes) s.activities++;
  }
  return s;
}

export function formatStats(s: HistoryStats): string {
  return (
    `${s.events} events, ${s.tasks} workflow tasks (longest ${s.longestTaskMs} ms on the worker, ` +
    `${s.taskMsTotal} ms in all; longest wait ${s.longestWaitMs} ms), ${s.activities} activities, ` +
    `${s.markers} local-activity markers` +
    (s.timedOut || s.failed ? `, ${s.timedOut} task timeouts, ${s.failed} task failures` : '')
  );
}
