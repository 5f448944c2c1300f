// Setup survives its worker and its Temporal server (issue 11 §3), in one run on one lab: a `kubeadm2ha worker`
// process is SIGKILLed right after the first control-plane join completed; a second worker process takes the run
// over; while that one runs the second join, the Temporal dev server is stopped and started again on the same SQLite
// file. The run finishes, every node is Ready, and no completed join runs again. The proof is the activity log each
// worker writes before it reports a completion to the server. The server is this file's own (its port, its db file),
// so the restart disturbs no other test file.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { readActivityLog, type ActivityLogEntry } from '../../src/worker/activity-log.js';
import type { RunbookResult } from '../../src/workflows/runbook.js';
import { startDevServer, stopDevServer, type DevServerOptions } from '../../src/temporal/dev-server.js';
import { freePort } from '../../src/temporal/process-util.js';
import { pollUntil, uniqueQueue } from '../e2e/helpers.js';
import { nodeStates } from '../support/k8s-cluster.js';
import { labClusterInventory } from '../support/lab-cluster.js';
import { labSuite } from '../support/lab-suite.js';
import { startWorkerProcess, stopProcess } from '../support/worker-process.js';

let server: DevServerOptions | undefined;
const workers: ChildProcess[] = [];
const suite = labSuite({
  name: 'setup-kill',
  // The worker processes are their own; they inherit the environment: the CA store and admin kubeconfig live under
  // the shared state dir.
  bundle: false,
  lab: { hosts: 3 },
  // Three masters: two control-plane joins in a row (h2, then h3), the window the worker dies in. The worker processes
  // take their SSH trust (known_hosts, key) from the inventory file (suite.inventoryFile) and check it with the
  // inventory rules (the lab's own declares pod and Service ranges inside the hosts' /24).
  inventory: (lab) =>
    labClusterInventory(lab, [
      ['primary-master', 'etcd'],
      ['secondary-master', 'etcd'],
      ['secondary-master', 'etcd'],
    ]),
  server: {
    start: async (scratch) => {
      server = { port: await freePort(), headless: true, dbFile: join(scratch, 'temporal.db'), logLevel: 'error' };
      return (await startDevServer(server)).address;
    },
    // Set before the start is awaited: a start that throws after spawning (search attributes) is stopped too.
    stop: () => server && stopDevServer(server),
  },
  cleanUp: [
    async () => {
      for (const w of workers) await stopProcess(w, 'SIGKILL');
    },
  ],
});

const entries = (log: string): ActivityLogEntry[] =>
  existsSync(log) ? readActivityLog(readFileSync(log, 'utf8')) : [];
const joins = (log: string, event: ActivityLogEntry['event']) =>
  entries(log)
    .filter((e) => e.activityType === 'joinNode' && e.event === event)
    .map((e) => e.subject);

describe('setupCluster when its worker dies between two control-plane joins and its server restarts', () => {
  it('a second worker finishes the run across a server restart; the join that completed is not run again', async () => {
    const taskQueue = uniqueQueue('setup-kill');
    const logA = join(suite.scratch, 'worker-a.log');
    const logB = join(suite.scratch, 'worker-b.log');
    const a = startWorkerProcess(suite.temporalAddress, taskQueue, logA, suite.inventoryFile);
    workers.push(a);
    const handle = await suite.temporal.client.workflow.start('setupCluster', {
      taskQueue,
      workflowId: `${suite.inventory.cluster.name}/setup/${taskQueue}`,
      args: [{ inventory: suite.inventory }],
    });
    await pollUntil(() => joins(logA, 'complete').includes('h2'), 'h2 joined by worker A', 900_000, 250);
    // Killed only once the server has recorded that join as completed: A logs 'complete' a moment before it reports
    // the result, and a kill in that moment would make B run h2's join again by at-least-once delivery (correct, but
    // not the "completed join is not repeated" this test is about).
    await pollUntil(
      async () => {
        const events = (await handle.fetchHistory()).events ?? [];
        const joinIds = new Set(
          events
            .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'joinNode')
            .map((e) => String(e.eventId)),
        );
        return events.some(
          (e) =>
            e.activityTaskCompletedEventAttributes &&
            joinIds.has(String(e.activityTaskCompletedEventAttributes.scheduledEventId)),
        );
      },
      "h2's join recorded as completed by the server",
      60_000,
      100,
    );
    await stopProcess(a, 'SIGKILL');
    const killedAt = Date.now();
    // Joins are one at a time: h3's had not completed when A died.
    expect(joins(logA, 'complete')).toEqual(['h2']);

    const b = startWorkerProcess(suite.temporalAddress, taskQueue, logB, suite.inventoryFile);
    workers.push(b);
    // Worker B is in h3's join (kubeadm join takes tens of seconds): stop the server and start it again on the same
    // db file while B keeps running, as an operator restarting the Temporal service would.
    await pollUntil(() => joins(logB, 'start').includes('h3'), "h3's join started by worker B", 600_000, 100);
    const stopAt = Date.now();
    const stopped = await stopDevServer(server);
    expect(stopped).toMatchObject({ stopped: true });
    expect(joins(logB, 'complete')).toEqual([]);
    const restarted = await startDevServer(server);
    const gapMs = Date.now() - stopAt;
    expect(restarted.reused).toBe(false);
    // The client's connection reconnects by itself; the run is still there, still running.
    expect((await handle.describe()).status.name).toBe('RUNNING');
    const result = (await handle.result()) as RunbookResult;
    const done = Date.now();
    process.stderr.write(
      `[setup kill] worker B finished ${Math.round((done - killedAt) / 1000)} s after A died; server down ` +
        `${gapMs} ms (stop ${stopped.elapsedMs} ms) during h3's join; run done ${Math.round((done - stopAt - gapMs) / 1000)} s ` +
        `after the server was back\n`,
    );
    expect(b.exitCode).toBeNull();
    expect(result.skipped).toEqual([]);
    // Worker B joined h3 only; h2's join, completed before the kill, never ran again.
    expect(joins(logB, 'start')).toEqual(['h3']);
    expect([...joins(logA, 'complete'), ...joins(logB, 'complete')]).toEqual(['h2', 'h3']);
    expect(await nodeStates(suite.lab)).toEqual(['h1 Ready', 'h2 Ready', 'h3 Ready']);
    await stopProcess(b, 'SIGTERM');
  }, 1_800_000);
});
