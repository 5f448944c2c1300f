// Opt-in (KUBEADM2HA_SETUP_TIMING=1; it builds several labs one after another, ~30–60 min under load): how long the
// setup takes from bare hosts to every node Ready, for the notes of issue 11.
//  - the plain-command proof (test/lab/k8s/proof.test.ts's commands, test/support/plain-setup.ts) and the setupCluster
//    workflow back to back, each on a fresh lab of the proof's shape and kind: 3 hosts with the lab's static pod
//    network, h1 + h2 control planes, h3 worker, external etcd on all three, keepalived VIP, no load balancer. Target:
//    the workflow within 1.2x of the plain commands;
//  - by the setupCluster workflow on labs of 3, 5 and 8 hosts (KUBEADM2HA_SETUP_TIMING_HOSTS=3,5,8; 3 masters with
//    external etcd, the rest workers, flannel), each on a fresh lab with cni 'none';
//  - by the same runbook's activities called directly (no Temporal: runSetupDirectly) on a fresh 5-host lab, right
//    before the workflow's 5-host run, so the two see the same kind of lab and about the same machine load.
// Each run must end with every node Ready (the runbook's last step waits for it, and the test checks its result).
// One line per run goes to stderr: hosts, path, wall ms, load average before and after.
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkflowBundleOption } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../src/activities/index.js';
import type { NodesReadyResult } from '../../src/activities/kube-api.js';
import { createSshDeps } from '../../src/activities/ssh-deps.js';
import { sshTrustOf } from '../../src/activities/ssh-trust.js';
import { createK8sLab, type K8sLab } from '../../lab/k8s/k8s-lab.js';
import { loadWorkflowBundle } from '../../src/temporal/bundle.js';
import { CODEC_ENV } from '../../src/temporal/data-converter.js';
import { connectTemporal } from '../e2e/helpers.js';
import { labClusterInventory } from '../support/lab-cluster.js';
import { runLabWorkflow } from '../support/lab-worker.js';
import { plainSetup } from '../support/plain-setup.js';
import type { RunbookResult } from '../../src/workflows/runbook.js';
import { cleanUp } from '../support/clean-up.js';
import { setEnv } from '../support/env.js';
import {
  flannelLabInventory,
  haRoles,
  phaseSeconds,
  runSetupDirectly,
  runSetupWorkflow,
} from '../support/setup-run.js';

const enabled = process.env.KUBEADM2HA_SETUP_TIMING === '1';
const sizes = (process.env.KUBEADM2HA_SETUP_TIMING_HOSTS ?? '3,5,8').split(',').filter(Boolean).map(Number);
const COMPARE_AT = 5;

let temporal: Awaited<ReturnType<typeof connectTemporal>>;
let bundle: WorkflowBundleOption;
let scratch: string;
let restoreEnv: (() => void) | undefined;
const lines: string[] = [];
/** Printed at once (a later run may fail) and again together at the end. */
const note = (line: string): void => {
  lines.push(line);
  process.stderr.write(`[setup timing] ${line}\n`);
};
const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join('/');

/** A fresh lab and state dir for one measured run; the lab goes away afterwards. */
async function onFreshLab(
  hosts: number,
  run: (lab: K8sLab) => Promise<{ ms: number; ready: string[]; phases: Record<string, number> }>,
  cni: 'none' | 'static' = 'none',
) {
  const lab = await createK8sLab({ hosts, ...(cni === 'none' && { cni }) });
  const restore = setEnv({ KUBEADM2HA_STATE_DIR: join(scratch, `state-${lab.id}-${hosts}`) });
  try {
    const before = load();
    const { ms, ready, phases } = await run(lab);
    expect(ready.sort()).toEqual(lab.hosts.map((h) => h.name).sort());
    return { ms, before, after: load(), phases: JSON.stringify(phases) };
  } finally {
    restore();
    await lab.destroy();
  }
}

const readyOf = (results: readonly { step: string; result: unknown }[]): string[] =>
  (results.findLast((s) => s.step === 'waitNodesReady')?.result as NodesReadyResult | undefined)?.ready ?? [];

