// Options every start of one of our workflows shares (the CLI's operations, the bench, preflight's child workflows), so a
// run behaves the same whoever starts it. Workflow-safe: no imports (src/workflows/preflight.ts uses it).

/**
 * How long one workflow task may run on the worker before Temporal gives it to another worker (default 10 s).
 * A preflight's checks after a host's first are local activities, and the task that runs them stays open until they
 * have all ended; sdk-core completes such a task early ("heartbeats" it) at 80 % of this timeout. On a loaded machine
 * (2 cores, load 25, 20 hosts) that task ran 12-17 s, the heartbeat came too late, and the task timed out and ran
 * again from its last recorded point, repeating its checks. 30 s leaves room for that; the price is that a worker
 * killed in the middle of a task is replaced up to 20 s later than with the default (activities are unaffected: their
 * own heartbeat timeouts, src/workflows/activity-options.ts, decide when they are retried elsewhere).
 */
export const WORKFLOW_TASK_TIMEOUT = '30 seconds';
