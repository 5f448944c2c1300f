// The production topology, without Docker: Temporal's stock server (built from Go modules) on Debian's PostgreSQL
// (a private cluster in a temp dir, schema by temporal-sql-tool), search attributes registered, and TWO of our
// workers as separate processes on one task queue. A preflight and an etcd setup each lose a worker to SIGKILL
// mid-run; the other worker finishes them. docker-compose.yml runs the same pieces as containers.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, type Lab } from '../../lab/index.js';
import { loadInventory } from '../../src/inventory/index.js';
import type { Inventory } from '../../src/inventory/schema.js';
import type { EtcdSetupReport } from '../../src/plan/etcd.js';
import type { PreflightReport } from '../../src/plan/types.js';
import { dataConverter } from '../../src/temporal/data-converter.js';
import { searchAttributeKeys } from '../../src/temporal/search-attributes.js';
import { readActivityLog } from '../../src/worker/activity-log.js';
import { setEnv } from '../support/env.js';
import { pollUntil } from '../support/poll.js';
import { startPostgresTemporal, type PostgresTemporal } from '../support/postgres-temporal.js';
import { startWorkerProcess, stopProcess } from '../support/worker-process.js';
import { uniqueQueue } from './helpers.js';

let pg: PostgresTemporal;
let lab: Lab;
let inventory: Inventory;
let inventoryFile: string;
let scratch: string;
let restoreEnv: () => void;
let connection: Connection;
let client: Client;
const workers: ChildProcess[] = [];

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'k2h-pg-topology-'));
  // Both workers and this client share one state dir: the codec keyring and the operator's CA store.
  restoreEnv = setEnv({ KUBEADM2HA_STATE_DIR: join(scratch, 'state') });
  [pg, lab] = await Promise.all([startPostgresTemporal(), createLab({ hosts: 3 })]);
  inventoryFile = await lab.writeInventory();
  inventory = (await loadInventory(inventoryFile)).inventory;
  connection = await Connection.connect({ address: pg.address });
  client = new Client({ connection, dataConverter: dataConverter() });
}, 300_000);

afterAll(async () => {
  for (const w of workers) await stopProcess(w, 'SIGTERM');
  await connection?.close();
  await pg?.stop();
  await lab?.destroy();
  restoreEnv?.();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const completedBy = (log: string): string[] =>
  existsSync(log)
    ? readActivityLog(readFileSync(log, 'utf8'))
        .filter((e) => e.event === 'complete')
        .map((e) => e.subject ?? '')
    : [];

/**
 * Two worker processes on one queue; SIGKILL whichever first has completed `n` activities (a preflight's local
 * activities run on the worker that holds the workflow, so either may be the busy one). `logs[0]` is the killed
 * worker's log, `logs[1]` the survivor's.
 */
async function twoWorkersOneKilled(handle: WorkflowHandle, taskQueue: string, n: number) {
  const logs = [join(scratch, `${taskQueue}-a.jsonl`), join(scratch, `${taskQueue}-b.jsonl`)];
  const procs = logs.map((log) => startWorkerProcess(pg.address, taskQueue, log, inventoryFile));
  workers.push(...procs);
  // 1 or 2 (pollUntil waits for a truthy value): the worker that got there first.
  const busy =
    (await pollUntil(
      () => [1, 2].find((k) => completedBy(logs[k - 1]!).length >= n),
      `a worker completing ${n} activities`,
      240_000,
      20,
    )) - 1;
  await stopProcess(procs[busy]!, 'SIGKILL');
  // Mid-run: the run is still open when its worker dies.
  expect((await handle.describe()).status.name).toBe('RUNNING');
  const ordered = busy === 0 ? logs : [logs[1]!, logs[0]!];
  return { logs: ordered, killedAfter: completedBy(ordered[0]!).length };
}

describe('Temporal on PostgreSQL with two workers (no Docker)', () => {
  it('has our search attributes registered and answers visibility queries on them', async () => {
    const attrs = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
    for (const k of searchAttributeKeys) expect(Object.keys(attrs.customAttributes ?? {})).toContain(k.name);
  });

  // Up to two activity timeouts: a step the killed worker held is retried once its timeout (up to 2 min) runs out.
  it(
    'a preflight and an etcd setup each finish on the second worker after the first is killed mid-run',
    { timeout: 600_000 },
    async () => {
      const taskQueue = uniqueQueue('pg');
      const preflight = await client.workflow.start('preflightCluster', {
        taskQueue,
        workflowId: `${inventory.cluster.name}/preflight/${taskQueue}`,
        args: [{ inventory }],
      });
      const first = await twoWorkersOneKilled(preflight, taskQueue, 3);
      const report = (await preflight.result()) as PreflightReport;
      expect(report.ok).toBe(true);
      // The survivor ran checks after the kill; the killed one ran some before it.
      expect(first.killedAfter).toBeGreaterThanOrEqual(3);
      expect(completedBy(first.logs[1]!).length).toBeGreaterThan(0);

      const etcdQueue = uniqueQueue('pg-etcd');
      const etcd = await client.workflow.start('setupEtcdCluster', {
        taskQueue: etcdQueue,
        workflowId: `${inventory.cluster.name}/etcd/${etcdQueue}`,
        args: [{ inventory, onFailure: 'abort' }],
      });
      const second = await twoWorkersOneKilled(etcd, etcdQueue, 4);
      const setup = (await etcd.result()) as EtcdSetupReport;
      expect(setup.members).toHaveLength(3);
      expect(completedBy(second.logs[1]!).length).toBeGreaterThan(0);

      // Visibility on PostgreSQL finds both runs by our search attribute.
      const runs = await pollUntil(async () => {
        const found: string[] = [];
        for await (const w of client.workflow.list({ query: `ClusterName = '${inventory.cluster.name}'` }))
          found.push(w.type);
        return found.length >= 2 ? found.sort() : undefined;
      }, 'both runs listed by ClusterName');
      expect(runs).toEqual(['preflightCluster', 'setupEtcdCluster']);
    },
  );
});
