// setupCluster (the setup runbook on the executor) through a real Temporal server and worker on the real-Kubernetes
// lab: 2 masters + 1 worker with external etcd, VIP and haproxy, from bare hosts to all Ready; a second run changes
// nothing; the history holds no join token or key.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkflowBundleOption } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Inventory } from '../../src/inventory/schema.js';
import { createK8sLab, type K8sLab } from '../../lab/k8s/k8s-lab.js';
import { loadWorkflowBundle } from '../../src/temporal/bundle.js';
import { CODEC_ENV } from '../../src/temporal/data-converter.js';
import type { RunbookResult } from '../../src/workflows/runbook.js';
import { connectTemporal } from '../e2e/helpers.js';
import { setEnv } from '../support/env.js';
import { labClusterInventory } from '../support/lab-cluster.js';
import { runLabWorkflow } from '../support/lab-worker.js';
import { cleanUp } from '../support/clean-up.js';

let lab: K8sLab;
let inv: Inventory;
let temporal: Awaited<ReturnType<typeof connectTemporal>>;
let bundle: WorkflowBundleOption;
let scratch: string;
let restoreEnv: (() => void) | undefined;

function setupCluster(): Promise<{ result: RunbookResult; history: string; ms: number }> {
  const args = [{ inventory: inv }];
  return runLabWorkflow<RunbookResult>({
    temporal,
    bundle,
    inventory: inv,
    workflowType: 'setupCluster',
    args,
    name: 'setup',
  });
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'k2h-setup-wf-'));
  restoreEnv = setEnv({ KUBEADM2HA_STATE_DIR: join(scratch, 'state'), [CODEC_ENV]: 'off' });
  bundle = await loadWorkflowBundle();
  lab = await createK8sLab({ hosts: 3 });
  inv = labClusterInventory(lab);
  temporal = await connectTemporal();
}, 3_600_000);

afterAll(() =>
  cleanUp(
    () => temporal?.close(),
    () => lab?.destroy(),
    () => restoreEnv?.(),
    () => scratch && rm(scratch, { recursive: true, force: true }),
  ),
);

describe('setupCluster on the real-Kubernetes lab', () => {
  it('bare hosts → 3 nodes Ready through the workflow; a second run changes nothing; no secret in history', async () => {
    const first = await setupCluster();
    process.stderr.write(
      `[setup workflow] bare hosts → all Ready: ${first.ms} ms, ${first.result.steps.length} steps\n`,
    );
    const nodes = (await lab.exec('h1', 'kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes --no-headers'))
      .stdout;
    expect(
      nodes
        .trim()
        .split('\n')
        .map((l) => l.split(/\s+/).slice(0, 2).join(' '))
        .sort(),
    ).toEqual(['h1 Ready', 'h2 Ready', 'h3 Ready']);
    expect((await lab.exec('h3', `curl -sk --max-time 5 https://${lab.vip}:8443/readyz`)).stdout).toBe('ok');
    for (const h of [first.history]) {
      expect(h).not.toMatch(/[a-z0-9]{6}\.[a-z0-9]{16}/);
      expect(h).not.toMatch(/PRIVATE KEY|client-key-data/);
    }
    const second = await setupCluster();
    process.stderr.write(`[setup workflow] rerun: ${second.ms} ms\n`);
    const rerun = JSON.stringify(second.result.steps.map((s) => s.result));
    expect(rerun).not.toMatch(/"(initialized|joined|installed|created)":true/);
    expect(rerun).not.toMatch(/"action":"(started|restarted)"/);
  }, 1_200_000);
});
