// The drain and uncordon steps of a runbook (an upgrade's per-node chain: drain → upgrade → uncordon), in one place
// so every planner drains the same way: a deadline, and uncordon as the drain's undo (an abort uncordons every node
// this run drained). Pure and workflow-safe.
import type { Step } from './runbook.js';
import type { HostContext } from './types.js';

export interface DrainStepOptions {
  /** The master kubectl runs on. */
  via: HostContext;
  cluster: string;
  node: string;
  /** How long evictions may take before the drain gives up and asks. */
  timeoutSeconds: number;
}

/** Cordon and drain `node`; its undo uncordons. */
export function drainStep(o: DrainStepOptions): Step {
  const target = { via: o.via, cluster: o.cluster, node: o.node };
  return {
    id: 'drainNode',
    title: `drain ${o.node} (deadline ${o.timeoutSeconds} s, PodDisruptionBudgets honoured)`,
    class: 'wait',
    args: { ...target, timeoutSeconds: o.timeoutSeconds },
    undo: { id: 'uncordonNode', args: target },
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
