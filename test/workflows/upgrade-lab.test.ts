// upgradeCluster on the real-Kubernetes lab: 2 masters + 1 worker (external etcd, VIP, haproxy) set up by the setup
// workflow at the lab's previous version, then upgraded to the current one by the upgrade workflow: the first
// master by `kubeadm upgrade apply`, the second by `kubeadm upgrade node`, the worker last; every node ends at the
// target, Ready and schedulable; a rerun finds nothing to do. Prints the wall time per node and overall.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkflowBundleOption } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Inventory } from '../../src/inventory/schema.js';
import { createK8sLab, type K8sLab } from '../../lab/k8s/k8s-lab.js';
import { K8S_LAB_VERSIONS } from '../../lab/k8s-binaries.js';
import { loadWorkflowBundle } from '../../src/temporal/bundle.js';
import { CODEC_ENV } from '../../src/temporal/data-converter.js';
import type { UpgradeResult } from '../../src/workflows/upgrade.js';
import { connectTemporal, uniqueQueue } from '../e2e/helpers.js';
import { labClusterInventory } from '../support/lab-cluster.js';
import { setEnv } from '../support/env.js';
import { runOnLabWorker } from '../support/lab-worker.js';
import { cleanUp } from '../support/clean-up.js';
import { perNode } from '../support/upgrade-run.js';

const FROM = K8S_LAB_VERSIONS.previous;
const TO = K8S_LAB_VERSIONS.current;

let lab: K8sLab;
let inv: Inventory;
let temporal: Awaited<ReturnType<typeof connectTemporal>>;
let bundle: WorkflowBundleOption;
let scratch: string;
let restoreEnv: (() => void) | undefined;

async function run<R>(workflowType: string, args: unknown[]): Promise<{ result: R; ms: number }> {
  const taskQueue = uniqueQueue(workflowType);
  return runOnLabWorker<R>({
    temporal,
    bundle,
    inventory: inv,
    workflowType,
    args,
    taskQueue,
    workflowId: `${inv.cluster.name}/${workflowType}/${taskQueue}`,
  });
}

/**
 * kubeadm 1.33 asks for coredns v1.12.0. A lab that builds one coredns (v1.12.1) for every version lacks that tag: then
 * the same image is tagged v1.12.0 too (a manifest PUT to the lab's registry), so `kubeadm init` at the older version
 * finds every image it pulls. A lab that serves each version's own coredns already has it and is left alone.
 */
async function tagOlderCoreDns(registry: string): Promise<void> {
  const url = (tag: string) => `http://${registry}/v2/k8s/coredns/manifests/${tag}`;
  if ((await fetch(url('v1.12.0'), { method: 'HEAD' })).ok) return;
  const got = await fetch(url('v1.12.1'), {
    headers: {
      accept: [
        'application/vnd.oci.image.manifest.v1+json',
        'application/vnd.docker.distribution.manifest.v2+json',
        'application/vnd.oci.image.index.v1+json',
      ].join(', '),
    },
  });
  if (!got.ok) throw new Error(`coredns v1.12.1 not in the lab registry: ${got.status}`);
  const put = await fetch(url('v1.12.0'), {
    method: 'PUT',
    headers: { 'content-type': got.headers.get('content-type') ?? 'application/vnd.oci.image.manifest.v1+json' },
    body: Buffer.from(await got.arrayBuffer()),
  });
  if (!put.ok) throw new Error(`tagging coredns v1.12.0 failed: ${put.status} ${await put.text()}`);
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'k2h-upgrade-lab-'));
  restoreEnv = setEnv({ KUBEADM2HA_STATE_DIR: join(scratch, 'state'), [CODEC_ENV]: 'off' });
  bundle = await loadWorkflowBundle();
  // The older version is the lab's own (kubeadm init at 1.33.13); the mirror and registry also serve the target.
  lab = await createK8sLab({ hosts: 3, version: FROM, extraPackageVersions: [TO] });
  await tagOlderCoreDns(lab.kubernetes.registry);
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

describe('upgradeCluster on the real-Kubernetes lab', () => {
  it(`set up at ${FROM}, upgraded to ${TO}: masters one by one, then the worker; all Ready at the target`, async () => {
    const setup = await run('setupCluster', [{ inventory: inv }]);
    process.stderr.write(`[upgrade lab] setup at ${FROM}: ${setup.ms} ms\n`);
    const kubectl = async (args: string) =>
      (await lab.exec('h1', `kubectl --kubeconfig /etc/kubernetes/admin.conf ${args}`)).stdout.trim();
    expect(await kubectl('get nodes -o jsonpath={.items[*].status.nodeInfo.kubeletVersion}')).toBe(
      `v${FROM} v${FROM} v${FROM}`,
    );

    const up = await run<UpgradeResult>('upgradeCluster', [{ inventory: inv, target: TO, approved: true }]);
    const nodes = perNode(up.result);
    process.stderr.write(`[upgrade lab] ${FROM} → ${TO}: ${up.ms} ms overall; per node ${JSON.stringify(nodes)}\n`);
    const applied = up.result.steps.filter((s) => s.step === 'kubeadmUpgradeApply').map((s) => s.host);
    const noded = up.result.steps.filter((s) => s.step === 'kubeadmUpgradeNode').map((s) => s.host);
    expect(applied).toEqual(['h1']);
    expect(noded).toEqual(['h2', 'h3']);
    expect(up.result.after).toEqual(
      ['h1', 'h2', 'h3'].map((name) => ({
        name,
        kubelet: TO,
        kubeadm: TO,
        ready: true,
        cordoned: false,
        ...(name !== 'h3' && { apiserver: TO }),
      })),
    );
    // What the API itself says, not only our facts: every kubelet at the target, every node schedulable.
    expect(await kubectl('get nodes -o jsonpath={.items[*].status.nodeInfo.kubeletVersion}')).toBe(
      `v${TO} v${TO} v${TO}`,
    );
    expect(await kubectl('get nodes -o jsonpath={.items[*].spec.unschedulable}')).toBe('');
    expect((await lab.exec('h3', `curl -sk --max-time 5 https://${lab.vip}:8443/readyz`)).stdout).toBe('ok');

    // A rerun reads the nodes, finds every one at the target and changes nothing.
    const again = await run<UpgradeResult>('upgradeCluster', [{ inventory: inv, target: TO, approved: true }]);
    process.stderr.write(`[upgrade lab] rerun: ${again.ms} ms\n`);
    expect(again.result.steps).toEqual([]);
  }, 3_000_000);
});
