// Which PodDisruptionBudgets keep which pods on a node that a drain could not empty: the words of the DrainBlocked
// failure, so the person at the decision gate sees what holds the node ("default/web: minAvailable 2, 2 healthy, 0
// disruptions allowed — pods default/web-1") instead of kubectl's retry log. Pure: it reads the JSON of
// `kubectl get pods` and `kubectl get pdb`, and matches label selectors the way the API server does.

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

/** The fields of a Pod this module reads. */
export interface PodObject {
  metadata: {
    name: string;
    namespace: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { kind: string; name: string }[];
  };
  status?: { phase?: string };
}

/** The fields of a PodDisruptionBudget this module reads. */
export interface PdbObject {
  metadata: { name: string; namespace: string };
  spec: { selector?: LabelSelector; minAvailable?: number | string; maxUnavailable?: number | string };
  status?: { disruptionsAllowed?: number; currentHealthy?: number; desiredHealthy?: number; expectedPods?: number };
}

export interface BlockingBudget {
  /** namespace/name */
  pdb: string;
  /** "minAvailable 2, 2 healthy, 0 disruptions allowed" */
  state: string;
  /** namespace/name of each pod on the node the budget covers. */
  pods: string[];
}

/** metav1.LabelSelectorAsSelector semantics: every matchLabels pair and every expression must hold; an empty
 * selector matches everything (a PDB with `selector: {}` covers every pod of its namespace). */
export function selectorMatches(sel: LabelSelector | undefined, labels: Record<string, string> = {}): boolean {
  if (!sel) return false; // a PDB without a selector selects nothing (policy/v1)
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const r of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, r.key);
    const inValues = has && (r.values ?? []).includes(labels[r.key]!);
    const ok =
      r.operator === 'In'
        ? inValues
        : r.operator === 'NotIn'
          ? !inValues
          : r.operator === 'Exists'
            ? has
            : r.operator === 'DoesNotExist'
              ? !has
              : false;
    if (!ok) return false;
  }
  return true;
}

/** Pods a drain must move: not owned by a DaemonSet (--ignore-daemonsets), not a static pod's mirror, not finished. */
export function podsToMove(pods: PodObject[]): PodObject[] {
  return pods.filter(
    (p) =>
      !(p.metadata.ownerReferences ?? []).some((o) => o.kind === 'DaemonSet') &&
      !Object.hasOwn(p.metadata.annotations ?? {}, 'kubernetes.io/config.mirror') &&
      p.status?.phase !== 'Succeeded' &&
      p.status?.phase !== 'Failed',
  );
}

const budgetState = (b: PdbObject): string => {
  const rule =
    b.spec.minAvailable !== undefined
      ? `minAvailable ${b.spec.minAvailable}`
      : b.spec.maxUnavailable !== undefined
        ? `maxUnavailable ${b.spec.maxUnavailable}`
        : 'no rule';
  const s = b.status ?? {};
  return `${rule}, ${s.currentHealthy ?? '?'} healthy of ${s.desiredHealthy ?? '?'} wanted, ${s.disruptionsAllowed ?? '?'} disruptions allowed`;
};

/**
 * The budgets that cover pods still on the node and allow no disruption now, each with those pods. With
 * `refused` (kubectl reported evictions refused for a budget during the drain), every budget covering a pod left
 * counts: it throttled the drain past its deadline even if it allows a disruption at this instant.
 */
export function blockingBudgets(podsOnNode: PodObject[], budgets: PdbObject[], refused = false): BlockingBudget[] {
  const left = podsToMove(podsOnNode);
  const out: BlockingBudget[] = [];
  for (const b of budgets) {
    if (!refused && (b.status?.disruptionsAllowed ?? 0) > 0) continue;
    const pods = left
      .filter(
        (p) => p.metadata.namespace === b.metadata.namespace && selectorMatches(b.spec.selector, p.metadata.labels),
      )
      .map((p) => `${p.metadata.namespace}/${p.metadata.name}`)
      .sort();
    if (pods.length) out.push({ pdb: `${b.metadata.namespace}/${b.metadata.name}`, state: budgetState(b), pods });
  }
  return out.sort((a, b) => (a.pdb < b.pdb ? -1 : 1));
}

/** One line for the failure message and the decision gate. */
export function describeBlocking(node: string, blocking: BlockingBudget[]): string {
  return (
    `drain of ${node} blocked by PodDisruptionBudget${blocking.length > 1 ? 's' : ''} ` +
    blocking.map((b) => `${b.pdb} (${b.state}; pods ${b.pods.join(', ')})`).join('; ')
  );
}