async function byWorkflow(hosts: number) {
  const r = await onFreshLab(hosts, async (lab) => {
    const run = await runSetupWorkflow({ temporal, bundle, inventory: flannelLabInventory(lab, haRoles) });
    return { ms: run.ms, ready: readyOf(run.result.steps), phases: phaseSeconds(run.result, run.startedAt) };
  });
  note(`${hosts} hosts, workflow: ${r.ms} ms (load ${r.before} → ${r.after}); phases (s) ${r.phases}`);
  return r.ms;
}

async function directly(hosts: number) {
  const r = await onFreshLab(hosts, async (lab) => {
    const inv = flannelLabInventory(lab, haRoles);
    const deps = createSshDeps(sshTrustOf(inv));
    try {
      const { results, ms, phases } = await runSetupDirectly(inv, createActivities(deps));
      return { ms, ready: readyOf(results), phases };
    } finally {
      await deps.close();
    }
  });
  note(
    `${hosts} hosts, activities called directly: ${r.ms} ms (load ${r.before} → ${r.after}); phases (s) ${r.phases}`,
  );
  return r.ms;
}

/** The proof's shape on the proof's kind of lab, by its plain commands. */
async function proofByPlainCommands() {
  const r = await onFreshLab(
    3,
    async (lab) => {
      const { ms, phases } = await plainSetup(lab, { masters: ['h1', 'h2'], etcd: ['h1', 'h2', 'h3'] });
      const out = await lab.exec('h1', 'kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes --no-headers');
      const ready = out.stdout
        .split('\n')
        .filter((l) => / Ready /.test(l))
        .map((l) => l.split(/\s+/)[0]!);
      return { ms, ready, phases };
    },
    'static',
  );
  note(`3 hosts (proof's shape), plain commands: ${r.ms} ms (load ${r.before} → ${r.after}); phases (s) ${r.phases}`);
  return r.ms;
}

/** The same shape and lab kind by the workflow: default lab cluster roles (h1, h2 masters, h3 worker, etcd on all),
 * the lab's static pod network (no plugin to apply), no load balancer (the API on the VIP, as in the proof). */
async function proofShapeByWorkflow() {
  const r = await onFreshLab(
    3,
    async (lab) => {
      const inventory = labClusterInventory(lab, undefined, { loadBalancer: { kind: 'none' } });
      const startedAt = Date.now();
      const run = await runLabWorkflow<RunbookResult>({
        temporal,
        bundle,
        inventory,
        workflowType: 'setupCluster',
        args: [{ inventory }],
        name: 'setup-timing',
      });
      return { ms: run.ms, ready: readyOf(run.result.steps), phases: phaseSeconds(run.result, startedAt) };
    },
    'static',
  );
  note(`3 hosts (proof's shape), workflow: ${r.ms} ms (load ${r.before} → ${r.after}); phases (s) ${r.phases}`);
  return r.ms;
}

beforeAll(async () => {
  if (!enabled) return;
  scratch = await mkdtemp(join(tmpdir(), 'k2h-setup-timing-'));
  restoreEnv = setEnv({ [CODEC_ENV]: 'off' });
  bundle = await loadWorkflowBundle();
  temporal = await connectTemporal();
}, 600_000);

afterAll(() =>
  cleanUp(
    () => lines.length && process.stderr.write(`[setup timing]\n  ${lines.join('\n  ')}\n`),
    () => temporal?.close(),
    () => restoreEnv?.(),
    () => scratch && rm(scratch, { recursive: true, force: true }),
  ),
);

describe.skipIf(!enabled)('setup wall time, bare hosts → all Ready (opt-in: KUBEADM2HA_SETUP_TIMING=1)', () => {
  it("3 hosts, the proof's shape: the workflow within 1.2x of the plain commands", async () => {
    const plain = await proofByPlainCommands();
    const wf = await proofShapeByWorkflow();
    note(`3 hosts (proof's shape): workflow / plain commands = ${(wf / plain).toFixed(2)}`);
    expect(wf / plain).toBeLessThan(1.2);
  }, 3_600_000);
  for (const n of sizes) {
    if (n === COMPARE_AT)
      it(`${n} hosts: the workflow within 1.2x of the same activities called directly`, async () => {
        const plain = await directly(n);
        const wf = await byWorkflow(n);
        note(`${n} hosts: workflow / direct = ${(wf / plain).toFixed(2)}`);
        expect(wf / plain).toBeLessThan(1.2);
      }, 3_600_000);
    else it(`${n} hosts by the workflow`, () => byWorkflow(n), 3_600_000);
  }
});
