// etcd snapshot and restore end to end: real Temporal dev server, real sshd and Debian's etcd 3.4 on three lab hosts
// (a 3-member TLS cluster built by setupEtcdCluster), real etcdctl from the operator's side to write and read keys.
// The restore (a runbook on the shared executor) runs on worker processes, the first SIGKILLed after every member
// was stopped and before any was started again: a second worker completes it. The payload codec is off for this file, so the history check proves
// that the snapshot's contents never travel as a payload by design.
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import type { EtcdSnapshotResult } from '../../src/activities/etcd-snapshot.js';
import { createActivities } from '../../src/activities/index.js';
import { createSshDeps } from '../../src/activities/ssh-deps.js';
import { sshTrustOf } from '../../src/activities/ssh-trust.js';
import { sha256File } from '../../src/activities/snapshot-store.js';

import { dataConverter } from '../../src/temporal/data-converter.js';
import { readActivityLog, type ActivityLogEntry } from '../../src/worker/activity-log.js';
import type { EtcdRestoreReport } from '../../src/workflows/etcd-snapshot.js';
import { decideUpdate, progressQuery, runbookQuery } from '../../src/workflows/messages.js';
import { pollUntil, temporalAddress, uniqueQueue } from '../e2e/helpers.js';
import { operatorEtcdctl, writeOperatorClient } from '../support/etcdctl.js';
import { startWorkerProcess, stopProcess } from '../support/worker-process.js';
import { runOnLabWorker } from '../support/lab-worker.js';
import { plainLabSuite } from '../support/lab-suite.js';
import { recordHistoryIfAsked } from '../support/record-history.js';

let clientDir: string;
const suite = plainLabSuite({
  name: 'etcd-restore',
  lab: { hosts: 3 },
  ready: async () => {
    await runInProcess('setupEtcdCluster', [{ inventory: suite.inventory, healthTimeoutSeconds: 30 }]);
    clientDir = await mkdtemp(join(suite.scratch, 'client-'));
    await writeOperatorClient(join(suite.scratch, 'state', 'clusters', suite.inventory.cluster.name, 'pki'), clientDir);
  },
});
const members = ['h1', 'h2', 'h3'];
/** Unique per run: found in the snapshot file, must never be found in history. */
const tag = randomUUID().slice(0, 8);
const value = (k: string) => `v-${k}-${tag}`;

async function runInProcess<R>(
  workflowType: string,
  args: unknown[],
): Promise<{ result: R; payloads: string; ms: number; workflowId: string }> {
  const taskQueue = uniqueQueue('etcd-snap');
  const workflowId = `${suite.inventory.cluster.name}/etcd/${workflowType}/${taskQueue}`;
  const { result, ms } = await runOnLabWorker<R>({
    temporal: suite.temporal,
    bundle: suite.bundle,
    inventory: suite.inventory,
    workflowType,
    args,
    taskQueue,
    workflowId,
  });
  return { result, payloads: await historyPayloads(workflowId), ms, workflowId };
}

/** Every payload's bytes in a workflow's history, as text (the codec is off, so this is what the server stores). */
async function historyPayloads(workflowId: string): Promise<string> {
  const history = await suite.temporal.client.workflow.getHandle(workflowId).fetchHistory();
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (v instanceof Uint8Array) out.push(Buffer.from(v).toString('latin1'));
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(history);
  return out.join('\n');
}

const etcdctl = (args: string[]) =>
  operatorEtcdctl(
    suite.lab.hosts.slice(0, 3).map((h) => `https://${h.address}:2379`),
    clientDir,
    args,
  );
const getValue = async (k: string): Promise<string | undefined> => {
  const r = JSON.parse(await etcdctl(['get', k])) as { kvs?: { value: string }[] };
  const v = r.kvs?.[0]?.value;
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString();
};
const clusterId = async (): Promise<string> => {
  const raw = await etcdctl(['member', 'list']);
  return BigInt(/"cluster_id":(\d+)/.exec(raw)?.[1] ?? '0').toString(16);
};
const keys = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `k${from + i}`);

const logEntries = (log: string): ActivityLogEntry[] =>
  existsSync(log) ? readActivityLog(readFileSync(log, 'utf8')) : [];
