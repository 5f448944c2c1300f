// snapshotEtcd: one etcd snapshot, taken on the first member that can, streamed to the operator's state dir and
// verified there. restoreEtcdSnapshot: etcd's disaster recovery for the external cluster: verify the file, stop
// every member, keep each data dir aside, restore per member with a new cluster token, start all, health gate.
// Both run on the shared runbook executor (src/plan/etcd-snapshot.ts planEtcdSnapshotRunbook, src/plan/etcd-restore.ts
// planEtcdRestoreRunbook): progress, the decision gate for a step that fails for good, the runbook query. Runs
// started before did finish on the code they started with (snapshotDirect behind patched(SNAPSHOT_ON_RUNBOOK),
// restoreStepByStep behind patched(RESTORE_ON_RUNBOOK)).
import { ApplicationFailure, patched } from '@temporalio/workflow';
import type { EtcdSnapshotResult, RestoreEtcdMemberResult } from '../activities/etcd-snapshot.js';
import type { EtcdHealth, EtcdHealthGate } from '../activities/etcd.js';
import { ONCE, type OnFailure, type Step } from '../plan/runbook.js';
import { FailureType, KubeadmHaError } from '../errors.js';
import type { Inventory } from '../inventory/schema.js';
import { planEtcdSetup, type EtcdMember } from '../plan/etcd.js';
import { planEtcdRestore, planEtcdRestoreRunbook, stampOf, type EtcdRestorePlan } from '../plan/etcd-restore.js';
import { planEtcdSnapshotRunbook } from '../plan/etcd-snapshot.js';
import type { HostContext } from '../plan/types.js';
import { activities, transferActivities } from './activity-options.js';
import { failureMessage } from './failure-info.js';
import { acceptInput } from './input.js';
import { beginOperation } from './operation.js';
import { resultOf, runRunbook } from './runbook.js';

const { quick: local, hostStep, wait: gate } = activities;
const transfer = transferActivities;

function invalid<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    // Bad input must end the run; a plain Error would fail the workflow task, which Temporal retries forever.
    if (err instanceof KubeadmHaError) throw ApplicationFailure.nonRetryable(err.message, err.type);
    throw err;
  }
}

const hostOf = (inventory: Inventory, target: HostContext['target']): HostContext => ({ target, ssh: inventory.ssh });

export interface SnapshotEtcdInput {
  inventory: Inventory;
  /** A snapshot no member could take: decide (default: wait for `kubeadm2ha decide`) or abort (fail the run). */
  onFailure?: OnFailure;
}

/** patched() id: the snapshot moved onto the runbook executor. */
export const SNAPSHOT_ON_RUNBOOK = 'etcd-snapshot-runbook';

function describeSnapshotStep(step: Step, result: unknown): string | undefined {
  if (step.id !== 'saveEtcdSnapshot') return undefined;
  const r = result as EtcdSnapshotResult;
  const skipped = r.skipped.map((s) => `${s.member} could not (${s.error})`);
  return [`${r.member}: ${r.size} bytes, revision ${r.revision}`, ...skipped].join('; ');
}

export async function snapshotEtcd(input: SnapshotEtcdInput): Promise<EtcdSnapshotResult> {
  const accepted = acceptInput('snapshotEtcd', input);
  if (!patched(SNAPSHOT_ON_RUNBOOK)) return snapshotDirect(accepted);
  const { inventory, onFailure } = accepted;
  const runbook = invalid(() => planEtcdSnapshotRunbook(inventory, stampOf(new Date()), onFailure));
  const run = await runRunbook(runbook, { describe: describeSnapshotStep });
  return resultOf<EtcdSnapshotResult>(run, ONCE, 'saveEtcdSnapshot')!;
}

