// Scale: a 500-host preflight stays far under Temporal's history limits, and a host-parallel phase costs about the
// same at 30 hosts as at 3. Real parts: the run's Temporal dev server, our worker, and as many real sshd lab hosts
// as one lab holds (80, lab/names.ts MAX_HOSTS); the hosts beyond are SIMULATED HOSTS (test/support/
// simulated-hosts.ts, a stand-in that behaves like a host at the activity boundary: each of their checks runs over
// real SSH on a lab host and answers with the simulated host's identity). Numbers go to stdout and, when
// KUBEADM2HA_SCALE_REPORT is set, to that JSON file (the bench table reads it).
import { writeFile } from 'node:fs/promises';
import type { WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSshDeps } from '../../src/activities/ssh-deps.js';
import { sshTrustOf } from '../../src/activities/ssh-trust.js';
import { loadInventory } from '../../src/inventory/index.js';
import type { Inventory } from '../../src/inventory/schema.js';
import { createLab, type Lab } from '../../lab/index.js';
import { writeLabInventory } from '../../lab/inventory.js';
import { MAX_HOSTS } from '../../lab/names.js';
import { planPreflight } from '../../src/plan/preflight.js';
import type { PreflightReport } from '../../src/plan/types.js';
import { createKubeadmHaWorker, type KubeadmHaWorker } from '../../src/worker.js';
import { connectTemporal, uniqueQueue } from '../e2e/helpers.js';
import { simulatedHosts, withSimulatedHosts } from '../support/simulated-hosts.js';

const TOTAL = Number(process.env.KUBEADM2HA_SCALE_HOSTS ?? 500);
const REAL = Math.min(TOTAL, Number(process.env.KUBEADM2HA_SCALE_REAL_HOSTS ?? MAX_HOSTS));
const EVENT_LIMIT = 10_000;

let lab: Lab;
let temporal: Awaited<ReturnType<typeof connectTemporal>>;
const report: Record<string, unknown> = {};

beforeAll(async () => {
  const t0 = performance.now();
  lab = await createLab({ hosts: REAL, readyTimeoutMs: 240_000 });
  report.realHosts = REAL;
  report.labUpMs = Math.round(performance.now() - t0);
  temporal = await connectTemporal();
}, 300_000);

afterAll(async () => {
  await temporal?.close();
  await lab?.destroy();
  if (process.env.KUBEADM2HA_SCALE_REPORT)
    await writeFile(process.env.KUBEADM2HA_SCALE_REPORT, `${JSON.stringify(report, null, 2)}\n`);
});

/** The lab's inventory cut to its first n real hosts, plus `simulated` simulated workers (loaded and checked as
 * a user's file is). */
async function inventoryOf(n: number, simulated = 0): Promise<Inventory> {
  const hosts = [...lab.inventory().hosts.slice(0, n), ...simulatedHosts(simulated)];
  // One /24 of pods per node: 500 nodes need more than the default /16 (config only: nothing is sent there).
  const cluster = { podSubnet: '10.64.0.0/14' };
  const path = await writeLabInventory(`${lab.dir}/scale-${n}-${simulated}.yaml`, lab.inventory({ hosts, cluster }));
  return (await loadInventory(path)).inventory;
}

async function worker(taskQueue: string, inv: Inventory): Promise<KubeadmHaWorker> {
  const real = createSshDeps(sshTrustOf(inv));
  const templates = lab.hosts.map((h) => ({ name: h.name, address: h.address, roles: ['worker' as const] }));
  return createKubeadmHaWorker({
    connection: temporal.native,
    taskQueue,
    deps: withSimulatedHosts(real, templates),
  });
}

/** History length of the run and of every child it started. */
async function eventsPerWorkflow(handle: WorkflowHandle): Promise<Record<string, number>> {
  const out: Record<string, number> = { [handle.workflowId]: (await handle.describe()).historyLength };
  for (const e of (await handle.fetchHistory()).events ?? []) {
    const id = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution?.workflowId;
    if (id) out[id] = (await temporal.client.workflow.getHandle(id).describe()).historyLength;
  }
  return out;
}

async function preflight(w: KubeadmHaWorker, taskQueue: string, inv: Inventory) {
  const t0 = performance.now();
  const handle = await temporal.client.workflow.start('preflightCluster', {
    taskQueue,
    workflowId: `${inv.cluster.name}/preflight/${uniqueQueue('scale')}`,
    args: [{ inventory: inv }],
  });
  const result = (await handle.result()) as PreflightReport;
  return { handle, result, ms: performance.now() - t0 };
}

describe(`scale (${REAL} real lab hosts, simulated hosts beyond)`, () => {
  it(`a ${TOTAL}-host preflight: no workflow over ${EVENT_LIMIT} events`, { timeout: 1_200_000 }, async () => {
    const inv = await inventoryOf(REAL, TOTAL - REAL);
    expect(inv.hosts).toHaveLength(TOTAL);
    const taskQueue = uniqueQueue('scale500');
    const w = await worker(taskQueue, inv);
    const { handle, result, ms } = await w.run(preflight(w, taskQueue, inv)).then((r) => r!);
    const events = await eventsPerWorkflow(handle);
    const counts = Object.values(events);
    const checks = planPreflight(inv).hosts.reduce((n, h) => n + h.steps.length, 0);
    Object.assign(report, {
      hosts: TOTAL,
      simulatedHosts: TOTAL - REAL,
      checks,
      wallMs: Math.round(ms),
      workflows: counts.length,
      runEvents: events[handle.workflowId],
      maxChildEvents: Math.max(...counts.slice(1)),
      totalEvents: counts.reduce((a, b) => a + b, 0),
    });
    console.log(`scale: ${JSON.stringify(report)}`);
    // Every check of every host ran and is in the report; every host is distinct (cross-host checks pass).
    expect(result.results.filter((r) => r.check !== 'unique-identity')).toHaveLength(checks);
    expect(result.results.filter((r) => r.status === 'fail')).toEqual([]);
    expect(counts.length).toBeGreaterThan(1);
    expect(Math.max(...counts)).toBeLessThan(EVENT_LIMIT);
  });
});