describe('etcd snapshot and restore on lab hosts', () => {
  let snap: EtcdSnapshotResult;

  it('snapshots a healthy member into the operator store (0600, sha256 verified) with only paths and sums in history', async () => {
    for (const k of keys(1, 50)) await etcdctl(['put', k, value(k)]);
    const { result, payloads, ms, workflowId } = await runInProcess<EtcdSnapshotResult>('snapshotEtcd', [
      { inventory: suite.inventory },
    ]);
    await recordHistoryIfAsked(workflowId, 'etcd-snapshot-3-members');
    snap = result;
    process.stderr.write(
      `[etcd-restore] snapshot: ${result.size} bytes, revision ${result.revision}, save ${result.saveMs} ms, ` +
        `transfer ${result.transferMs} ms, workflow ${ms} ms (${result.tool}, etcd ${result.etcdVersion})\n`,
    );
    const dir = join(suite.scratch, 'state', 'clusters', suite.inventory.cluster.name, 'snapshots');
    expect(result.path.startsWith(`${dir}/`)).toBe(true);
    expect(result.path).toMatch(/\/\d{8}T\d{6}Z-h1\.db$/);
    expect(result).toMatchObject({ member: 'h1', tool: 'etcdctl', etcdVersion: '3.4.23', skipped: [] });
    expect(result.totalKeys).toBeGreaterThanOrEqual(50);
    expect(result.revision).toBeGreaterThanOrEqual(51);
    const st = await stat(result.path);
    expect(st.mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect(st.size).toBe(result.size);
    expect(await sha256File(result.path)).toBe(result.sha256);
    expect(await readFile(`${result.path}.sha256`, 'utf8')).toBe(`${result.sha256}  ${result.path.split('/').pop()}\n`);
    // The file really holds the data (so the history check below could fail), and the host keeps no copy.
    expect((await readFile(result.path)).includes(value('k17'))).toBe(true);
    expect((await suite.lab.exec('h1', 'ls -A /var/lib/kubeadm2ha/snapshots')).stdout).toBe('');
    // History: the path and checksum travel, the contents never do.
    expect(payloads).toContain(result.sha256);
    expect(payloads).toContain(result.path);
    expect(payloads).not.toContain(tag);
  });

  it('a snapshot no member can take parks at the decision gate; once the hosts are fixed, retry saves it', async () => {
    expect(snap).toBeDefined();
    // A real failure on every member: where the save script puts the snapshot is a file, so its mkdir fails.
    const hostDir = '/var/lib/kubeadm2ha/snapshots';
    for (const h of members) await suite.lab.exec(h, `mkdir -p ${hostDir}/.. && rm -rf ${hostDir} && touch ${hostDir}`);
    const taskQueue = uniqueQueue('etcd-snap-decide');
    const workflowId = `${suite.inventory.cluster.name}/etcd/snapshot/${taskQueue}`;
    const deps = createSshDeps(sshTrustOf(suite.inventory));
    const worker = await Worker.create({
      connection: suite.temporal.native,
      taskQueue,
      workflowBundle: suite.bundle,
      dataConverter: dataConverter(),
      activities: createActivities(deps),
    });
    try {
      await worker.runUntil(async () => {
        const started = Date.now();
        const handle = await suite.temporal.client.workflow.start('snapshotEtcd', {
          taskQueue,
          workflowId,
          args: [{ inventory: suite.inventory }],
        });
        const waiting = await pollUntil(
          async () => (await handle.query(progressQuery)).waiting,
          'the snapshot parked at the decision gate',
          120_000,
          200,
        );
        const parkedMs = Date.now() - started;
        expect(waiting).toEqual([expect.objectContaining({ host: 'cluster', step: 'saveEtcdSnapshot' })]);
        const error = (waiting[0] as { error: string }).error;
        expect(error).toMatch(/^no member could take a snapshot: /);
        for (const h of members) expect(error).toContain(h);
        expect((await handle.describe()).status.name).toBe('RUNNING');

        for (const h of members) await suite.lab.exec(h, `rm -f ${hostDir}`);
        await handle.executeUpdate(decideUpdate, { args: [{ action: 'retry', by: 'test', reason: 'dir fixed' }] });
        const result = (await handle.result()) as EtcdSnapshotResult;
        process.stderr.write(
          `[etcd-restore] failed snapshot parked after ${parkedMs} ms; after retry: ${result.size} bytes from ` +
            `${result.member} in ${Date.now() - started} ms in all\n`,
        );
        expect(result).toMatchObject({ member: 'h1', skipped: [] });
        expect(result.totalKeys).toBeGreaterThanOrEqual(50);
        expect(await sha256File(result.path)).toBe(result.sha256);
        expect(result.path).not.toBe(snap.path);
        const runbook = await handle.query(runbookQuery);
        expect(runbook.phases.map((p) => p.id)).toEqual(['snapshot']);
      });
    } finally {
      await deps.close();
    }
  });

  it('restores after a worker is killed mid-restore: keys before the snapshot are back, later ones gone, new cluster id, old data kept', async () => {
    expect(snap).toBeDefined();
    // After the snapshot: new keys, deleted and changed old ones.
    for (const k of keys(51, 60)) await etcdctl(['put', k, value(k)]);
    for (const k of keys(1, 10)) await etcdctl(['del', k]);
    await etcdctl(['put', 'k11', 'changed-after-snapshot']);
    expect(await getValue('k5')).toBeUndefined();
    const oldId = await clusterId();

    const taskQueue = uniqueQueue('etcd-restore');
    const log = join(suite.scratch, 'restore.jsonl');
    const workflowId = `${suite.inventory.cluster.name}/etcd/restore/${taskQueue}`;
    const started = Date.now();
    const handle = await suite.temporal.client.workflow.start('restoreEtcdSnapshot', {
      taskQueue,
      workflowId,
      args: [{ inventory: suite.inventory, snapshot: { path: snap.path }, healthTimeoutSeconds: 60 }],
    });
    const first = startWorkerProcess(temporalAddress(), taskQueue, log, suite.inventoryFile);
    let second: ChildProcess | undefined;
    try {
      await pollUntil(
        () => logEntries(log).some((e) => e.event === 'complete' && e.activityType === 'restoreEtcdMember'),
        'a member restored',
        120_000,
        20,
      );
      await stopProcess(first, 'SIGKILL');
      const killedAt = Date.now();
      // Killed after stop and before start: no member runs etcd.
      for (const h of members) {
        expect((await suite.lab.exec(h, 'pgrep -x etcd', { allowFail: true })).stdout.trim(), h).toBe('');
      }
      expect((await handle.describe()).status.name).toBe('RUNNING');
      const beforeKill = logEntries(log);
      const restoredBeforeKill = beforeKill
        .filter((e) => e.event === 'complete' && e.activityType === 'restoreEtcdMember')
        .map((e) => e.subject);

      second = startWorkerProcess(temporalAddress(), taskQueue, log, suite.inventoryFile);
      const report = (await handle.result()) as EtcdRestoreReport;
      // The restore is a runbook on the shared executor: the run answers with the runbook it executes.
      const runbook = await handle.query(runbookQuery);
      expect(runbook.phases.map((p) => p.id)).toEqual(['verify', 'stop', 'restore', 'start', 'health']);
      const total = Date.now() - started;
      process.stderr.write(
        `[etcd-restore] restore with a worker killed mid-way: ${total} ms in all, ${Date.now() - killedAt} ms after ` +
          `the kill; per member ${report.hosts.map((h) => `${h.host} ${h.ms} ms`).join(', ')}\n`,
      );

      expect(report.previousClusterId).toBe(oldId);
      expect(report.clusterId).not.toBe(oldId);
      expect(await clusterId()).toBe(report.clusterId);
      expect(report.members.map((m) => m.name).sort()).toEqual(members);
      const health = JSON.parse(await etcdctl(['endpoint', 'health', '--cluster'])) as { health: boolean }[];
      expect(health).toHaveLength(3);
      expect(health.every((e) => e.health)).toBe(true);

      for (const k of keys(1, 50)) expect(await getValue(k), k).toBe(value(k));
      for (const k of keys(51, 60)) expect(await getValue(k), k).toBeUndefined();
      for (const h of report.hosts) {
        expect(h.previousDataDir).toMatch(/^\/var\/lib\/etcd\.before-restore-\d{8}T\d{6}Z$/);
        expect(h.tool).toBe('etcdctl');
        // The old data dir is kept whole, and no snapshot copy is left on the host.
        const kept = await suite.lab.exec(
          h.host,
          `ls ${h.previousDataDir}/member && ls -A /var/lib/kubeadm2ha/restore`,
        );
        expect(kept.stdout).toMatch(/^snap\nwal\n/);
        expect(kept.stdout).not.toMatch(/\.db$/m);
      }

      // The second worker did not stop anything again nor redo a restore whose completion was recorded.
      const all = logEntries(log);
      const pids = [...new Set(all.map((e) => e.pid))];
      expect(pids).toHaveLength(2);
      const bySecond = all.filter((e) => e.pid === pids[1] && e.event === 'start');
      expect(bySecond.filter((e) => e.activityType === 'stopEtcdMember')).toEqual([]);
      const redone = bySecond.filter(
        (e) => e.activityType === 'restoreEtcdMember' && restoredBeforeKill.includes(e.subject),
      );
      // At-least-once: only a completion that had not reached the server may run again, and then it finds its
      // marker and does nothing (restored: false).
      expect(redone.length).toBeLessThanOrEqual(1);
      for (const r of redone) expect(report.hosts.find((h) => h.host === r.subject)?.restored).toBe(false);
      const starts = all.filter((e) => e.event === 'start' && e.activityType === 'startEtcdMember');
      expect(starts.length).toBeGreaterThanOrEqual(3);
      expect(starts.every((e) => e.pid === pids[1])).toBe(true);

      const payloads = await historyPayloads(workflowId);
      expect(payloads).toContain(snap.sha256);
      expect(payloads).not.toContain(tag);
    } finally {
      await stopProcess(first, 'SIGKILL');
      if (second) await stopProcess(second, 'SIGTERM');
    }
  });

  it('refuses a snapshot whose checksum does not match, before stopping anything', async () => {
    const pids = await Promise.all(members.map(async (h) => (await suite.lab.exec(h, 'cat /run/etcd.pid')).stdout));
    const err = await runInProcess('restoreEtcdSnapshot', [
      { inventory: suite.inventory, snapshot: { path: snap.path, sha256: '0'.repeat(64) }, onFailure: 'abort' },
    ]).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    const messages: string[] = [];
    for (let e: unknown = err; e instanceof Error; e = e.cause) messages.push(e.message);
    const message = messages.join(' | ');
    expect(message).toMatch(/has sha256 [0-9a-f]{64}, expected 0{64}: refusing to restore it/);
    expect(await Promise.all(members.map(async (h) => (await suite.lab.exec(h, 'cat /run/etcd.pid')).stdout))).toEqual(
      pids,
    );
  });
});
