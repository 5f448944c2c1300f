// Every activity heartbeats while this worker runs it, whatever it is doing (waiting for an SSH handshake, a long
// apt-get): a heartbeat is how Temporal learns that the worker holding an activity is still alive, and the only way
// an activity learns that it was cancelled. With a heartbeat timeout in its options, the activity of a worker that
// died (kill -9) is retried elsewhere within that timeout instead of after its whole start-to-close timeout.
import type { Context } from '@temporalio/activity';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, Next } from '@temporalio/worker';
import { lastHeartbeatDetails } from '../activities/activity-context.js';

/** Often enough for the shortest heartbeat timeout we use (10 s); the SDK throttles what it sends anyway. */
const DEFAULT_EVERY_MS = 2_000;

export function heartbeatInterceptor(everyMs = DEFAULT_EVERY_MS) {
  return (ctx: Context): { inbound: ActivityInboundCallsInterceptor } => ({
    inbound: {
      async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>) {
        const timeout = ctx.info.heartbeatTimeoutMs;
        const every = timeout ? Math.min(everyMs, Math.max(100, timeout / 3)) : everyMs;
        // Repeats the activity's own last details (progress shown by the UI), so this beat does not erase them.
        const timer = setInterval(() => ctx.heartbeat(lastHeartbeatDetails(ctx)), every);
        try {
          return await next(input);
        } finally {
          clearInterval(timer);
        }
      },
    },
  });
}
