// A run started by the real CLI (bin script, from source) that nothing serves: `--worker external` on a task queue
// nobody polls, so the workflow is recorded with everything its start set (summary, details, timeouts, search
// attributes) and no host is contacted. Each call gets a cluster of its own: setup, upgrade and uninstall share one
// workflow id per cluster.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { ClusterName } from '../../src/temporal/search-attributes.js';
import { bin, killed } from './cli-process.js';
import { pollUntil, temporalAddress, uniqueQueue } from './helpers.js';

export interface StartedRuns {
  /** Starts `args` on `cluster` (the inventory fixture renamed, written to `dir`); the workflow id once it started. */
  start: (cluster: string, args: string[]) => Promise<string>;
  /** Every workflow id started so far. */
  ids: string[];
  /** Kills any CLI still running. */
  stop: () => Promise<void>;
}

export function startedRuns(dir: string): StartedRuns {
  const children: ChildProcess[] = [];
  const ids: string[] = [];
  const start = async (cluster: string, args: string[]): Promise<string> => {
    const yaml = (await readFile('test/fixtures/inventory/yaml/valid.yaml', 'utf8')).replace(
      /^ {2}name: lab$/m,
      `  name: ${cluster}`,
    );
    const inventory = join(dir, `${cluster}.yaml`);
    await writeFile(inventory, yaml);
    const common = ['-i', inventory, '--address', temporalAddress(), '--worker', 'external'];
    const child = spawn(process.execPath, [bin, ...args, ...common, '--task-queue', uniqueQueue('unserved')], {
      env: { ...process.env, KUBEADM2HA_FROM_SOURCE: '1', KUBEADM2HA_LOG_LEVEL: 'WARN' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(child);
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    // The workflow id, or the exit code of a CLI that ended first (that fails at once, not at the deadline).
    const seen = await pollUntil(
      () =>
        /^started .*: workflow (\S+)$/m.exec(err)?.[1] ??
        (child.exitCode !== null ? { code: child.exitCode } : undefined),
      `${args.join(' ')} to start its run`,
      120_000,
      200,
    );
    if (typeof seen !== 'string') throw new Error(`${args.join(' ')} exited (${seen.code}):\n${err}`);
    ids.push(seen);
    await killed(child);
    return seen;
  };
  return { start, ids, stop: async () => void (await Promise.all(children.map(killed))) };
}

/**
 * The runs `kubeadm2ha runs` and `status` are checked against, on `cluster`: an etcd snapshot (running), an images
 * push (terminated), and at `bareId` a preflight started as by someone else's script, with only the cluster search
 * attribute (no summary). Returns once visibility shows all three (it lags the starts and the termination a moment).
 */
export async function startListedRuns(
  runs: StartedRuns,
  client: Client,
  cluster: string,
  bareId: string,
): Promise<{ snapshot: string; push: string }> {
  const snapshot = await runs.start(cluster, ['etcd', 'snapshot']);
  const push = await runs.start(cluster, ['images', 'push', '--version', '1.34.12']);
  await client.workflow.getHandle(push).terminate('a run that ended');
  await client.workflow.start('preflightCluster', {
    workflowId: bareId,
    taskQueue: uniqueQueue('unserved'),
    args: [{}],
    typedSearchAttributes: [{ key: ClusterName, value: cluster }],
  });
  const count = async (status: string) =>
    (await client.workflow.count(`ClusterName = '${cluster}' AND ExecutionStatus = '${status}'`)).count;
  await pollUntil(
    async () => (await count('Running')) === 2 && (await count('Terminated')) === 1,
    'the three runs in visibility',
  );
  return { snapshot, push };
}
