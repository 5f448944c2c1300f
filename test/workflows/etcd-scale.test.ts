// etcd scale-out and scale-in end to end: an external etcd cluster of 3 members built by setupEtcdCluster on lab hosts
// (real Temporal dev server, real sshd, Debian's etcd 3.4), then the inventory gains two etcd-only hosts and `etcd
// setup` runs again, then loses them and it runs once more. Checked independently (etcdctl from the operator's side
// with a certificate the workflow never saw, the members' processes, the worker's activity log): the new members join
// one at a time, serve the keys written before, and the old members are left alone; the removal waits for approval,
// removes one member at a time, stops each and keeps its data.
import { mkdtemp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { createActivities } from '../../src/activities/index.js';
import { createSshDeps } from '../../src/activities/ssh-deps.js';
import { sshTrustOf } from '../../src/activities/ssh-trust.js';
import { etcdSetup } from '../../src/cli/commands/etcd.js';
import { loadInventory } from '../../src/inventory/index.js';
import type { Inventory } from '../../src/inventory/schema.js';
import { writeLabInventory } from '../../lab/inventory.js';
import type { EtcdSetupReport } from '../../src/plan/etcd.js';
import type { Runbook } from '../../src/plan/runbook.js';
import { dataConverter } from '../../src/temporal/data-converter.js';
import { activityLogInterceptor, readActivityLog } from '../../src/worker/activity-log.js';
import { uniqueQueue } from '../e2e/helpers.js';
import { plainLabSuite } from '../support/lab-suite.js';
import { pollUntil } from '../support/poll.js';
import { approveUpdate, progressQuery } from '../../src/workflows/messages.js';
import { printedJson } from '../support/console-output.js';
import { operatorEtcdctl, writeOperatorClient } from '../support/etcdctl.js';

let three: { file: string; inventory: Inventory };
let five: { file: string; inventory: Inventory };
let clientDir: string;

// The lab's 3-master inventory (h1..h3 masters and etcd members), then the same with h4 and h5 as etcd-only hosts.
const suite = plainLabSuite({
  name: 'etcd-scale',
  lab: { hosts: 5 },
  inventory: (lab) => lab.inventory({ hosts: lab.inventory().hosts.slice(0, 3) }),
  ready: async ({ lab, scratch, inventory, inventoryFile }) => {
    three = { file: inventoryFile, inventory };
    const file = await writeLabInventory(
      join(scratch, 'five.yaml'),
      lab.inventory({
        hosts: [
          ...lab.inventory().hosts.slice(0, 3),
          ...newMembers.map((name) => ({ name, address: addressOf(name), roles: ['etcd' as const] })),
        ],
      }),
    );
    five = { file, inventory: (await loadInventory(file)).inventory };
  },
});

const oldMembers = ['h1', 'h2', 'h3'];
const newMembers = ['h4', 'h5'];

async function setupEtcd(
  inventory: Inventory,
  activityLogFile: string,
  /** Between start and end: the run's handle, e.g. to answer its approval gate. */
  during?: (handle: WorkflowHandle) => Promise<void>,
): Promise<{ report: EtcdSetupReport; ms: number }> {
  const taskQueue = uniqueQueue('etcd-scale');
  const deps = createSshDeps(sshTrustOf(inventory));
  const worker = await Worker.create({
    connection: suite.temporal.native,
    taskQueue,
    workflowBundle: suite.bundle,
    dataConverter: dataConverter(),
    activities: createActivities(deps),
    interceptors: { activity: [activityLogInterceptor(activityLogFile)] },
  });
  const started = Date.now();
  try {
    const report = await worker.runUntil(async () => {
      const handle = await suite.temporal.client.workflow.start('setupEtcdCluster', {
        taskQueue,
        workflowId: `${inventory.cluster.name}/etcd/${taskQueue}`,
        args: [{ inventory, healthTimeoutSeconds: 60, onFailure: 'abort' }],
      });
      await during?.(handle);
      return (await handle.result()) as EtcdSetupReport;
    });
    return { report, ms: Date.now() - started };
  } finally {
    await deps.close();
  }
}

/** `kubeadm2ha etcd setup --dry-run --json` as the CLI runs it (facts read over SSH, no Temporal): the runbook. */
const dryRun = (inventoryFile: string): Promise<Runbook> =>
  printedJson(() => etcdSetup({ inventory: inventoryFile, dryRun: true, json: true }));

/** Per host phase: its hosts and their steps, in order. */
const hostPhases = (rb: Runbook) =>
  rb.phases.flatMap((p) =>
    p.kind === 'hosts'
      ? [{ id: p.id, rollout: p.rollout.kind, hosts: p.hosts.map((h) => [h.target.name, h.steps.map((s) => s.id)]) }]
      : [],
  );

const addressOf = (host: string) => suite.lab.hosts.find((h) => h.name === host)!.address;
const endpointOf = (host: string) => `https://${addressOf(host)}:2379`;
/** etcd's pid and its start time (clock ticks since boot, /proc/PID/stat field 22): a restart changes both. */
const etcdProcess = async (host: string) =>
  (await suite.lab.exec(host, 'p=$(cat /run/etcd.pid); echo "$p $(cut -d" " -f22 /proc/$p/stat)"')).stdout.trim();
const getOn = async (host: string, key: string): Promise<string | undefined> => {
  // Serializable: answered from that member's own store, not forwarded to the leader.
  const r = JSON.parse(await operatorEtcdctl([endpointOf(host)], clientDir, ['get', key, '--consistency=s'])) as {
    kvs?: { value: string }[];
  };
  const v = r.kvs?.[0]?.value;
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString();
};

describe('etcd scale-out on lab hosts', () => {
  let first: EtcdSetupReport;
  let before: string[];

  it('sets up 3 members and stores a key', async () => {
    const { report, ms } = await setupEtcd(three.inventory, join(suite.scratch, 'first.jsonl'));
    first = report;
    process.stderr.write(`[etcd-scale] 3 members from nothing: ${ms} ms\n`);
    expect(report.members.map((m) => m.name).sort()).toEqual(oldMembers);
    clientDir = await mkdtemp(join(suite.scratch, 'client-'));
    await writeOperatorClient(join(suite.scratch, 'state', 'clusters', three.inventory.cluster.name, 'pki'), clientDir);
    await operatorEtcdctl(oldMembers.map(endpointOf), clientDir, ['put', 'k2h-before-scale', 'kept']);
    before = await Promise.all(oldMembers.map(etcdProcess));
  });

  it('a dry run with 5 etcd hosts plans only the new hosts, joined one at a time', async () => {
    expect(first).toBeDefined();
    const plan = await dryRun(five.file);
    expect(plan.phases.map((p) => p.id)).toEqual(['ca', 'join', 'health']);
    const joinSteps = ['ensureEtcdInstalled', 'ensureHostCertificates', 'configureEtcd', 'ensureEtcdRunning'];
    expect(hostPhases(plan)).toEqual([
      {
        id: 'join',
        rollout: 'serial',
        hosts: newMembers.map((h) => [h, [...joinSteps, 'waitEtcdMemberStarted']]),
      },
    ]);
    expect(plan.alreadyDone?.map((d) => d.host)).toEqual(oldMembers);
  });

  it('adds h4 then h5 (member add, start as existing); they serve the old keys; the old members keep running', async () => {
    expect(first).toBeDefined();
    const log = join(suite.scratch, 'scale.jsonl');
    const { report, ms } = await setupEtcd(five.inventory, log);
    process.stderr.write(`[etcd-scale] 3 → 5 members: ${ms} ms\n`);

    const byName = Object.fromEntries(report.hosts.map((h) => [h.name, h]));
    for (const h of newMembers) {
      expect(byName[h]).toMatchObject({ rejoined: 'added', service: 'started' });
      expect(
        await suite.lab.exec(h, 'grep -x "initial-cluster-state: existing" /etc/etcd/etcd.conf.yml'),
      ).toMatchObject({
        code: 0,
      });
    }
    // Each started with the members of its moment: h4 before h5 was added, h5 with all five.
    const initialCluster = async (h: string) =>
      (await suite.lab.exec(h, 'sed -n "s/^initial-cluster: //p" /etc/etcd/etcd.conf.yml')).stdout.trim();
    const peers = (hosts: string[]) => hosts.map((h) => `${h}=https://${addressOf(h)}:2380`).join(',');
    expect(await initialCluster('h4')).toBe(peers([...oldMembers, 'h4']));
    expect(await initialCluster('h5')).toBe(peers([...oldMembers, ...newMembers]));
    for (const h of oldMembers) expect(byName[h]?.alreadyDone).toBe(true);
    expect(report.members.map((m) => m.name).sort()).toEqual([...oldMembers, ...newMembers]);
    expect(report.clusterId).toBe(first.clusterId);
    const ids = (r: EtcdSetupReport) => Object.fromEntries(r.members.map((m) => [m.name, m.id]));
    for (const h of oldMembers) expect(ids(report)[h]).toBe(ids(first)[h]);

    // One at a time: h5's member add (its configureEtcd) began only after h4 ran as a started member.
    const entries = readActivityLog(await readFile(log, 'utf8'));
    const at = (event: string, type: string, host: string) =>
      entries.filter((e) => e.event === event && e.activityType === type && e.subject === host).map((e) => e.ts);
    const h4Started = at('complete', 'waitEtcdMemberStarted', 'h4');
    const h5Configure = at('start', 'configureEtcd', 'h5');
    expect(h4Started).toHaveLength(1);
    expect(h5Configure.length).toBeGreaterThan(0);
    expect(h5Configure.every((t) => t > h4Started[0]!)).toBe(true);
    // Nothing ran on the old members.
    expect(entries.filter((e) => e.subject && oldMembers.includes(e.subject))).toEqual([]);

    // Independent view: five healthy members, the old key served by each new member from its own store.
    const health = JSON.parse(
      await operatorEtcdctl(oldMembers.map(endpointOf), clientDir, ['endpoint', 'health', '--cluster']),
    ) as { health: boolean }[];
    expect(health.map((e) => e.health)).toEqual([true, true, true, true, true]);
    for (const h of newMembers) expect(await getOn(h, 'k2h-before-scale')).toBe('kept');
    // The old members were not restarted: same pid, same start time.
    expect(await Promise.all(oldMembers.map(etcdProcess))).toEqual(before);

    // And the next look at 5 hosts finds nothing to do.
    const again = await dryRun(five.file);
    expect(again.phases).toEqual([]);
  });

  it('5 → 3 is refused, naming them, while h2 and h3 are down: h1 alone would be no quorum of 3; nothing is removed', async () => {
    expect(first).toBeDefined();
    for (const h of ['h2', 'h3']) await suite.lab.exec(h, 'kill -TERM "$(cat /run/etcd.pid)"');
    await pollUntil(
      async () =>
        (await Promise.all(['h2', 'h3'].map((h) => suite.lab.exec(h, 'pgrep -x etcd', { allowFail: true })))).every(
          (r) => r.code !== 0,
        ),
      'etcd on h2 and h3 to stop',
      30_000,
    );
    await expect(dryRun(three.file)).rejects.toThrow(
      'removing etcd member(s) h4, h5 would leave 3 member(s) (h1, h2, h3) with 1 healthy, below the quorum of 2; bring h2, h3 back first',
    );
    const { report } = await setupEtcd(five.inventory, join(suite.scratch, 'restart.jsonl'));
    // The five-host run starts them again; nothing left the cluster.
    expect(report.members.map((m) => m.name).sort()).toEqual([...oldMembers, ...newMembers]);
    before = await Promise.all(oldMembers.map(etcdProcess));
  });

  it('5 → 3: after approval, h4 then h5 leave (member remove, quorum checked), stopped with their data kept; the rest serve on', async () => {
    expect(first).toBeDefined();
    const plan = await dryRun(three.file);
    expect(plan.phases.map((p) => [p.id, p.approval?.scope])).toEqual([['remove', 'phase']]);
    expect(hostPhases(plan)).toEqual([
      {
        id: 'remove',
        rollout: 'serial',
        hosts: newMembers.map((h) => [h, ['removeEtcdMember', 'stopRemovedEtcdMember', 'ensureEtcdHealthy']]),
      },
    ]);
    const members = async () =>
      (
        JSON.parse(await operatorEtcdctl(oldMembers.map(endpointOf), clientDir, ['member', 'list'])) as {
          members: { name: string }[];
        }
      ).members
        .map((m) => m.name)
        .sort();
    const log = join(suite.scratch, 'scale-in.jsonl');
    const { report, ms } = await setupEtcd(three.inventory, log, async (handle) => {
      // The run waits for the operator, and nothing has left yet.
      await pollUntil(
        async () =>
          (await handle.query(progressQuery)).waiting?.some((w) => w.kind === 'approve' && w.phase === 'remove'),
        'the removal to wait for approval',
        60_000,
      );
      expect(await members()).toEqual([...oldMembers, ...newMembers]);
      await handle.executeUpdate(approveUpdate, {
        args: [{ phase: 'remove', by: 'ops@test', reason: 'h4, h5 retired' }],
      });
    });
    process.stderr.write(`[etcd-scale] 5 → 3 members (approval answered at once): ${ms} ms\n`);
    expect(report.removed).toEqual(newMembers);
    expect(report.decisions).toMatchObject([{ kind: 'approve', phase: 'remove', by: 'ops@test' }]);
    expect(await members()).toEqual(oldMembers);

    // One at a time: h5's member remove began after h4's health gate passed.
    const entries = readActivityLog(await readFile(log, 'utf8'));
    const at = (event: string, type: string, host: string) =>
      entries.filter((e) => e.event === event && e.activityType === type && e.subject === host).map((e) => e.ts);
    const h4Gate = at('complete', 'ensureEtcdHealthy', 'h4').sort().at(-1)!;
    expect(at('start', 'removeEtcdMember', 'h5').every((t) => t > h4Gate)).toBe(true);
    for (const h of newMembers) {
      // Stopped, its data dir renamed (kept, never deleted), its config out of the way.
      expect((await suite.lab.exec(h, 'pgrep -x etcd || true')).stdout.trim()).toBe('');
      const dirs = (await suite.lab.exec(h, 'ls -d /var/lib/etcd* /etc/etcd/*')).stdout.trim().split('\n');
      expect(dirs.some((d) => /^\/var\/lib\/etcd\.removed-[0-9a-f]+$/.test(d))).toBe(true);
      expect(dirs).not.toContain('/var/lib/etcd');
      expect(dirs).not.toContain('/etc/etcd/etcd.conf.yml');
      expect((await suite.lab.exec(h, 'ls /var/lib/etcd.removed-*/member')).stdout).toContain('snap');
    }
    const health = JSON.parse(
      await operatorEtcdctl(oldMembers.map(endpointOf), clientDir, ['endpoint', 'health', '--cluster']),
    ) as { health: boolean }[];
    expect(health.map((e) => e.health)).toEqual([true, true, true]);
    for (const h of oldMembers) expect(await getOn(h, 'k2h-before-scale')).toBe('kept');
    // The old members were never restarted.
    expect(await Promise.all(oldMembers.map(etcdProcess))).toEqual(before);
    expect((await dryRun(three.file)).phases).toEqual([]);
  });
});
