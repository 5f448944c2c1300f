// A kubeadm2ha worker in its own process (`kubeadm2ha worker`), for tests that SIGKILL it mid-run: durability is
// shown against a worker that really dies, not one shut down politely.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');

/** One activity at a time, so a run lasts long enough to be interrupted half-way on any machine. */
export function startWorkerProcess(
  address: string,
  taskQueue: string,
  activityLog: string,
  inventoryFile: string,
): ChildProcess {
  return spawn(
    process.execPath,
    [
      join(root, 'bin', 'kubeadm2ha.js'),
      'worker',
      // The worker's SSH trust: the lab inventory's known_hosts and key.
      '--inventory',
      inventoryFile,
      '--address',
      address,
      '--task-queue',
      taskQueue,
      '--max-concurrent-activities',
      '1',
      '--activity-log',
      activityLog,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, KUBEADM2HA_FROM_SOURCE: '1' } },
  );
}

/** Send `signal` and wait for the exit; nothing to do when it already exited. */
export async function stopProcess(p: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill(signal);
  await exited;
}
