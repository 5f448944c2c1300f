// Which PodDisruptionBudgets hold which pods after a failed drain (src/plan/disruption-budgets.ts): label selectors
// as the API server matches them, the pods a drain moves, and the message the decision gate shows.
import { describe, expect, it } from 'vitest';
import {
  blockingBudgets,
  describeBlocking,
  podsToMove,
  selectorMatches,
  type PdbObject,
  type PodObject,
} from '../../../src/plan/disruption-budgets.js';

const pod = (name: string, labels: Record<string, string>, extra: Partial<PodObject['metadata']> = {}): PodObject => ({
  metadata: { name, namespace: 'default', labels, ...extra },
  status: { phase: 'Running' },
});
const pdb = (name: string, selector: PdbObject['spec']['selector'], allowed: number): PdbObject => ({
  metadata: { name, namespace: 'default' },
  spec: { selector, minAvailable: 2 },
  status: { disruptionsAllowed: allowed, currentHealthy: 2, desiredHealthy: 2 },
});

describe('label selectors', () => {
  it('matchLabels and every matchExpressions operator; an empty selector matches all, a missing one none', () => {
    const l = { app: 'web', tier: 'front' };
    expect(selectorMatches({ matchLabels: { app: 'web' } }, l)).toBe(true);
    expect(selectorMatches({ matchLabels: { app: 'db' } }, l)).toBe(false);
    expect(selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['front'] }] }, l)).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['front'] }] }, l)).toBe(
      false,
    );
    expect(selectorMatches({ matchExpressions: [{ key: 'x', operator: 'NotIn', values: ['a'] }] }, l)).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: 'app', operator: 'Exists' }] }, l)).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, l)).toBe(false);
    expect(selectorMatches({}, l)).toBe(true);
    expect(selectorMatches(undefined, l)).toBe(false);
  });
});

describe('blocking budgets', () => {
  it('leaves DaemonSet pods, static pods and finished pods out of what a drain must move', () => {
    const pods = [
      pod('web-1', { app: 'web' }),
      pod('proxy', { app: 'p' }, { ownerReferences: [{ kind: 'DaemonSet', name: 'kube-proxy' }] }),
      pod('apiserver-h1', {}, { annotations: { 'kubernetes.io/config.mirror': 'x' } }),
      { ...pod('job-1', {}), status: { phase: 'Succeeded' } },
    ];
    expect(podsToMove(pods).map((p) => p.metadata.name)).toEqual(['web-1']);
  });
  it('names each budget that allows no disruption with its pods on the node; other budgets and namespaces are not', () => {
    const pods = [pod('web-2', { app: 'web' }), pod('web-1', { app: 'web' }), pod('db-1', { app: 'db' })];
    const other = { ...pdb('web', { matchLabels: { app: 'web' } }, 0), metadata: { name: 'web', namespace: 'x' } };
    const blocking = blockingBudgets(pods, [
      pdb('web', { matchLabels: { app: 'web' } }, 0),
      pdb('db', { matchLabels: { app: 'db' } }, 1),
      other,
    ]);
    expect(blocking).toEqual([
      {
        pdb: 'default/web',
        state: 'minAvailable 2, 2 healthy of 2 wanted, 0 disruptions allowed',
        pods: ['default/web-1', 'default/web-2'],
      },
    ]);
    // kubectl said evictions were refused: a budget that allows one disruption right now still held the drain.
    expect(blockingBudgets(pods, [pdb('db', { matchLabels: { app: 'db' } }, 1)], true)).toMatchObject([
      { pdb: 'default/db', pods: ['default/db-1'] },
    ]);
    expect(describeBlocking('w1', blocking)).toBe(
      'drain of w1 blocked by PodDisruptionBudget default/web (minAvailable 2, 2 healthy of 2 wanted, 0 disruptions allowed; pods default/web-1, default/web-2)',
    );
  });
});
