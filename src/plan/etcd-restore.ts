// An etcd restore as a plan: which members, what each gets (name, peer URL, initial cluster, the new token), where
// each data dir is kept. Pure: `etcd restore --dry-run` prints it and the restoreEtcdSnapshot workflow runs it.
import type { Inventory } from '../inventory/schema.js';
import { planEtcdSetup, type EtcdClientTls, type EtcdMemberPlan } from './etcd.js';
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
