// An append-only log of every activity execution this worker ran (start, completion, failure), one JSON line each.
// Operators use it to answer "what did the tool do on my hosts, and when"; the durability tests use it to prove that
// a restarted worker does not run again a check that had completed. Only names and ids are logged, never arguments
// or results, which may hold secrets.
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, Next } from '@temporalio/worker';
import type { Context } from '@temporalio/activity';

export interface ActivityLogEntry {
  event: 'start' | 'complete' | 'fail';
  activityType: string;
  activityId: string;
  workflowId: string;
  runId: string;
  attempt: number;
  /** For preflight checks: `host/check`, so a reader knows what ran where without reading arguments. */
  subject?: string;
  ts: string;
  pid: number;
}

function subjectOf(args: unknown[]): string | undefined {
  const a = args[0] as { host?: { target?: { name?: string } }; check?: { id?: string } } | undefined;
  if (a?.host?.target?.name && a.check?.id) return `${a.host.target.name}/${a.check.id}`;
  if (a?.host?.target?.name) return a.host.target.name;
  return undefined;
}

export function activityLogInterceptor(file: string) {
  mkdirSync(dirname(file), { recursive: true });
  return (ctx: Context): { inbound: ActivityInboundCallsInterceptor } => {
    const write = (event: ActivityLogEntry['event'], subject: string | undefined) => {
      const info = ctx.info;
      const entry: ActivityLogEntry = {
        event,
        activityType: info.activityType,
        activityId: info.activityId,
        workflowId: info.workflowExecution?.workflowId ?? '',
        runId: info.workflowExecution?.runId ?? '',
        attempt: info.attempt,
        ...(subject && { subject }),
        ts: new Date().toISOString(),
        pid: process.pid,
      };
      // Synchronous on purpose: the line is on disk before the completion is reported to the server,
      // so a crash right after cannot hide an execution.
      appendFileSync(file, JSON.stringify(entry) + '\n');
    };
    return {
      inbound: {
        async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>) {
          const subject = subjectOf(input.args);
          write('start', subject);
          try {
            const out: unknown = await next(input);
            write('complete', subject);
            return out;
          } catch (err) {
            write('fail', subject);
            throw err;
          }
        },
      },
    };
  };
}

export function readActivityLog(text: string): ActivityLogEntry[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as ActivityLogEntry);
}
