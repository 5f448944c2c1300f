// Reading an upgrade run's result in the lab tests: how long each node took.
import type { UpgradeResult } from '../../src/workflows/upgrade.js';

/** Per upgraded node: from the end of the step before its first to the end of its last (ms). Time a node waited at
 * a decision (and its rollback) counts in. */
export function perNode(r: UpgradeResult): Record<string, number> {
  const steps = r.steps.map((s) => ({ ...s, t: Date.parse(s.at) }));
  const out: Record<string, number> = {};
  for (const host of new Set(
    steps.filter((s) => ['first-master', 'masters', 'workers'].includes(s.phase)).map((s) => s.host),
  )) {
    const mine = steps.filter((s) => s.host === host && s.phase !== 'backup');
    const first = steps.indexOf(mine[0]!);
    const start = first > 0 ? steps[first - 1]!.t : mine[0]!.t;
    out[host] = mine[mine.length - 1]!.t - start;
  }
  return out;
}
