// Options every start of one of our workflows shares, so a run behaves the same whoever starts it: the CLI's operations
// (src/cli/operation.ts), the bench, the certificate check schedule (src/cli/certs-schedule.ts), and the child
// workflows of preflight and of the runbook (a child phase such as images push, a big phase's host batches).
// Workflow-safe: no imports (src/workflows/preflight.ts and runbook.ts use it).
//
// Set on a child, it changes only an attribute of the StartChildWorkflowExecution command, which replay does not
// compare: a run recorded before (10 s) replays on this code, and one recorded with it replays on the code before
// (checked both ways with a runbook of a child phase and host batches).

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
