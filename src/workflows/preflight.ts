// preflightCluster: the "Before you begin" list and kubeadm's own preflight, on every host at once, read-only.
// Runbook: plan the checks per role → run each host's checks in order (hosts in parallel, bounded) → compare
// identities across hosts → report. A host that cannot be reached gets its remaining checks marked skipped
// rather than failing the whole run: the report is the product.
//
// More hosts than fit one history (src/plan/scale.ts) are checked by `preflightHosts` child workflows, a batch of
// hosts each; the run keeps the cross-host comparison and the report.
import { ApplicationFailure, executeChild, patched, workflowInfo } from '@temporalio/workflow';
import { isUnencrypted } from '../codec/unencrypted.js';
import { WORKFLOW_TASK_TIMEOUT } from '../temporal/workflow-start.js';
import { FailureType } from '../errors.js';
import type { SshSettings } from '../inventory/schema.js';
import { crossHostChecks, planPreflight, summarize } from '../plan/preflight.js';
import { childPlan, hostsPerHistory } from '../plan/scale.js';
import type {
  CheckResult,
  CheckSpec,
  HostPlan,
  HostTarget,
  PreflightInput,
  PreflightReport,
  Progress,
} from '../plan/types.js';
import { forEachLimited } from './concurrency.js';
import { failureMessage, failureType, hostLevelFailures } from './failure-info.js';
import { checkActivities, localCheckActivities } from './activity-options.js';
import { acceptInput } from './input.js';
import { beginOperation, trackProgress } from './operation.js';
import type { ProgressTracker } from './progress.js';

const { runPreflightCheck } = checkActivities;

/** What a `preflightHosts` child checks: its batch of the plan's hosts, at most `limit` at once. */
export interface PreflightHostsInput {
  cluster: string;
  kubernetesVersion: string;
  hosts: HostPlan<CheckSpec>[];
  ssh: SshSettings;
  limit: number;
}

export interface PreflightHostsResult {
  results: CheckResult[];
  hosts: Progress['hosts'];
}

/**
 * Each host's checks, hosts in parallel up to `limit`. On a host the first check runs alone: it opens the SSH
 * connection, so an unreachable host or a changed host key is met once (one failure, the rest skipped) instead of by
 * every check. The other checks are read-only and independent, so they run at once (one round trip of wall time
 * instead of one per check), each still its own activity: recorded, retried and never re-run once recorded.
 * Runs recorded before that change keep their one-check-at-a-time order (patch PARALLEL_CHECKS).
 *
 * The checks after the first are local activities (patch LOCAL_CHECKS): they run in this worker without a trip
 * through the task queue, each recorded as one marker with its result when the workflow task that ran it completes
 * (a 20-host preflight records ~300 events instead of ~760). The price: a worker killed mid-task loses the checks of
 * that open task that were not recorded yet, and the next worker runs them again; they are read-only. A host's first
 * check stays a normal activity: it opens the connection, and an unreachable host or changed key is met there once.
 */
async function checkHosts(
  hosts: HostPlan<CheckSpec>[],
  ssh: SshSettings,
  limit: number,
  progress: ProgressTracker,
): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  /** False when the host cannot be worked on at all (its remaining checks are skipped). */
  const check = async (target: HostTarget, spec: CheckSpec, local = false): Promise<boolean> => {
    progress.set(target.name, spec.id, 'running');
    try {
      const run = local ? localCheckActivities.runPreflightCheck : runPreflightCheck;
      const r = await run({ host: { target, ssh }, check: spec });
      results.push(r);
      progress.set(
        target.name,
        spec.id,
        r.status === 'pass' ? 'done' : r.status === 'warn' ? 'warn' : 'failed',
        r.message,
      );
      return true;
    } catch (err) {
      const message = failureMessage(err);
      results.push({ host: target.name, check: spec.id, status: 'fail', message });
      progress.set(target.name, spec.id, 'failed', message);
      if (!hostLevelFailures.includes(failureType(err) ?? '')) return true;
      progress.skipRemaining(target.name, 'host not reachable');
      return false;
    }
  };
  const parallel = patched(PARALLEL_CHECKS);
  const local = patched(LOCAL_CHECKS);
  await forEachLimited(hosts, limit, async ({ target, steps }) => {
    if (parallel) {
      const [first, ...rest] = steps;
      if (first && !(await check(target, first))) return;
      await Promise.all(rest.map((spec) => check(target, spec, local)));
      return;
    }
    for (const spec of steps) if (!(await check(target, spec))) return;
  });
  return results;
}

/** Patch id: a host's checks after the first run at once (recorded runs before it ran them one by one). */
const PARALLEL_CHECKS = 'preflight-parallel-checks';
/** Patch id: a host's checks after the first are local activities (recorded runs before it scheduled each one). */
const LOCAL_CHECKS = 'preflight-local-checks';
/** Patch id: a host's clock check is its first (recorded runs before it checked the OS first; src/plan/preflight.ts). */
const CLOCK_FIRST = 'preflight-clock-first';

/** Child workflow: one batch of a big preflight's hosts. */
export async function preflightHosts(input: PreflightHostsInput): Promise<PreflightHostsResult> {
  // Started only by preflightCluster with the worker's keyring (the input names hosts the worker will connect to).
  if (isUnencrypted(input) || !workflowInfo().parent) {
    throw ApplicationFailure.nonRetryable(
      'preflightHosts: refused: it runs only as a child of preflightCluster, started with the worker keyring',
      FailureType.InvalidInput,
    );
  }
  const progress = trackProgress('preflight', input);
  progress.phase('checking hosts');
  const results = await checkHosts(input.hosts, input.ssh, input.limit, progress);
  progress.finish();
  return {
    results,
    hosts: input.hosts.map((h) => ({ name: h.target.name, steps: progress.hostSteps(h.target.name) })),
  };
}

export async function preflightCluster(input: PreflightInput): Promise<PreflightReport> {
  const { inventory } = acceptInput('preflightCluster', input);
  const plan = planPreflight(inventory, { clockFirst: patched(CLOCK_FIRST) });
  const progress = beginOperation('preflight', 'preflight', plan);
  const results: CheckResult[] = [];

  progress.phase('checking hosts');
  const limit = inventory.ssh.maxConcurrency;
  const children = childPlan(plan.hosts, limit, hostsPerHistory(Math.max(0, ...plan.hosts.map((h) => h.steps.length))));
  if (!children) {
    results.push(...(await checkHosts(plan.hosts, inventory.ssh, limit, progress)));
  } else {
    const batches = children.chunks.map((hosts, n) => ({ hosts, n }));
    await forEachLimited(batches, children.concurrentChildren, async ({ hosts, n }) => {
      const workflowId = `${workflowInfo().workflowId}/hosts/${n + 1}`;
      for (const h of hosts) progress.set(h.target.name, h.steps[0]!.id, 'running', `in child workflow ${workflowId}`);
      const r = await executeChild(preflightHosts, {
        workflowId,
        args: [{ ...plan, hosts, ssh: inventory.ssh, limit: children.limitPerChild }],
        // Its local checks hold a workflow task open as the parent's do (sdk-core checks only a child's id and type
        // on replay, so runs recorded without this option replay unchanged).
        workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT,
      });
      results.push(...r.results);
      for (const h of r.hosts) progress.replaceHostSteps(h.name, h.steps);
    });
  }

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
