// Opt-in (KUBEADM2HA_SETUP_TIMING=1; it builds several labs one after another, ~15–30 min): how long the setup
// takes from bare hosts to every node Ready, for the notes of issue 11.
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
const sizes = (process.env.KUBEADM2HA_SETUP_TIMING_HOSTS ?? '3,5,8').split(',').map(Number);
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
) {
  const lab = await createK8sLab({ hosts, cni: 'none' });
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
