// How a run with many hosts is cut into child workflows so that no workflow history grows past what Temporal handles
// comfortably. Temporal suggests continue-as-new at 4,096 events, warns at 10,240 and stops a run at 51,200; a
// 5-host preflight records 291 events, so a 500-host phase in one workflow would record ~29,000. A phase with more
// hosts than fit one history runs as child workflows of a bounded number of hosts each: a child costs its parent a
// handful of events, and its own history holds only its hosts' steps. Pure and workflow-safe.

/** Events one child history may spend on its hosts' steps: under the 4,096 at which Temporal suggests continue-as-new. */
export const CHILD_EVENT_BUDGET = 3000;

/**
 * Worst-case events per activity call: scheduled, started, completed, and the workflow task (scheduled, started,
 * completed) that reacts to it when no other completion shares that task. Parallel hosts usually share tasks and
 * record fewer; the budget assumes none do.
 */
export const EVENTS_PER_STEP = 6;

/** Hosts that fit one history when each runs `stepsPerHost` steps (at least one host, however many steps). */
export function hostsPerHistory(stepsPerHost: number, budget = CHILD_EVENT_BUDGET): number {
  return Math.max(1, Math.floor(budget / (EVENTS_PER_STEP * Math.max(1, stepsPerHost))));
}

export interface ChildPlan<T> {
  /** One child workflow per chunk, in host order. */
  chunks: T[][];
  /** Hosts in flight inside one child: the rollout's limit, never more than its chunk. */
  limitPerChild: number;
  /** Children in flight at once, so that children × limitPerChild stays within the rollout's limit. */
  concurrentChildren: number;
}

/**
 * Children for one rollout batch (`items` at most `limit` at a time), or undefined when the batch fits the current
 * history (then it runs in the workflow itself, exactly as before child workflows existed: small runs and their
 * recorded histories are unchanged).
 */
export function childPlan<T>(items: T[], limit: number, perChild: number): ChildPlan<T> | undefined {
  if (items.length <= perChild) return undefined;
  const size = Math.max(1, perChild);
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  const limitPerChild = Math.max(1, Math.min(limit, size));
  return { chunks, limitPerChild, concurrentChildren: Math.max(1, Math.floor(limit / limitPerChild)) };
}
