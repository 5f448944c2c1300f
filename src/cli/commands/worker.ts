// `kubeadm2ha worker`: a standalone worker for a shared or production Temporal server. Run several on one task
// queue to spread hosts over machines; each keeps one SSH connection per host it works on.
import type { Command } from 'commander';
import {
  addTemporalOptions,
  createNativeConnection,
  resolveTemporalOptions,
  type TemporalFlags,
} from '../../temporal/connection.js';
import { createKubeadmHaWorker } from '../../worker.js';
import { positiveInteger } from '../flags.js';

interface WorkerFlags extends TemporalFlags {
  taskQueue: string;
  maxConcurrentActivities?: string;
  activityLog?: string;
}

export async function runWorkerCommand(flags: WorkerFlags): Promise<void> {
  // Checked before connecting: an open connection keeps the process alive after the error.
  const maxConcurrentActivities =
    flags.maxConcurrentActivities === undefined
      ? undefined
      : positiveInteger('--max-concurrent-activities', flags.maxConcurrentActivities);
  const opts = resolveTemporalOptions(flags);
  const connection = await createNativeConnection(opts);
  try {
    const w = await createKubeadmHaWorker({
      connection,
      namespace: opts.namespace,
      taskQueue: flags.taskQueue,
      ...(flags.activityLog && { activityLogFile: flags.activityLog }),
      ...(maxConcurrentActivities !== undefined && { maxConcurrentActivities }),
    });
    process.stderr.write(
      `worker: polling task queue ${flags.taskQueue} on ${opts.address} (namespace ${opts.namespace})\n`,
    );
    // The SDK shuts the worker down gracefully on SIGINT/SIGTERM; run() returns then.
    await w.run();
  } finally {
    // Also when the worker could not be created: an open connection would keep the process from exiting.
    await connection.close();
  }
}

export function register(program: Command): void {
  addTemporalOptions(
    program
      .command('worker')
      .description('run a worker that executes kubeadm2ha workflows and activities')
      .option('--task-queue <name>', 'task queue to poll', 'kubeadm2ha')
      .option('--max-concurrent-activities <n>', 'activities run at once by this worker')
      .option('--activity-log <file>', 'append a JSON line per activity start/completion/failure'),
  ).action(runWorkerCommand);
}
