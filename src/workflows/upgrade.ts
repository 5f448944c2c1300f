// upgradeCluster: the cluster to a newer Kubernetes version (issue 12), as the runbook planUpgrade builds from each
// node's facts, read here at the start of every run. So a rerun after a failure, a terminated run or a lost worker
// (`kubeadm2ha upgrade resume`) plans only the nodes not at the target yet and starts at the first of them; nothing
// upgraded is redone. Approvals, decisions (retry, skip a worker, roll a node back, abort) and undo come from the
// executor. The facts are read again at the end: the result says what every node runs afterwards.
import { ApplicationFailure, patched } from '@temporalio/workflow';
import { FailureType } from '../errors.js';
import type { Inventory } from '../inventory/schema.js';
import type { UpgradeFacts } from '../activities/node-upgrade.js';
import type { UpgradeImageFacts } from '../activities/upgrade-images.js';
import { stampOf } from '../plan/etcd-restore.js';
import type { OnFailure, Step } from '../plan/runbook.js';
import { nodes, primaryMaster, targetOf } from '../plan/topology.js';
import type { HostContext } from '../plan/types.js';
import { planUpgrade, type UpgradePlan } from '../plan/upgrade.js';
import { upgradeImageNeeds } from '../plan/upgrade-images.js';
import type { BatchSize } from '../plan/upgrade-policy.js';
import { activities } from './activity-options.js';
import { acceptInput } from './input.js';
import { runRunbook, type RunbookResult } from './runbook.js';

export interface UpgradeClusterInput {
  inventory: Inventory;
  /** Without the v, e.g. 1.34.12. */
  target: string;
  workerBatch?: BatchSize;
  approveEach?: boolean;
  /** Confirmed on the command line (--yes): no approval before the first change. */
  approved?: boolean;
  drainTimeoutSeconds?: number;
  healthTimeoutSeconds?: number;
  onFailure?: OnFailure;
}

export interface UpgradeResult extends RunbookResult {
  target: string;
  /** Per node, before: what it ran and what the plan changed. */
  plan: UpgradePlan['nodes'];
  /** Per node, after: kubelet (API), kubeadm package, apiserver image. */
  after: {
    name: string;
    kubelet?: string;
    kubeadm?: string;
    apiserver?: string;
    ready?: boolean;
    cordoned?: boolean;
  }[];
}

/** Every node's and the cluster's state, as the planner takes it. */
export async function readFacts(inv: Inventory, target?: string): Promise<UpgradeFacts> {
  const ctx = (t: HostContext['target']): HostContext => ({ target: t, ssh: inv.ssh });
  return activities.install.readUpgradeFacts({
    hosts: nodes(inv).map((h) => ctx(targetOf(h))),
    primary: ctx(targetOf(primaryMaster(inv))),
    ...(target && { target }),
  });
}

/** Where the target's images are: each node's containerd, then the registry for what a node lacks. */
export async function readImages(inv: Inventory, target: string): Promise<UpgradeImageFacts> {
  const needs = upgradeImageNeeds(inv, target);
  if ('unchecked' in needs) return { images: [], unchecked: needs.unchecked };
  return activities.install.readUpgradeImages(needs.input);
}

/**
 * patched() ids: each names a change of this workflow's command sequence made while runs may be in flight. An upgrade
 * can wait days at its approval; the worker that picks it up again replays its history through today's code, where
 * a new command before the waiting point would not match what the history recorded (a determinism error, the run
 * stuck). Such a run replays with patched() false and keeps its old path; runs started since take the new one.
 * Remove an id (and its old path) only once no run started before it can still be running.
 */
export const UPGRADE_PATCHES = {
  /** The target's images checked on the nodes and in the registry before the plan (issue 12 item 1). */
  imageCheck: 'upgrade-image-check',
  /** The node repairs before `kubeadm upgrade apply|node`: containerd's sandbox image set to the target's pause, the
   * CRI socket annotation written where a join left it out (new steps in every node's run). */
  nodeRepairs: 'upgrade-node-repairs',
} as const;

function describe(step: Step, result: unknown): string | undefined {
  const r = (result ?? {}) as Record<string, unknown>;
  switch (step.id) {
    case 'installKubePackages':
      return r.installed ? 'installed' : 'already installed';
    case 'kubeadmUpgradeApply':
    case 'kubeadmUpgradeNode':
      return typeof r.durationMs === 'number' ? `${Math.round(r.durationMs / 100) / 10} s` : undefined;
    case 'drainNode':
      return typeof r.ms === 'number' ? `drained in ${Math.round(r.ms / 100) / 10} s` : undefined;
    case 'waitNodeUpgraded':
      return `kubelet ${String(r.kubeletVersion)}, Ready`;
    case 'setSandboxImage':
      return r.changed ? `set, containerd ${String(r.action)}` : 'already set';
    case 'ensureCriSocket':
      return r.state === 'annotated' ? 'annotation written' : `already recorded (${String(r.state)})`;
    case 'saveEtcdSnapshot':
      return typeof r.path === 'string' ? r.path : undefined;
    default:
      if (Array.isArray(r.changed)) return r.changed.length > 0 ? `changed ${r.changed.length}` : 'unchanged';
      return undefined;
  }
}

export async function upgradeCluster(raw: UpgradeClusterInput): Promise<UpgradeResult> {
  const input = acceptInput('upgradeCluster', raw);
  const inv = input.inventory;
  const facts = await readFacts(inv, input.target);
  if (patched(UPGRADE_PATCHES.imageCheck)) facts.images = await readImages(inv, input.target);
  const nodeRepairs = patched(UPGRADE_PATCHES.nodeRepairs);
  const plan = planUpgrade(inv, facts, { ...input, stamp: stampOf(new Date()), nodeRepairs });
  if (!plan.policy.allowed) {
    throw ApplicationFailure.nonRetryable(
      `upgrade to ${plan.policy.target} refused: ${plan.policy.problems.join('; ')}`,
      FailureType.InvalidInput,
    );
  }
  const runbook = { ...plan.runbook, onFailure: input.onFailure ?? plan.runbook.onFailure };
  const result = await runRunbook(runbook, { describe });
  const end = await readFacts(inv);
  return {
    ...result,
    target: plan.policy.target,
    plan: plan.nodes,
    after: nodes(inv).map((h) => {
      const api = end.nodes?.find((n) => n.name === h.name);
      const f = end.hosts.find((x) => x.name === h.name);
      const apiserver = f?.staticPods['kube-apiserver']?.version;
      return {
        name: h.name,
        ...(api && { kubelet: api.kubeletVersion, ready: api.ready, cordoned: api.cordoned }),
        ...(f?.versions.kubeadm && { kubeadm: f.versions.kubeadm }),
        ...(apiserver && { apiserver }),
      };
    }),
  };
}
