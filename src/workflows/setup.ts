// setupCluster: an HA cluster from bare hosts (the seed's cluster-setup.yaml + cluster-load-balanced.yaml), as the
// runbook planSetup builds from the inventory and the one executor runs: progress, decisions on failure (retry;
// skip for workers; abort), approvals and undo come from there. Every step is idempotent, so a rerun of a finished
// setup checks each host and changes nothing, and a rerun after a failure picks up where it stopped.
import type { Inventory } from '../inventory/schema.js';
import type { OnFailure, Step } from '../plan/runbook.js';
import { planSetup } from '../plan/setup.js';
import { acceptInput } from './input.js';
import { runRunbook, type RunbookResult } from './runbook.js';

export interface SetupClusterInput {
  inventory: Inventory;
  /** A step that fails for good: wait at the decide gate (default) or abort the run (scripts). */
  onFailure?: OnFailure;
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
    case 'waitNodesReady':
      return `${(r.ready as string[] | undefined)?.length ?? 0} nodes Ready`;
    default:
      if (Array.isArray(r.changed)) return r.changed.length > 0 ? `changed ${r.changed.length}` : 'unchanged';
      return undefined;
  }
}

export async function setupCluster(raw: SetupClusterInput): Promise<RunbookResult> {
  const { inventory, onFailure } = acceptInput('setupCluster', raw);
  return runRunbook({ ...planSetup(inventory), ...(onFailure && { onFailure }) }, { describe });
}