/** The snapshot as it ran before the runbook executor took it over: only runs started then replay through it. */
async function snapshotDirect({ inventory }: SnapshotEtcdInput): Promise<EtcdSnapshotResult> {
  const p = invalid(() => planEtcdSetup(inventory));
  const progress = beginOperation('etcd', 'etcd snapshot', {
    cluster: p.cluster,
    kubernetesVersion: p.kubernetesVersion,
    hosts: p.members.map((m) => ({
      target: m.target,
      steps: [{ id: 'snapshot', title: 'snapshot saved and copied' }],
    })),
  });
  progress.phase('snapshot');
  const result = await transfer.saveEtcdSnapshot({
    cluster: p.cluster,
    members: p.members.map((m) => ({ host: hostOf(inventory, m.target), clientUrl: m.clientUrl })),
    tls: p.healthcheckClient,
    stamp: stampOf(new Date()),
  });
  for (const s of result.skipped) progress.set(s.member, 'snapshot', 'skipped', s.error);
  progress.set(result.member, 'snapshot', 'done', `${result.size} bytes, revision ${result.revision}`);
  progress.finish();
  return result;
}

export interface RestoreEtcdInput {
  inventory: Inventory;
  /** A file on the worker's machine (the operator's store); its sha256 is checked against `sha256` or its .sha256. */
  snapshot: { path: string; sha256?: string };
  /** How long the health gate waits. Default 120 s. */
  healthTimeoutSeconds?: number;
  /** A step that fails for good: decide (default: wait for `kubeadm2ha decide`) or abort (fail the run). */
  onFailure?: OnFailure;
}

export interface EtcdRestoreReport {
  cluster: string;
  snapshot: { path: string; size: number; sha256: string };
  initialClusterToken: string;
  /** Empty when the cluster was not healthy before the restore (the usual reason to restore). */
  previousClusterId: string;
  clusterId: string;
  members: EtcdMember[];
  hosts: RestoreEtcdMemberResult[];
}

/** patched() id: the restore moved onto the runbook executor. */
export const RESTORE_ON_RUNBOOK = 'etcd-restore-runbook';

function describeRestoreStep(step: Step, result: unknown): string | undefined {
  const r = (result ?? {}) as Record<string, unknown>;
  switch (step.id) {
    case 'verifyEtcdSnapshotFile':
      return `${String(r.size)} bytes, sha256 ${String(r.sha256).slice(0, 12)}…`;
    case 'waitEtcdHealthy':
      return r.healthy ? `healthy, cluster ${String(r.clusterId)}` : 'not healthy (the usual reason to restore)';
    case 'stopEtcdMember':
      return r.wasRunning ? 'stopped' : 'was not running';
    case 'restoreEtcdMember':
      return `${String(r.tool)}; previous data in ${String(r.previousDataDir)}`;
    case 'startEtcdMember':
      return r.started ? 'started' : 'was running';
    case 'waitEtcdRestored':
      return `cluster ${String((r.health as EtcdHealth | undefined)?.clusterId)}`;
    default:
      return undefined;
  }
}

export async function restoreEtcdSnapshot(input: RestoreEtcdInput): Promise<EtcdRestoreReport> {
  const accepted = acceptInput('restoreEtcdSnapshot', input);
  if (!patched(RESTORE_ON_RUNBOOK)) return restoreStepByStep(accepted);
  const { inventory, snapshot, healthTimeoutSeconds = 120, onFailure } = accepted;
  const p: EtcdRestorePlan = invalid(() => planEtcdRestore(inventory, stampOf(new Date())));
  const runbook = planEtcdRestoreRunbook(inventory, p, { snapshot, healthTimeoutSeconds, onFailure });
  const r = await runRunbook(runbook, { describe: describeRestoreStep });
  const result = <T>(step: string, host = ONCE): T =>
    r.steps.find((s) => s.step === step && s.host === host)?.result as T;
  const before = result<EtcdHealth>('waitEtcdHealthy');
  const gate = result<EtcdHealthGate>('waitEtcdRestored');
  return {
    cluster: p.cluster,
    snapshot: result<{ path: string; size: number; sha256: string }>('verifyEtcdSnapshotFile'),
    initialClusterToken: p.initialClusterToken,
    previousClusterId: before.healthy ? before.clusterId : '',
    clusterId: gate.health.clusterId,
    members: gate.health.members,
    hosts: p.members.map((m) => result<RestoreEtcdMemberResult>('restoreEtcdMember', m.target.name)),
  };
}

