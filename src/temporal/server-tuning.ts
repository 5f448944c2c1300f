// Server settings kubeadm2ha wants on every Temporal server it runs on: the dev server we start (dev-server.ts passes
// them as --dynamic-config-value), the PostgreSQL topology test (test/support/postgres-temporal.ts) and the compose
// deployment (deploy/dynamicconfig/kubeadm2ha.yaml, kept equal by test/unit/deploy/compose.test.ts). For a
// Temporal cluster someone else runs, the README says which keys to ask for.

/**
 * Dynamic config that takes Temporal's own waits out of every step (every server kubeadm2ha starts; see above).
 *
 * - history.transferProcessorMaxPollRPS (default 20 per history shard): an activity task or workflow task reaches
 *   matching only when the shard's transfer queue reader has read it, and that reader polls at most 20 times a
 *   second. A run sits on one shard (the dev server has just one), so each step of a sequential run waited up to
 *   50 ms twice: for its activity task, then for the workflow task after it. 200 caps the wait at 5 ms.
 * - system.enableActivityEagerExecution (default false in server 1.29): an activity the workflow task schedules goes
 *   back to the worker in the reply to that task's completion, when the worker has a free slot (it asks for up to
 *   maxEagerActivityReservationsPerWorkflowTask), instead of through the transfer queue and matching. History is the
 *   same: Scheduled, Started, Completed, each recorded as before.
 *
 * Measured with the bench's "Temporal per activity" (100 no-op steps in a row, dev server, under load 2-10): 91 ms
 * a step before, 42 with eager activities alone, 21 with the poll rate alone, 20-21 with both.
 */
export const LATENCY_DYNAMIC_CONFIG: readonly (readonly [string, number | boolean])[] = [
  ['history.transferProcessorMaxPollRPS', 200],
  ['system.enableActivityEagerExecution', true],
];
