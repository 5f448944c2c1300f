// An etcd restore as a plan: which members, what each gets (name, peer URL, initial cluster, the new token), where
// each data dir is kept; and as the runbook the restoreEtcdSnapshot workflow executes (planEtcdRestoreRunbook).
// Pure: `etcd restore --dry-run` prints it.
import type { Inventory } from '../inventory/schema.js';
import { planEtcdSetup, type EtcdClientTls, type EtcdMemberPlan } from './etcd.js';
import { runbookFor, step, type HostRun, type OnFailure, type Runbook, type Step } from './runbook.js';
import type { HostPlan } from './types.js';

export type EtcdRestoreStepId = 'stop' | 'restore' | 'start' | 'health';

export interface EtcdRestoreMember extends EtcdMemberPlan {
  /** The member's data dir before the restore, kept under this name. */
  previousDataDir: string;
}

export interface EtcdRestorePlan {
  cluster: string;
  kubernetesVersion: string;
  stamp: string;
  /** New per restore: etcd's recovery guide restores into a new cluster, which must not match the old one. */
  initialClusterToken: string;
  members: EtcdRestoreMember[];
  healthcheckClient: EtcdClientTls;
  hosts: HostPlan<{ id: EtcdRestoreStepId; title: string }>[];
}

const steps: { id: EtcdRestoreStepId; title: string }[] = [
  { id: 'stop', title: 'etcd stopped (all members before any restore)' },
  { id: 'restore', title: 'data dir kept aside, snapshot restored' },
  { id: 'start', title: 'etcd started' },
  { id: 'health', title: 'member healthy in the new cluster' },
];

/** `Date` → `20261202T173501Z`: sortable, no colons (it becomes part of file names). */
export function stampOf(d: Date): string {
  return d
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/[-:]/g, '');
}

export function planEtcdRestore(inv: Inventory, stamp: string): EtcdRestorePlan {
  const setup = planEtcdSetup(inv);
  return {
    cluster: setup.cluster,
    kubernetesVersion: setup.kubernetesVersion,
    stamp,
    initialClusterToken: `${setup.cluster}-etcd-restore-${stamp.toLowerCase()}`,
    members: setup.members.map((m) => ({ ...m, previousDataDir: `${m.config.dataDir}.before-restore-${stamp}` })),
    healthcheckClient: setup.healthcheckClient,
    hosts: setup.members.map((m) => ({ target: m.target, steps })),
  };
}

export function describeEtcdRestorePlan(plan: EtcdRestorePlan, snapshot: string): string[] {
  return [
    `restore ${snapshot} into etcd of cluster ${plan.cluster}: stop all ${plan.members.length} member(s), ` +
      `restore each, start all, health gate`,
    `new initial-cluster-token: ${plan.initialClusterToken}`,
    `initial cluster: ${plan.members[0]?.config.initialCluster ?? ''}`,
    ...plan.members.map(
      (m) =>
        `${m.target.name}: ${m.config.dataDir} kept as ${m.previousDataDir}; restored as ${m.config.name} (${m.peerUrl})`,
    ),
  ];
}

export interface EtcdRestoreRunbookOptions {
  /** A file on the worker's machine and, when given, the checksum it must have (else its .sha256 beside it). */
  snapshot: { path: string; sha256?: string | undefined };
  healthTimeoutSeconds: number;
  onFailure?: OnFailure | undefined;
}

/** Looks the health gate takes, starting members found down in between. */
export const RESTORE_HEALTH_ROUNDS = 3;

/**
 * The restore on the runbook executor: the file checked and the cluster looked at (once), every member stopped before
 * any is restored (a running member would replicate the old data to restored ones), each restored from the checked
 * file (its path and checksum bound from the check's result), all started, then the health gate. A step that fails
 * for good parks the run for a decision (retry) unless onFailure is abort; nothing is undone by an abort: each
 * member's previous data dir stays beside its data dir.
 */
export function planEtcdRestoreRunbook(inv: Inventory, p: EtcdRestorePlan, o: EtcdRestoreRunbookOptions): Runbook {
  const host = (m: EtcdRestoreMember) => ({ target: m.target, ssh: inv.ssh });
  const members = p.members.map((m) => ({ host: host(m), plan: { clientUrl: m.clientUrl, peerUrl: m.peerUrl } }));
  const each = (stepOf: (m: EtcdRestoreMember) => Step): HostRun[] =>
    p.members.map((m) => ({ target: m.target, steps: [stepOf(m)], maySkip: false }));
  const file = { from: 'verifyEtcdSnapshotFile' as const };
  const runbook = runbookFor('etcd', `etcd restore of ${p.cluster}`, inv, o.onFailure, [
    {
      id: 'verify',
      title: 'the snapshot checked, the cluster looked at',
      kind: 'once',
      steps: [
        step('verifyEtcdSnapshotFile', `${o.snapshot.path}: sha256 checked`, 'quick', {
          path: o.snapshot.path,
          ...(o.snapshot.sha256 !== undefined && { sha256: o.snapshot.sha256 }),
        }),
        step('waitEtcdHealthy', 'the cluster before the restore (a 5 s look)', 'wait', {
          members,
          tls: p.healthcheckClient,
          timeoutSeconds: 5,
        }),
      ],
    },
    {
      id: 'stop',
      title: 'stop all members before any restore',
      kind: 'hosts',
      rollout: { kind: 'parallel' },
      hosts: each(() => step('stopEtcdMember', 'etcd stopped', 'hostStep', {})),
    },
    {
      id: 'restore',
      title: 'restore each member',
      kind: 'hosts',
      rollout: { kind: 'parallel' },
      hosts: each((m) =>
        step(
          'restoreEtcdMember',
          `${m.config.dataDir} kept as ${m.previousDataDir}, snapshot restored`,
          'transfer',
          { member: m.config, initialClusterToken: p.initialClusterToken, stamp: p.stamp },
          {
            bind: { snapshot: { record: { path: { ...file, field: 'path' }, sha256: { ...file, field: 'sha256' } } } },
          },
        ),
      ),
    },
    {
      id: 'start',
      title: 'start all members',
      kind: 'hosts',
      rollout: { kind: 'parallel' },
      hosts: each(() => step('startEtcdMember', 'etcd started', 'hostStep', {})),
    },
    {
      id: 'health',
      title: 'health gate',
      kind: 'once',
      steps: [
        step('waitEtcdRestored', 'every member healthy in the new cluster', 'wait', {
          members,
          tls: p.healthcheckClient,
          timeoutSeconds: o.healthTimeoutSeconds,
          rounds: RESTORE_HEALTH_ROUNDS,
        }),
      ],
    },
  ]);
  return { ...runbook, kubernetesVersion: p.kubernetesVersion };
}
