// Heartbeats and cancellable waits for long activities. Outside an activity (unit tests, scripts) they degrade to
// no-op and a plain timer, so the same code runs in both places.
import { Context } from '@temporalio/activity';

function current(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

const lastDetails = new WeakMap<Context, unknown>();

/** Tell Temporal we are alive; `details` must hold nothing secret (it is stored in history). */
export function heartbeat(details?: unknown): void {
  const ctx = current();
  if (!ctx) return;
  lastDetails.set(ctx, details);
  ctx.heartbeat(details);
}

/** What the activity last reported, for the worker's own periodic heartbeat (src/worker/heartbeat.ts). */
export function lastHeartbeatDetails(ctx: Context): unknown {
  return lastDetails.get(ctx);
}

/** The running activity's cancellation (aborted when it is cancelled or its heartbeat times out); none outside. */
export function currentCancellationSignal(): AbortSignal | undefined {
  return current()?.cancellationSignal;
}

/** A warning in the worker's log, with the activity's attributes; nothing outside an activity (the caller also
 * returns it in its result, which is where a test or script sees it). */
export function warn(message: string, attrs?: Record<string, unknown>): void {
  current()?.log.warn(message, attrs);
}

/** Wait, but end early (rejecting) when the activity is cancelled, e.g. because its workflow was. */
export function pause(ms: number): Promise<void> {
  const ctx = current();
  return ctx ? ctx.sleep(ms) : new Promise((resolve) => setTimeout(resolve, ms));
}

/** Heartbeat every `everyMs` while `work` runs: for one long remote command (apt-get) that cannot report itself. */
export async function keepAlive<T>(work: Promise<T>, details?: unknown, everyMs = 5_000): Promise<T> {
  heartbeat(details);
  const timer = setInterval(() => heartbeat(details), everyMs);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}
