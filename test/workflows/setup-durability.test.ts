// Setup survives its worker and its Temporal server (issue 11 §3), in one run on one lab: a `kubeadm2ha worker`
// process is SIGKILLed right after the first control-plane join completed; a second worker process takes the run
// over; while that one runs the second join, the Temporal dev server is stopped and started again on the same SQLite
// file. The run finishes, every node is Ready, and no completed join runs again. The proof is the activity log each
// worker writes before it reports a completion to the server. The server is this file's own (its port, its db file),
// so the restart disturbs no other test file.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { Inventory } from '../../src/inventory/schema.js';
import { createK8sLab, type K8sLab } from '../../lab/k8s/k8s-lab.js';
import { CODEC_ENV } from '../../src/temporal/data-converter.js';
import { readActivityLog, type ActivityLogEntry } from '../../src/worker/activity-log.js';
import type { RunbookResult } from '../../src/workflows/runbook.js';
import { startDevServer, stopDevServer, type DevServerOptions } from '../../src/temporal/dev-server.js';
import { freePort } from '../../src/temporal/process-util.js';
import { connectTemporal, pollUntil, uniqueQueue } from '../e2e/helpers.js';
import { setEnv } from '../support/env.js';
import { labClusterInventory } from '../support/lab-cluster.js';
import { startWorkerProcess, stopProcess } from '../support/worker-process.js';
import { cleanUp } from '../support/clean-up.js';

let lab: K8sLab;
let inv: Inventory;
let inventoryFile: string;
let temporal: Awaited<ReturnType<typeof connectTemporal>>;
let scratch: string;
let restoreEnv: (() => void) | undefined;
let server: DevServerOptions | undefined;
let address: string;
const workers: ChildProcess[] = [];

const entries = (log: string): ActivityLogEntry[] =>
  existsSync(log) ? readActivityLog(readFileSync(log, 'utf8')) : [];
const joins = (log: string, event: ActivityLogEntry['event']) =>
  entries(log)
    .filter((e) => e.activityType === 'joinNode' && e.event === event)
    .map((e) => e.subject);

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'k2h-setup-kill-'));
  // The worker processes inherit this: the CA store and admin kubeconfig live under the shared state dir.
  restoreEnv = setEnv({ KUBEADM2HA_STATE_DIR: join(scratch, 'state'), [CODEC_ENV]: 'off' });
  lab = await createK8sLab({ hosts: 3 });
  // Three masters: two control-plane joins in a row (h2, then h3), the window the worker dies in.
  inv = labClusterInventory(lab, [
    ['primary-master', 'etcd'],
    ['secondary-master', 'etcd'],
    ['secondary-master', 'etcd'],
  ]);
  // The worker processes take their SSH trust (known_hosts, key) from an inventory file and check it with the
  // inventory rules: write this one (the lab's own declares pod and Service ranges inside the hosts' /24).
  inventoryFile = join(scratch, 'inventory.yaml');
  await writeFile(inventoryFile, stringify(inv));
  server = { port: await freePort(), headless: true, dbFile: join(scratch, 'temporal.db'), logLevel: 'error' };
  address = (await startDevServer(server)).address;
  temporal = await connectTemporal(address);
}, 3_600_000);

afterAll(() =>
  cleanUp(
    async () => {
      for (const w of workers) await stopProcess(w, 'SIGKILL');
    },
    () => temporal?.close(),
    () => server && stopDevServer(server),
    () => lab?.destroy(),
    () => restoreEnv?.(),
    () => scratch && rm(scratch, { recursive: true, force: true }),
  ),
);

describe('setupCluster when its worker dies between two control-plane joins and its server restarts', () => {
  it('a second worker finishes the run across a server restart; the join that completed is not run again', async () => {
    const taskQueue = uniqueQueue('setup-kill');
    const logA = join(scratch, 'worker-a.log');
    const logB = join(scratch, 'worker-b.log');
    const a = startWorkerProcess(address, taskQueue, logA, inventoryFile);
    workers.push(a);
    const handle = await temporal.client.workflow.start('setupCluster', {
      taskQueue,
      workflowId: `${inv.cluster.name}/setup/${taskQueue}`,
      args: [{ inventory: inv }],
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

    const b = startWorkerProcess(address, taskQueue, logB, inventoryFile);
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
    const nodes = (await lab.exec('h1', 'kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes --no-headers'))
      .stdout;
    expect(
      nodes
        .trim()
        .split('\n')
        .map((l) => l.split(/\s+/).slice(0, 2).join(' '))
        .sort(),
    ).toEqual(['h1 Ready', 'h2 Ready', 'h3 Ready']);
    await stopProcess(b, 'SIGTERM');
  }, 1_800_000);
});
