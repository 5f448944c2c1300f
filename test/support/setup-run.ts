// The setup runbook on the real-Kubernetes lab, two ways: through Temporal (the setupCluster workflow on a fresh
// worker, runOnLabWorker) and with the same runbook's activities called directly in the same order and fan-out (no
// Temporal: the floor the workflow's time is compared with). Plus the lab inventory these runs use and the checks
// that a run changed nothing and that its history carries no secret.
import type { WorkflowBundleOption } from '@temporalio/worker';
import type { Activities } from '../../src/activities/index.js';
import { Inventory, type Role } from '../../src/inventory/schema.js';
import type { K8sLab } from '../../lab/k8s/k8s-lab.js';
import {
  batchesOf,
  ONCE,
  resolveBinding,
  type Runbook,
  type StepCall,
  type StepResultRecord,
} from '../../src/plan/runbook.js';
import { planSetup } from '../../src/plan/setup.js';
import type { RunbookResult } from '../../src/workflows/runbook.js';
import { uniqueQueue, type connectTemporal } from '../e2e/helpers.js';
import { runOnLabWorker } from './lab-worker.js';

/**
 * A lab inventory for setup with flannel, for up to 8 hosts. The workflow checks its input with the inventory rules,
 * which refuse pod and Service ranges inside the hosts' subnet: so the hosts' subnet is declared as the lower /25
 * (hosts .11–.18, VIP .100), pods take .128/26 with a /29 per node (room for all 8 lab hosts; 5 pod addresses per
 * node, plenty for CoreDNS and a test pod) and Services .240/28 — all inside the lab's own /24.
 */
export function flannelLabInventory(lab: K8sLab, roleOf: (index: number) => Role[]): Inventory {
  const k = lab.kubernetes;
  return Inventory.parse(
    lab.inventory({
      cluster: {
        vip: { address: lab.vip, interface: 'eth0', prefixLength: 25 },
        podSubnet: `10.200.${lab.id}.128/26`,
        nodeCidrMaskSize: 29,
        serviceSubnet: `10.200.${lab.id}.240/28`,
        network: { plugin: 'flannel' },
        // The lab's hosts are network namespaces: cgroupfs (no systemd), no CAP_SYS_RESOURCE for runc, the machine's
        // nf_conntrack_max read-only (see test/lab/k8s/README.md).
        containerRuntime: {
          cgroupDriver: 'cgroupfs',
          restrictOomScoreAdj: true,
          registries: [{ host: k.registry, endpoints: [`http://${k.registry}`] }],
        },
        kubeProxy: { conntrackMaxPerCore: 0 },
      },
      hosts: lab.hosts.map((h) => ({ name: h.name, address: h.address, roles: roleOf(h.index) })),
    }),
  );
}

/** h1 the primary, h2–h3 secondary masters, the rest workers; etcd (external) on the masters. */
export const haRoles = (index: number): Role[] =>
  index === 1 ? ['primary-master', 'etcd'] : index <= 3 ? ['secondary-master', 'etcd'] : ['worker'];

export interface SetupRun {
  result: RunbookResult;
  history: string;
  ms: number;
  /** Date.now() when the run was started (phaseSeconds measures from it). */
  startedAt: number;
}

export async function runSetupWorkflow(o: {
  temporal: Awaited<ReturnType<typeof connectTemporal>>;
  bundle: WorkflowBundleOption;
  inventory: Inventory;
}): Promise<SetupRun> {
  const taskQueue = uniqueQueue('setup');
  const workflowId = `${o.inventory.cluster.name}/setup/${taskQueue}`;
  const startedAt = Date.now();
  const { result, ms } = await runOnLabWorker<RunbookResult>({
    ...o,
    workflowType: 'setupCluster',
    args: [{ inventory: o.inventory }],
    taskQueue,
    workflowId,
  });
  const history = JSON.stringify(await o.temporal.client.workflow.getHandle(workflowId).fetchHistory());
  return { result, history, ms, startedAt };
}

/**
 * The setup runbook with its activities called directly: phases in order, each host's steps in order, hosts fanned
 * out as the rollout says, bindings filled from earlier results the way the executor fills them. No gates, no
 * retries, no history: what is left between this and the workflow is the price of durability.
 */
export async function runSetupDirectly(
  inv: Inventory,
  acts: Activities,
): Promise<{ results: StepResultRecord[]; ms: number; phases: Record<string, number> }> {
  const rb: Runbook = planSetup(inv);
  const results: StepResultRecord[] = [];
  const call = async (s: StepCall, host: string, extra: Record<string, unknown>) => {
    const bound = Object.fromEntries(
      Object.entries(s.bind ?? {}).map(([k, b]) => [k, resolveBinding(b, host, results)]),
    );
    const fn = (acts as unknown as Record<string, (a: unknown) => Promise<unknown>>)[s.id]!;
    results.push({ host, step: s.id, result: await fn({ ...s.args, ...bound, ...extra }) });
  };
  const t0 = performance.now();
  const phases: Record<string, number> = {};
  for (const p of rb.phases) {
    const p0 = performance.now();
    if (p.kind === 'once') {
      for (const s of p.steps) await call(s, ONCE, {});
      phases[p.id] = Math.round((performance.now() - p0) / 100) / 10;
      continue;
    }
    if (p.kind === 'child')
      throw new Error(`phase ${p.id}: a child workflow (${p.workflow}) runs only through Temporal`);
    for (const batch of batchesOf(p.hosts, p.rollout, rb.ssh.maxConcurrency)) {
      let next = 0;
      const lane = async () => {
        while (next < batch.items.length) {
          const h = batch.items[next++]!;
          for (const s of h.steps) await call(s, h.target.name, { host: { target: h.target, ssh: rb.ssh } });
        }
      };
      await Promise.all(Array.from({ length: Math.min(batch.limit, batch.items.length) }, lane));
    }
    phases[p.id] = Math.round((performance.now() - p0) / 100) / 10;
  }
  return { results, ms: Math.round(performance.now() - t0), phases };
}

/** Every step result that reports a change: created, joined, installed, initialised, restarted, changed files or
 * objects. Empty for a run that only checked. */
export function changesIn(results: readonly { step: string; host: string; result: unknown }[]): string[] {
  const changed =
    /"(initialized|joined|installed|created|serviceAccountCreated|changed)":true|"action":"(started|restarted)"|"(changed|issued)":\[[^\]]/;
  return results.filter((r) => changed.test(JSON.stringify(r.result))).map((r) => `${r.host} ${r.step}`);
}

/** A join token, a private key or kubeconfig credentials anywhere in the text (a workflow history, results). */
export function secretsIn(text: string): string[] {
  return [/[a-z0-9]{6}\.[a-z0-9]{16}/, /PRIVATE KEY/, /client-key-data|certificate-authority-data/]
    .filter((re) => re.test(text))
    .map(String);
}

/** Seconds each phase of a workflow run took (from one phase's last completed step to the next's), for the notes. */
export function phaseSeconds(result: RunbookResult, startedAt: number): Record<string, number> {
  const out: Record<string, number> = {};
  let prev = startedAt;
  for (const s of result.steps) {
    const at = Date.parse(s.at);
    out[s.phase] = Math.round(((out[s.phase] ?? 0) * 1000 + at - prev) / 100) / 10;
    prev = at;
  }
  return out;
}
