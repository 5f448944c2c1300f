// A worker that dies in the middle of a host step is noticed by the heartbeat timeout, not by the step's whole
// start-to-close timeout: real Temporal dev server, two real `kubeadm2ha worker` processes, real sshd and etcd on
// three lab hosts. On h1, `mkdir` of the etcd data dir (configureEtcd's first command) is made slow once by a
// wrapper in that host's own /usr/local/bin, so worker A is certainly inside the step when it is SIGKILLed.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, type Lab } from '../../lab/index.js';
import { loadInventory } from '../../src/inventory/index.js';
import type { Inventory } from '../../src/inventory/schema.js';
import type { EtcdSetupReport } from '../../src/plan/etcd.js';
import { HOST_STEP } from '../../src/workflows/activity-options.js';
import { readActivityLog, type ActivityLogEntry } from '../../src/worker/activity-log.js';
import { setEnv } from '../support/env.js';
import { startWorkerProcess, stopProcess } from '../support/worker-process.js';
import { connectTemporal, pollUntil, temporalAddress, uniqueQueue } from './helpers.js';

let lab: Lab;
let inventory: Inventory;
let inventoryFile: string;
let dir: string;
let restoreEnv: (() => void) | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'k2h-heartbeat-'));
  // Both worker processes inherit it: one CA store, as a shared state dir gives several workers.
  restoreEnv = setEnv({ KUBEADM2HA_STATE_DIR: join(dir, 'state') });
  lab = await createLab({ hosts: 3 });
  inventoryFile = await lab.writeInventory();
  inventory = (await loadInventory(inventoryFile)).inventory;
});

afterAll(async () => {
  try {
    await lab?.destroy();
  } finally {
    restoreEnv?.();
    if (dir) await rm(dir, { recursive: true, force: true });
  }
});

const SLOW_MARK = '/tmp/k2h-slow-mkdir-started';
/** Sleeps 25 s (under the command's own 30 s timeout) the first time it creates the etcd data dir, then is mkdir. */
const slowMkdir = [
  '#!/bin/sh',
  `case "$*" in *var/lib/etcd*) if [ ! -e ${SLOW_MARK} ]; then : > ${SLOW_MARK}; sleep 25; fi;; esac`,
  'exec /bin/mkdir "$@"',
].join('\n');

const entries = (log: string): ActivityLogEntry[] =>
  existsSync(log) ? readActivityLog(readFileSync(log, 'utf8')) : [];

describe('heartbeat timeout', () => {
  it('a host step held by a SIGKILLed worker is retried on another worker long before its start-to-close', async () => {
    await lab.exec('h1', `cat > /usr/local/bin/mkdir <<'EOF'\n${slowMkdir}\nEOF\nchmod 755 /usr/local/bin/mkdir`);
    const temporal = await connectTemporal();
    const address = temporalAddress();
    const taskQueue = uniqueQueue('heartbeat');
    const log = join(dir, 'activities.jsonl');
    const first = startWorkerProcess(address, taskQueue, log, inventoryFile);
    let second: ReturnType<typeof startWorkerProcess> | undefined;
    try {
      const handle = await temporal.client.workflow.start('setupEtcdCluster', {
        taskQueue,
        workflowId: `${inventory.cluster.name}/etcd/${taskQueue}`,
        args: [{ inventory, healthTimeoutSeconds: 60, onFailure: 'abort' }],
      });
      await pollUntil(
        async () => (await lab.exec('h1', `test -e ${SLOW_MARK}`, { allowFail: true })).code === 0,
        'configureEtcd on h1 inside its slow mkdir',
        150_000,
        100,
      );
      await stopProcess(first, 'SIGKILL');
      const killedAt = Date.now();
      const held = entries(log).filter((e) => e.activityType === 'configureEtcd' && e.subject === 'h1');
      expect(held.map((e) => e.event)).toEqual(['start']);

      second = startWorkerProcess(address, taskQueue, log, inventoryFile);
      const secondPid = second.pid;
      const retry = await pollUntil(
        () =>
          entries(log).find(
            (e) => e.pid === secondPid && e.activityType === 'configureEtcd' && e.subject === 'h1' && e.attempt > 1,
          ),
        'the retry of configureEtcd on h1 on the second worker',
        100_000,
        200,
      );
      const afterKill = (Date.parse(retry.ts) - killedAt) / 1000;
      process.stderr.write(
        `[heartbeat] retry started ${afterKill.toFixed(1)} s after the kill (heartbeat timeout ` +
          `${String(HOST_STEP.heartbeatTimeout)}, start-to-close ${String(HOST_STEP.startToCloseTimeout)})\n`,
      );
      // Noticed by the heartbeat timeout: well before the attempt's start-to-close could have expired.
      const attemptStarted = Date.parse(held[0]!.ts);
      // (The retry's delay after the kill includes the second worker's start and bundling, ~10-20 s under load.)
      expect(HOST_STEP.startToCloseTimeout).toBe('2 minutes');
      expect(Date.parse(retry.ts) - attemptStarted).toBeLessThan(90_000);
      // And the run finishes on the second worker.
      const report = (await handle.result()) as EtcdSetupReport;
      expect(report.members.map((m) => m.name).sort()).toEqual(['h1', 'h2', 'h3']);
    } finally {
      await stopProcess(first, 'SIGKILL');
      if (second) await stopProcess(second, 'SIGTERM');
      await temporal.close();
    }
  });
});
