// The drain and uncordon steps of a runbook (an upgrade's per-node chain: drain → upgrade → uncordon), in one place
// so every planner offers the same decisions when a PodDisruptionBudget blocks a drain:
//   retry                      drain again with the same deadline (the budget may allow it by then);
//   retry --option wait-longer  drain again with four times the deadline (pods replaced elsewhere get Ready);
//   retry --option evict-anyway delete the pods (kubectl drain --disable-eviction): the budgets are NOT honoured;
//   skip                       leave the node out (workers only): the failed drain already uncordoned it;
//   abort                      the run's undo list runs, which uncordons every node this run drained.
// Pure and workflow-safe.
import { FailureType } from '../errors.js';
import type { Step } from './runbook.js';
import type { HostContext } from './types.js';

export const EVICT_ANYWAY = 'evict-anyway';
export const WAIT_LONGER = 'wait-longer';

export interface DrainStepOptions {
  /** The master kubectl runs on. */
  via: HostContext;
  cluster: string;
  node: string;
  /** How long evictions may take before the drain gives up and asks. */
  timeoutSeconds: number;
}

/** Cordon and drain `node`, with `evict-anyway` offered when budgets block it; its undo uncordons. */
export function drainStep(o: DrainStepOptions): Step {
  const target = { via: o.via, cluster: o.cluster, node: o.node };
  return {
    id: 'drainNode',
    title: `drain ${o.node} (deadline ${o.timeoutSeconds} s, PodDisruptionBudgets honoured)`,
    class: 'wait',
    args: { ...target, timeoutSeconds: o.timeoutSeconds },
    undo: { id: 'uncordonNode', args: target },
    retryOptions: [
      {
        name: WAIT_LONGER,
        title: `drain again, waiting up to ${o.timeoutSeconds * 4} s for the budgets`,
        whenFailure: FailureType.DrainBlocked,
        args: { timeoutSeconds: o.timeoutSeconds * 4 },
      },
      {
        name: EVICT_ANYWAY,
        title: 'delete the pods without eviction: their PodDisruptionBudgets are not honoured',
        whenFailure: FailureType.DrainBlocked,
        args: { disableEviction: true },
      },
    ],
  };
}

/** Make `node` schedulable again (idempotent). */
export function uncordonStep(o: Omit<DrainStepOptions, 'timeoutSeconds'>): Step {
  return {
    id: 'uncordonNode',
    title: `uncordon ${o.node}`,
    class: 'hostStep',
    args: { via: o.via, cluster: o.cluster, node: o.node },
  };
}