/** The restore as it ran before the runbook executor took it over: only runs started then replay through it. */
async function restoreStepByStep(accepted: RestoreEtcdInput): Promise<EtcdRestoreReport> {
  const { inventory, snapshot, healthTimeoutSeconds = 120 } = accepted;
  const p: EtcdRestorePlan = invalid(() => planEtcdRestore(inventory, stampOf(new Date())));
  const progress = beginOperation('etcd', 'etcd restore', p);
  const members = p.members.map((m) => ({ m, host: hostOf(inventory, m.target) }));
  const gateMembers = members.map(({ m, host }) => ({ host, plan: { clientUrl: m.clientUrl, peerUrl: m.peerUrl } }));

  progress.phase('verify snapshot');
  const file = await local.verifyEtcdSnapshotFile({
    path: snapshot.path,
    ...(snapshot.sha256 !== undefined && { sha256: snapshot.sha256 }),
  });
  const before = await gate.waitEtcdHealthy({ members: gateMembers, tls: p.healthcheckClient, timeoutSeconds: 5 });

  // Every member stops before any is restored: a running member would replicate the old data to restored ones.
  progress.phase('stop all members');
  await Promise.all(
    members.map(async ({ m, host }) => {
      progress.set(m.target.name, 'stop', 'running');
      const r = await hostStep.stopEtcdMember({ host });
      progress.set(m.target.name, 'stop', 'done', r.wasRunning ? 'stopped' : 'was not running');
    }),
  );

  progress.phase('restore each member');
  const hosts = await Promise.all(
    members.map(async ({ m, host }) => {
      progress.set(m.target.name, 'restore', 'running');
      try {
        const r = await transfer.restoreEtcdMember({
          host,
          snapshot: { path: file.path, sha256: file.sha256 },
          member: m.config,
          initialClusterToken: p.initialClusterToken,
          stamp: p.stamp,
        });
        progress.set(m.target.name, 'restore', 'done', `${r.tool}; previous data in ${r.previousDataDir}`);
        return r;
      } catch (err) {
        progress.set(m.target.name, 'restore', 'failed', failureMessage(err));
        throw err;
      }
    }),
  );

  progress.phase('start all members');
  await Promise.all(
    members.map(async ({ m, host }) => {
      progress.set(m.target.name, 'start', 'running');
      const r = await hostStep.startEtcdMember({ host });
      progress.set(m.target.name, 'start', 'done', r.started ? 'started' : 'was running');
    }),
  );

  progress.phase('health gate');
  let health = await gate.waitEtcdHealthy({
    members: gateMembers,
    tls: p.healthcheckClient,
    timeoutSeconds: healthTimeoutSeconds,
  });
  for (let round = 0; !health.healthy && health.down.length > 0 && round < 2; round++) {
    // A member that died at its first start (a slow peer, a port still held): start it and look again.
    for (const name of health.down) {
      const h = members.find((x) => x.m.target.name === name);
      if (h) await hostStep.startEtcdMember({ host: h.host });
    }
    health = await gate.waitEtcdHealthy({
      members: gateMembers,
      tls: p.healthcheckClient,
      timeoutSeconds: healthTimeoutSeconds,
    });
  }
  if (!health.healthy) {
    for (const u of health.unhealthy) progress.set(u.name, 'health', 'failed', u.error);
    throw ApplicationFailure.nonRetryable(
      `etcd is not healthy after the restore: ${health.unhealthy.map((u) => `${u.name} (${u.error})`).join(', ')}; ` +
        `each member's previous data dir is kept as ${p.members[0]?.previousDataDir ?? ''}`,
      FailureType.HostNotSuitable,
    );
  }
  for (const m of health.members) progress.set(m.name, 'health', 'done', `member ${m.id}, cluster ${health.clusterId}`);
  progress.finish();
  return {
    cluster: p.cluster,
    snapshot: file,
    initialClusterToken: p.initialClusterToken,
    previousClusterId: before.healthy ? before.clusterId : '',
    clusterId: health.clusterId,
    members: health.members,
    hosts,
  };
}
