// setupCluster: an HA cluster from bare hosts (the seed's cluster-setup.yaml + cluster-load-balanced.yaml), as the
// runbook planSetup builds from the inventory and the hosts' facts, and the one executor runs: progress, decisions
// on failure (retry; skip for workers; abort), approvals and undo come from there. The facts are read first, so a
// rerun of a finished setup plans nothing, and a rerun after a failure or a reset node plans only what is missing.
//
// Planned HERE, from the facts activity's result, not in the CLI: the result is in history, so the plan is
// deterministic on replay; a run started by anyone (CLI, Web UI, a schedule, `resume` after the worker was lost)
// plans from the hosts as they are when it starts, not from what a CLI saw minutes earlier; and the input stays
// the inventory, which the one-operation check compares. `setup --dry-run` reads the same facts with the same
// activity and calls the same planner.
import type { Inventory } from '../inventory/schema.js';
import type { OnFailure, Step } from '../plan/runbook.js';
import { planSetup, setupFactsRequest } from '../plan/setup.js';
import { patched } from '@temporalio/workflow';
import { readActivities } from './activity-options.js';
import { ETCD_JOIN_PHASE, ETCD_MEMBER_REMOVAL, invalid } from './etcd.js';
import { acceptInput } from './input.js';
import { runRunbook, type RunbookResult } from './runbook.js';

export interface SetupClusterInput {
  inventory: Inventory;
  /** A step that fails for good: wait at the decide gate (default) or abort the run (scripts). */
  onFailure?: OnFailure;
  /** etcd members the inventory no longer has are removed without waiting for `kubeadm2ha approve` (`--yes`). */
  approveRemoval?: boolean;
}

/** One progress line per step result: what changed, never a value from a host. */
function describe(step: Step, result: unknown): string | undefined {
  const r = (result ?? {}) as Record<string, unknown>;
  switch (step.id) {
    case 'kubeadmInit':
      return r.initialized ? 'initialised' : 'already initialised';
    case 'joinNode':
      return r.joined ? 'joined' : 'already a member';
    case 'installKubePackages':
      return r.installed ? 'installed' : 'already installed';
    case 'updateApiserverEtcdServers':
    case 'updateKubeadmEtcdEndpoints':
      return r.changed ? `was ${(r.before as string[] | undefined)?.length ?? 0} members` : 'already as planned';
    case 'removeEtcdMember':
      return r.removed ? `removed, ${r.members as number} members left` : 'already gone';
    case 'stopRemovedEtcdMember':
      return `${r.stopped ? 'stopped' : 'not running'}${r.dataDir ? `, data kept in ${r.dataDir as string}` : ''}`;
    case 'waitApiserverReady':
      return `ready after ${Math.round(((r.elapsedMs as number | undefined) ?? 0) / 1000)} s`;
    case 'waitNodesReady':
      return `${(r.ready as string[] | undefined)?.length ?? 0} nodes Ready`;
    default:
      if (Array.isArray(r.changed)) return r.changed.length > 0 ? `changed ${r.changed.length}` : 'unchanged';
      return undefined;
  }
}

/** patched() id: setup plans kubeadm-config's etcd endpoints and the masters' --etcd-servers from the facts. */
export const SETUP_APISERVER_ETCD = 'setup-apiserver-etcd';

export async function setupCluster(raw: SetupClusterInput): Promise<RunbookResult> {
  const { inventory, onFailure, approveRemoval } = acceptInput('setupCluster', raw);
  const facts = await readActivities.readSetupFacts(setupFactsRequest(inventory));
  const joinPhase = patched(ETCD_JOIN_PHASE);
  const apiserverEtcd = patched(SETUP_APISERVER_ETCD);
  const removal = patched(ETCD_MEMBER_REMOVAL);
  const o = { joinPhase, apiserverEtcd, removal, ...(approveRemoval && { approveRemoval }) };
  return runRunbook(
    { ...invalid(() => planSetup(inventory, facts, o)), ...(onFailure && { onFailure }) },
    { describe },
  );
}
