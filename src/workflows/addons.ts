// manageAddon: apply or remove one addon (src/plan/addons.ts builds the runbook; the one executor runs it, with its
// progress, decision gate and history). Every step is idempotent: a second apply writes nothing, a second remove
// finds no record and deletes nothing.
import { ApplicationFailure } from '@temporalio/workflow';
import { FailureType } from '../errors.js';
import type { Inventory } from '../inventory/schema.js';
import { AddonPlanError, planAddon, type AddonAction } from '../plan/addons.js';
import type { OnFailure, Step } from '../plan/runbook.js';
import { acceptInput } from './input.js';
import { runRunbook, type RunbookResult } from './runbook.js';

export interface ManageAddonInput {
  inventory: Inventory;
  addon: string;
  action: AddonAction;
  /** Wait for the rollout after apply (default true). */
  wait?: boolean;
  timeoutSeconds?: number;
  /** remove: delete the addon's stored data on the nodes too (the logging store's days); buffers always go. */
  deleteData?: boolean;
  onFailure?: OnFailure;
}

function describe(step: Step, result: unknown): string | undefined {
  const r = (result ?? {}) as Record<string, unknown>;
  const n = (k: string) => (Array.isArray(r[k]) ? (r[k] as unknown[]).length : 0);
  switch (step.id) {
    case 'applyAddonObjects':
      return n('created') + n('updated') + n('pruned') === 0
        ? `${n('objects')} objects, unchanged`
        : `${n('created')} created, ${n('updated')} updated, ${n('pruned')} pruned`;
    case 'waitAddonReady':
      return `${n('ready')} ready`;
    case 'removeAddonObjects': {
      if (!r.recorded) return 'not installed';
      const skipped = r.skipped as { objects: string[]; kinds: string[] } | undefined;
      // A remove interrupted after the CRDs went: their objects went with them.
      return skipped
        ? `${n('deleted')} deleted; ${skipped.objects.length} skipped, gone with their CRD (kind no longer served: ${skipped.kinds.join(', ')})`
        : `${n('deleted')} deleted`;
    }
    case 'removeAddonHostPaths':
      return n('removed') ? `${n('removed')} directories deleted` : 'no directories';
    default:
      return undefined;
  }
}

export async function manageAddon(raw: ManageAddonInput): Promise<RunbookResult> {
  const input = acceptInput('manageAddon', raw);
  let runbook;
  try {
    runbook = planAddon(input.inventory, input.addon, input.action, {
      ...(input.onFailure && { onFailure: input.onFailure }),
      ...(input.wait !== undefined && { wait: input.wait }),
      ...(input.timeoutSeconds !== undefined && { timeoutSeconds: input.timeoutSeconds }),
      ...(input.deleteData !== undefined && { deleteData: input.deleteData }),
    });
  } catch (err) {
    // A retired addon (the CLI refuses it first): a plain Error would fail the workflow task, retried forever.
    if (err instanceof AddonPlanError) throw ApplicationFailure.nonRetryable(err.message, FailureType.InvalidInput);
    throw err;
  }
  return runRunbook(runbook, { describe });
}
