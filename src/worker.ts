// The worker: runs kubeadm2ha's workflows (from the prebuilt bundle when there is one) and its activities (SSH to
// the hosts). Run it standalone (`kubeadm2ha worker`, or `tsx src/worker.ts`) next to a production Temporal
// cluster — as many as you like on one task queue — or let the CLI embed one for the local default.
import type { NativeConnection } from '@temporalio/worker';
import { Worker } from '@temporalio/worker';
import { createActivities } from './activities/index.js';
import type { ActivityDeps } from './activities/deps.js';
import { createSshDeps } from './activities/ssh-deps.js';
import type { SshTrust } from './activities/ssh-trust.js';
import { loadWorkflowBundle } from './temporal/bundle.js';
import { dataConverter } from './temporal/data-converter.js';
import { activityLogInterceptor } from './worker/activity-log.js';
import { heartbeatInterceptor } from './worker/heartbeat.js';
import { DEFAULT_TASK_QUEUE } from './workflows/ids.js';

/**
 * Local activities one worker runs at once when no limit is given (the SDK's default is 100). A preflight starts
 * every check of a reached host at once (a dozen each, at most ssh.maxConcurrency hosts: 50 by default), and checks
 * that start together share one remote shell (src/activities/preflight-batch.ts). With 100 slots, 30 hosts' 330 checks
 * queued, and a host's checks that got their slots late went out as extra shells: 82 execs instead of 60 at 30 lab
 * hosts. Each is a read-only probe waiting on an SSH connection that is already open, so the slots cost little.
 */
export const LOCAL_ACTIVITY_SLOTS = 1000;

export interface KubeadmHaWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  taskQueue?: string;
  /** Append one JSON line per activity start/completion/failure to this file. */
  activityLogFile?: string;
  maxConcurrentActivities?: number;
  /** Host-key policy, known_hosts, keys: the worker's own, never from workflow input. Default strict, ~/.ssh. */
  sshTrust?: SshTrust;
  /**
   * Workflow stack traces (`__stack_trace` query, Web UI Stack Trace tab): default off, or on when
   * KUBEADM2HA_WORKFLOW_STACK_TRACES=1; on costs CPU per workflow promise and a webpack bundle at start
   * (src/temporal/bundle.ts STACK_TRACES_ENV).
   */
  workflowStackTraces?: boolean;
  /** Default: real SSH, planned by each activity's input, trusted as sshTrust says. */
  deps?: ActivityDeps & { close?: () => Promise<void> };
}

export interface KubeadmHaWorker {
  worker: Worker;
  /** Run until `until` settles (or forever), then close SSH connections. */
  run<T>(until?: Promise<T>): Promise<T | void>;
}

export async function createKubeadmHaWorker(opts: KubeadmHaWorkerOptions): Promise<KubeadmHaWorker> {
  const deps = opts.deps ?? createSshDeps(opts.sshTrust);
  const worker = await Worker.create({
    connection: opts.connection,
    namespace: opts.namespace ?? 'default',
    taskQueue: opts.taskQueue ?? DEFAULT_TASK_QUEUE,
    workflowBundle: await loadWorkflowBundle(
      undefined,
      undefined,
      opts.workflowStackTraces === undefined ? {} : { stackTraces: opts.workflowStackTraces },
    ),
    activities: createActivities(deps),
    dataConverter: dataConverter({ role: 'worker' }),
    // Preflight checks run as local activities (src/workflows/preflight.ts): the limit holds for both kinds.
    maxConcurrentLocalActivityExecutions: opts.maxConcurrentActivities ?? LOCAL_ACTIVITY_SLOTS,
    ...(opts.maxConcurrentActivities !== undefined && {
      maxConcurrentActivityTaskExecutions: opts.maxConcurrentActivities,
    }),
    interceptors: {
      activity: [
        heartbeatInterceptor(),
        ...(opts.activityLogFile ? [activityLogInterceptor(opts.activityLogFile)] : []),
      ],
    },
  });
  return {
    worker,
    async run<T>(until?: Promise<T>) {
      try {
        return until ? await worker.runUntil(until) : await worker.run();
      } finally {
        await deps.close?.();
      }
    },
  };
}
