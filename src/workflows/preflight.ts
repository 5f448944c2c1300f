// preflightCluster: the "Before you begin" list and kubeadm's own preflight, on every host at once, read-only.
// Runbook: plan the checks per role → run each host's checks in order (hosts in parallel, bounded) → compare
// identities across hosts → report. A host that cannot be reached gets its remaining checks marked skipped
// rather than failing the whole run: the report is the product.
import { crossHostChecks, planPreflight, summarize } from '../plan/preflight.js';
import type { CheckResult, PreflightInput, PreflightReport } from '../plan/types.js';
import { forEachLimited } from './concurrency.js';
import { failureMessage, failureType, hostLevelFailures } from './failure-info.js';
import { checkActivities } from './activity-options.js';
import { acceptInput } from './input.js';
import { beginOperation } from './operation.js';

const { runPreflightCheck } = checkActivities;

export async function preflightCluster(input: PreflightInput): Promise<PreflightReport> {
  const { inventory } = acceptInput('preflightCluster', input);
  const plan = planPreflight(inventory);
  const progress = beginOperation('preflight', 'preflight', plan);
  const results: CheckResult[] = [];

  progress.phase('checking hosts');
  await forEachLimited(plan.hosts, inventory.ssh.maxConcurrency, async ({ target, steps }) => {
    for (const check of steps) {
      progress.set(target.name, check.id, 'running');
      try {
        const r = await runPreflightCheck({ host: { target, ssh: inventory.ssh }, check });
        results.push(r);
        progress.set(
          target.name,
          check.id,
          r.status === 'pass' ? 'done' : r.status === 'warn' ? 'warn' : 'failed',
          r.message,
        );
      } catch (err) {
        const message = failureMessage(err);
        results.push({ host: target.name, check: check.id, status: 'fail', message });
        progress.set(target.name, check.id, 'failed', message);
        if (hostLevelFailures.includes(failureType(err) ?? '')) {
          progress.skipRemaining(target.name, 'host not reachable');
          return;
        }
      }
    }
  });

  progress.phase('comparing hosts');
  results.push(...crossHostChecks(results));
  // Report in inventory order, then plan order, whatever order the hosts finished in.
  const order = new Map(
    plan.hosts.flatMap((h, i) => h.steps.map((s, j) => [`${h.target.name}/${s.id}`, i * 1000 + j])),
  );
  const rank = (r: CheckResult) => order.get(`${r.host}/${r.check}`) ?? Number.MAX_SAFE_INTEGER;
  results.sort((a, b) => rank(a) - rank(b));
  const summary = summarize(results);
  progress.finish();
  return { cluster: plan.cluster, results, summary, ok: summary.fail === 0 };
}
