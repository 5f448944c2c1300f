// Timeouts and retries of every activity call, by class, and the only place proxyActivities is called. A step in a
// runbook names its class (src/plan/runbook.ts ActivityClass); workflows outside the executor use these proxies.
//
// Transient trouble (a dropped SSH connection, a busy dpkg lock, a timeout) is retried; failures the activities
// classify as non-retryable (bad input, unsuitable host, host key problems) are not. A step that still fails parks
// the run at the decision gate, so retries here only need to cover the brief hiccups.
import {
  proxyActivities,
  proxyLocalActivities,
  type ActivityOptions,
  type LocalActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { ActivityClass } from '../plan/runbook.js';

// Every class has a heartbeat timeout. The worker beats every 2 s while any activity runs (src/worker/heartbeat.ts),
// so the timeout is how soon an activity held by a worker that died (kill -9, a lost machine) is retried on another
// one: without it Temporal waits for the whole start-to-close timeout. 20 s leaves room for a worker that is slow
// under load; test/e2e/heartbeat-timeout.test.ts kills a worker mid-step and times the retry.
const retry = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 seconds' } as const;
const LOST_WORKER = '20 seconds';

/** Local or read-only work: the operator's PKI store, reading files or checks on a host. */
export const QUICK: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: LOST_WORKER,
  retry: { ...retry, maximumAttempts: 3 },
};
/** One change on one host over SSH (write certificates, a config file, start a service). */
export const HOST_STEP: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: LOST_WORKER,
  retry: { ...retry, maximumAttempts: 5 },
};
/** Package installs and downloads: long; a minute of silence (apt holding the worker's event loop) is tolerated. */
export const INSTALL: ActivityOptions = {
  startToCloseTimeout: '20 minutes',
  heartbeatTimeout: '1 minute',
  retry: { ...retry, maximumAttempts: 3 },
};
/** Waiting for the cluster to converge (health gates); the activity bounds its own wait. */
export const WAIT: ActivityOptions = {
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '1 minute',
  retry: { ...retry, maximumAttempts: 3 },
};

/** Streaming a large file (an etcd snapshot, images) to or from hosts: long, heartbeats every few seconds, so a lost
 * worker is noticed within 20 s (a restore waits with every member stopped). */
export const TRANSFER: ActivityOptions = {
  startToCloseTimeout: '60 minutes',
  heartbeatTimeout: '20 seconds',
  retry: { ...retry, maximumAttempts: 3 },
};
export const transferActivities = proxyActivities<Activities>(TRANSFER);

export const activities: Record<ActivityClass, Activities> = {
  quick: proxyActivities<Activities>(QUICK),
  hostStep: proxyActivities<Activities>(HOST_STEP),
  install: proxyActivities<Activities>(INSTALL),
  wait: proxyActivities<Activities>(WAIT),
  transfer: transferActivities,
};

/** A preflight check: short, and the worker beats every 2 s while it runs (src/worker/heartbeat.ts), so a check held
 * by a worker that died is retried after 15 s, not after its whole minute. */
export const CHECK: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '15 seconds',
  retry: { ...retry, maximumAttempts: 3 },
};
export const checkActivities = proxyActivities<Activities>(CHECK);

/**
 * A read-only preflight check on a host already reached, run as a local activity: in the worker that runs the
 * workflow, without a round trip through the task queue, recorded as one marker event (its result) instead of
 * scheduled/started/completed. Retried by the worker; a worker that dies mid-check loses its workflow task, and
 * the next worker runs the checks that were not recorded yet (read-only, so running one twice is harmless).
 */
export const LOCAL_CHECK: LocalActivityOptions = {
  startToCloseTimeout: '1 minute',
  localRetryThreshold: '10 seconds',
  retry: { ...retry, maximumAttempts: 3 },
};
export const localCheckActivities = proxyLocalActivities<Activities>(LOCAL_CHECK);

/** Reading every certificate of a host (many files, one SSH round trip each batch). */
export const READ: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: LOST_WORKER,
  retry: { ...retry, maximumAttempts: 3 },
};
export const readActivities = proxyActivities<Activities>(READ);
