// uninstallCluster: every host back to what a new setup starts from (the seed's cluster-uninstall.yaml), as the
// runbook planUninstall builds and the one executor runs. Each step checks before it acts, so a rerun after a
// failure or a finished uninstall finds nothing left and says so.
import type { UninstallResult } from '../activities/uninstall.js';
import type { Inventory } from '../inventory/schema.js';
import type { OnFailure, Step } from '../plan/runbook.js';
import { planUninstall } from '../plan/uninstall.js';
import { acceptInput } from './input.js';
import { runRunbook, type RunbookResult } from './runbook.js';

export interface UninstallClusterInput {
  inventory: Inventory;
  purgePackages?: boolean;
  onFailure?: OnFailure;
}

/** What went, as a count: the list itself is in the result. */
function describe(_step: Step, result: unknown): string | undefined {
  const removed = (result as UninstallResult | undefined)?.removed ?? [];
  return removed.length ? `removed ${removed.length}` : 'nothing left';
}

export async function uninstallCluster(raw: UninstallClusterInput): Promise<RunbookResult> {
  const { inventory, purgePackages, onFailure } = acceptInput('uninstallCluster', raw);
  return runRunbook(
    planUninstall(inventory, {
      ...(purgePackages !== undefined && { purgePackages }),
      ...(onFailure && { onFailure }),
    }),
    { describe },
  );
}
