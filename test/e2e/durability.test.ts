// Durability is the product: a preflight survives its worker being SIGKILLed mid-run, and survives the Temporal
// server itself being stopped and started again on the same SQLite file. Checks that Temporal had recorded are not
// run again: the activity log (written before each completion is reported) proves it across both worker processes.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadInventory } from '../../src/inventory/index.js';
import type { Inventory } from '../../src/inventory/schema.js';
import { createLab, type Lab } from '../../lab/index.js';
import { planPreflight } from '../../src/plan/preflight.js';
import type { PreflightReport } from '../../src/plan/types.js';
import { dataConverter } from '../../src/temporal/data-converter.js';
import { startDevServer, stopDevServer, type DevServerOptions } from '../../src/temporal/dev-server.js';
import { freePort } from '../../src/temporal/process-util.js';
import { createKubeadmHaWorker } from '../../src/worker.js';
import { sshTrustOf } from '../../src/activities/ssh-trust.js';
import { readActivityLog, type ActivityLogEntry } from '../../src/worker/activity-log.js';
import { pollUntil, temporalAddress, uniqueQueue } from './helpers.js';
import { startWorkerProcess } from '../support/worker-process.js';

let lab: Lab;
let inventory: Inventory;
let dir: string;
let inventoryFile: string;

beforeAll(async () => {
  lab = await createLab({ hosts: 6 });
  inventoryFile = await lab.writeInventory();
  inventory = (await loadInventory(inventoryFile)).inventory;
  dir = await mkdtemp(join(tmpdir(), 'k2h-durability-'));
});

afterAll(async () => {
  await lab?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The marker sdk-core records for each completed local activity. */
const LA_MARKER = 'core_local_activity';

const entries = (log: string): ActivityLogEntry[] =>
  existsSync(log) ? readActivityLog(readFileSync(log, 'utf8')) : [];
const completed = (log: string): string[] =>
  entries(log)
    .filter((e) => e.event === 'complete')
    .map((e) => e.subject ?? '');
const totalChecks = (): number => planPreflight(inventory).hosts.reduce((n, h) => n + h.steps.length, 0);

describe('durability', () => {
  it('a preflight goes on after its worker is killed, without re-running completed checks', async () => {
    const address = temporalAddress();
    const connection = await Connection.connect({ address });
    const client = new Client({ connection, dataConverter: dataConverter() });
    const taskQueue = uniqueQueue('durable');
    const log = join(dir, 'kill.jsonl');
    try {
      const handle = await client.workflow.start('preflightCluster', {
        taskQueue,
        workflowId: `${inventory.cluster.name}/preflight/${taskQueue}`,
        args: [{ inventory }],
      });
      const first = startWorkerProcess(address, taskQueue, log, inventoryFile);
      await pollUntil(() => completed(log).length >= 10, '10 completed checks', 150_000, 20); // a worker process from source bundles its workflows first: ~57 s seen at load ~29
      first.kill('SIGKILL');
      await new Promise((r) => first.once('exit', r));
      const doneBeforeKill = completed(log);
      // What Temporal recorded as completed when the worker died: a host's first check is an activity (its
      // completion event), the others are local activities (one marker each, written when the workflow task that ran
      // them completes). A check that completed but was not recorded yet is legitimately run again (read-only,
      // at-least-once); one that was recorded never is.
      const history = await handle.fetchHistory();
      const recordedAtKill = (history.events ?? []).filter(
        (e) => e.activityTaskCompletedEventAttributes || e.markerRecordedEventAttributes?.markerName === LA_MARKER,
      ).length;
      expect(recordedAtKill).toBeGreaterThanOrEqual(1);
      expect(recordedAtKill).toBeLessThanOrEqual(doneBeforeKill.length);
      // At most this many ran again (activity completions that arrived while a workflow task was open are
      // durable but only written to history when it ends, so fewer may).
      const unrecorded = doneBeforeKill.length - recordedAtKill;
      // The kill landed mid-run: the workflow is open and checks are left.
      expect((await handle.describe()).status.name).toBe('RUNNING');
      expect(doneBeforeKill.length).toBeLessThan(totalChecks());

      const second = startWorkerProcess(address, taskQueue, log, inventoryFile);
      try {
        const report = (await handle.result()) as PreflightReport;
        expect(report.results.filter((r) => r.check !== 'unique-identity')).toHaveLength(totalChecks());
        expect(report.ok).toBe(true);
      } finally {
        second.kill('SIGTERM');
        await new Promise((r) => second.once('exit', r));
      }
      const all = entries(log);
      const pids = new Set(all.map((e) => e.pid));
      expect(pids.size).toBe(2);
      // Every check completed, and none whose completion Temporal had recorded was started again.
      const done = completed(log);
      expect(new Set(done).size).toBe(totalChecks());
      const secondPid = [...pids][1];
      const rerun = all.filter(
        (e) => e.pid === secondPid && e.event === 'start' && doneBeforeKill.includes(e.subject ?? ''),
      );
      // Only unrecorded ones ran again, each once: none that Temporal had recorded.
      expect(rerun.length).toBeLessThanOrEqual(unrecorded);
      expect(new Set(rerun.map((e) => e.subject)).size).toBe(rerun.length);
      expect(done.length).toBe(totalChecks() + rerun.length);
    } finally {
      await connection.close();
    }
  }, 360_000);

  it('a preflight completes across a Temporal server restart on the same database', async () => {
    const server: DevServerOptions = {
      port: await freePort(),
      headless: true,
      dbFile: join(dir, 'restart.db'),
      logLevel: 'error',
    };
    const info = await startDevServer(server);
    const log = join(dir, 'restart.jsonl');
    const taskQueue = uniqueQueue('restart');
    let connection = await Connection.connect({ address: info.address });
    let client = new Client({ connection, dataConverter: dataConverter() });
    const workflowId = `${inventory.cluster.name}/preflight/${taskQueue}`;
    await client.workflow.start('preflightCluster', { taskQueue, workflowId, args: [{ inventory }] });
    let native = await NativeConnection.connect({ address: info.address });
    let worker = await createKubeadmHaWorker({
      connection: native,
      taskQueue,
      activityLogFile: log,
      sshTrust: sshTrustOf(inventory),
      maxConcurrentActivities: 1,
    });
    const running = worker.run();
    try {
      await pollUntil(() => completed(log).length >= 8, '8 completed checks', 150_000, 20);
      // Stop everything: worker first (as a crash of the whole operator machine would), then the server.
      worker.worker.shutdown();
      await running;
      await native.close();
      await connection.close();
      const stopped = await stopDevServer(server);
      expect(stopped.stopped).toBe(true);
      const doneBefore = completed(log);
      expect(doneBefore.length).toBeLessThan(totalChecks());

      await startDevServer(server);
      connection = await Connection.connect({ address: info.address });
      client = new Client({ connection, dataConverter: dataConverter() });
      expect((await client.workflow.getHandle(workflowId).describe()).status.name).toBe('RUNNING');
      native = await NativeConnection.connect({ address: info.address });
      worker = await createKubeadmHaWorker({
        connection: native,
        taskQueue,
        activityLogFile: log,
        sshTrust: sshTrustOf(inventory),
      });
      const report = (await worker.run(client.workflow.getHandle(workflowId).result())) as PreflightReport;
      expect(report.ok).toBe(true);
      const done = completed(log);
      expect(done.length).toBe(totalChecks());
      expect(new Set(done).size).toBe(totalChecks());
    } finally {
      await native.close().catch(() => undefined);
      await connection.close().catch(() => undefined);
      await stopDevServer(server);
    }
  }, 360_000);
});
