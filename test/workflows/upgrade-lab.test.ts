// upgradeCluster on the real-Kubernetes lab: 2 masters + 1 worker (external etcd, VIP, haproxy) set up by the setup
// workflow at the lab's previous version, then upgraded to the current one. `upgrade plan` (in process, as the CLI
// runs it) reads the nodes and finds the target's packages and images, and refuses a version the lab lacks, naming
// each missing image. The upgrade runs with an approval before every node; after the first master (`kubeadm upgrade
// apply`) it is TERMINATED while the second master's approval waits, and `upgrade resume` (the CLI, with its own
// embedded worker) starts a new run from the nodes' state: it continues at h2 (`kubeadm upgrade node`), then the
// worker, and touches nothing of h1. Every node ends at the target, Ready and schedulable; a rerun finds nothing to
// do. Prints the wall time per node, the resume run's and overall.
import { describe, expect, it, vi } from 'vitest';
import { upgradePlan, upgradeResume } from '../../src/cli/commands/upgrade.js';
import type { Waiting } from '../../src/plan/gates.js';
import { createActivities } from '../../src/activities/index.js';
import { createSshDeps } from '../../src/activities/ssh-deps.js';
import { sshTrustOf } from '../../src/activities/ssh-trust.js';
import { dataConverter } from '../../src/temporal/data-converter.js';
import { workflowIdFor } from '../../src/workflows/ids.js';
import { approveUpdate, progressQuery } from '../../src/workflows/messages.js';
import { K8S_LAB_VERSIONS } from '../../lab/k8s-binaries.js';
import type { UpgradeResult } from '../../src/workflows/upgrade.js';
import { pollUntil, temporalAddress, uniqueQueue } from '../e2e/helpers.js';
import { Worker } from '@temporalio/worker';
import type { WorkflowHandle } from '@temporalio/client';
import { labClusterInventory } from '../support/lab-cluster.js';
import { vipReadyz } from '../support/k8s-cluster.js';
import { labSuite } from '../support/lab-suite.js';
import { perNode } from '../support/upgrade-run.js';

const FROM = K8S_LAB_VERSIONS.previous;
const TO = K8S_LAB_VERSIONS.current;

// The older version is the lab's own (kubeadm init at 1.33.13); the mirror and registry also serve the target.
const suite = labSuite({
  name: 'upgrade-lab',
  lab: { hosts: 3, version: FROM, versions: [FROM, TO] },
  inventory: (lab) => labClusterInventory(lab),
  ready: (suite) => tagOlderCoreDns(suite.lab.kubernetes.registry),
});

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

/** What a function printed with console.log, and its result. */
async function printed<R>(fn: () => Promise<R>): Promise<{ result: R; lines: string[] }> {
  const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
  try {
    const result = await fn();
    return { result, lines: log.mock.calls.map((c) => String(c[0])) };
  } finally {
    log.mockRestore();
  }
}

const kubectl = async (args: string) =>
  (await suite.lab.exec('h1', `kubectl --kubeconfig /etc/kubernetes/admin.conf ${args}`)).stdout.trim();
const kubeletVersions = () => kubectl('get nodes -o jsonpath={.items[*].status.nodeInfo.kubeletVersion}');

/** The approval a run waits at (its host), once one waits. */
const approvalWaiting = (h: WorkflowHandle, what: string, timeoutMs = 900_000) =>
  pollUntil(
    async () => {
      const w: Waiting[] = (await h.query(progressQuery).catch(() => undefined))?.waiting ?? [];
      return w.find((x) => x.kind === 'approve');
    },
    what,
    timeoutMs,
    500,
  );

describe('upgradeCluster on the real-Kubernetes lab', () => {
  it(`set up at ${FROM}; upgrade plan finds the target's packages and images, and names what a version lacks`, async () => {
    const setup = await suite.run('setupCluster', [{ inventory: suite.inventory }]);
    process.stderr.write(`[upgrade lab] setup at ${FROM}: ${setup.ms} ms\n`);
    expect(await kubeletVersions()).toBe(`v${FROM} v${FROM} v${FROM}`);

    const t0 = Date.now();
    const ok = await printed(() => upgradePlan({ inventory: suite.inventoryFile, to: TO }));
    process.stderr.write(`[upgrade lab] upgrade plan: ${Date.now() - t0} ms\n${ok.lines.join('\n')}\n`);
    expect(ok.result.policy.problems).toEqual([]);
    expect(ok.result.notes).toEqual([]);
    expect(ok.lines[0]).toBe(`upgrade to ${TO} (packages ${TO}-1.1): allowed`);
    expect(ok.lines).toContainEqual(
      expect.stringMatching(new RegExp(`^  h1 +kubelet ${FROM}, .*→  kubeadm upgrade apply → ${TO}$`)),
    );
    expect(ok.lines).toContainEqual(
      expect.stringMatching(new RegExp(`^  h2 +kubelet ${FROM}, .*→  kubeadm upgrade node → ${TO}$`)),
    );
    expect(ok.lines).toContainEqual(
      expect.stringMatching(new RegExp(`^  h3 +kubelet ${FROM}, .*→  worker batch 1 → ${TO}$`)),
    );

    // A patch release the lab has neither packages nor images of: refused, each missing image named with the
    // registry asked and the nodes that lack it.
    const [maj, min, patch] = TO.split('.').map(Number);
    const absent = `${maj}.${min}.${patch! + 50}`;
    const bad = await printed(() => upgradePlan({ inventory: suite.inventoryFile, to: absent }));
    const problems = bad.result.policy.problems.join('\n');
    expect(bad.result.policy.allowed).toBe(false);
    expect(problems).toMatch(new RegExp(`offers no kubeadm ${absent.replace(/\./g, '\\.')}`));
    const repo = suite.inventory.cluster.imageRepository;
    for (const [image, hosts] of [
      ['kube-apiserver', 'h1, h2'],
      ['kube-proxy', 'h1, h2, h3'],
    ] as const) {
      expect(bad.result.policy.problems).toContain(
        `image ${repo}/${image}:v${absent}: not in the registry (http://${suite.lab.kubernetes.registry} has no such manifest) and not on ${hosts}`,
      );
    }
    expect(bad.lines.some((l) => l.includes(`problem: image ${repo}/kube-apiserver:v${absent}`))).toBe(true);
    process.exitCode = undefined; // upgradePlan sets 1 for a refused plan, as the CLI exits
  }, 3_000_000);

  it('terminated after the first master, `upgrade resume` continues at the second and redoes nothing', async () => {
    const id = workflowIdFor(suite.inventory.cluster.name, 'upgrade');
    const taskQueue = uniqueQueue('upgrade-lab');
    const deps = createSshDeps(sshTrustOf(suite.inventory));
    const worker = await Worker.create({
      connection: suite.temporal.native,
      taskQueue,
      workflowBundle: suite.bundle,
      dataConverter: dataConverter(),
      activities: createActivities(deps),
    });
    const started = Date.now();
    let h1Ms = 0;
    const first = await worker
      .runUntil(async () => {
        const h = await suite.temporal.client.workflow.start('upgradeCluster', {
          taskQueue,
          workflowId: id,
          args: [{ inventory: suite.inventory, target: TO, approved: true, approveEach: true }],
        });
        expect(await approvalWaiting(h, 'the approval of h1')).toMatchObject({ phase: 'first-master', host: 'h1' });
        const t1 = Date.now();
        await h.executeUpdate(approveUpdate, { args: [{ host: 'h1', by: 'upgrade-lab' }] });
        expect(await approvalWaiting(h, 'the approval of h2')).toMatchObject({ phase: 'masters', host: 'h2' });
        h1Ms = Date.now() - t1;
        await h.terminate('upgrade lab: terminated after the first master');
        return h;
      })
      .finally(() => deps.close());
    expect((await suite.temporal.client.workflow.getHandle(id, first.firstExecutionRunId).describe()).status.name).toBe(
      'TERMINATED',
    );
    expect(await kubeletVersions()).toBe(`v${TO} v${FROM} v${FROM}`);

    // `kubeadm2ha upgrade resume -i <inventory>`: the last run's options (approval before every node), a new run.
    const approver = { stop: false, approved: [] as string[] };
    const approving = (async () => {
      const h = suite.temporal.client.workflow.getHandle(id);
      while (!approver.stop) {
        const w = await pollUntil(
          async () => {
            if (approver.stop) return 'stop';
            const d = await h.describe().catch(() => undefined);
            if (!d || d.runId === first.firstExecutionRunId) return undefined;
            const waiting: Waiting[] = (await h.query(progressQuery).catch(() => undefined))?.waiting ?? [];
            return waiting.find((x) => x.kind === 'approve');
          },
          'an approval of the resumed run',
          900_000,
          500,
        );
        if (w === 'stop') return;
        // A gate that closed between the query and the update refuses it; the next poll sees the next one.
        const took = await h
          .executeUpdate(approveUpdate, { args: [{ ...(w.host && { host: w.host }), by: 'upgrade-lab' }] })
          .then(
            () => true,
            () => false,
          );
        if (took) approver.approved.push(w.host ?? w.phase);
      }
    })();
    const t2 = Date.now();
    const resumed = await upgradeResume({
      inventory: suite.inventoryFile,
      address: temporalAddress(),
      taskQueue: uniqueQueue('upgrade-resume'),
      worker: 'embedded',
    }).finally(() => (approver.stop = true));
    await approving;
    const resumeMs = Date.now() - t2;
    const r = resumed!;
    const nodes = perNode(r);
    process.stderr.write(
      `[upgrade lab] ${FROM} → ${TO}: h1 ${h1Ms} ms in the terminated run; resume run ${resumeMs} ms, per node ` +
        `${JSON.stringify(nodes)}; ${Date.now() - started} ms overall\n`,
    );
    expect(approver.approved).toEqual(['h2', 'h3']);
    // The new run planned from the nodes: h1 at the target, nothing for it; no second `kubeadm upgrade apply`.
    expect(r.plan.map((n) => [n.name, n.change])).toEqual([
      ['h1', 'nothing (at the target)'],
      ['h2', `kubeadm upgrade node → ${TO}`],
      ['h3', `worker batch 1 → ${TO}`],
    ]);
    expect(r.steps.filter((s) => s.host === 'h1')).toEqual([]);
    expect(r.steps.some((s) => s.step === 'kubeadmUpgradeApply')).toBe(false);
    expect(r.steps.filter((s) => s.step === 'kubeadmUpgradeNode').map((s) => s.host)).toEqual(['h2', 'h3']);
    expect(
      r.steps
        .filter((s) => s.step === 'backupKubernetesConfig')
        .map((s) => s.host)
        .sort(),
    ).toEqual(['h2', 'h3']);
    expect(r.after).toEqual(
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
    expect(await kubeletVersions()).toBe(`v${TO} v${TO} v${TO}`);
    expect(await kubectl('get nodes -o jsonpath={.items[*].spec.unschedulable}')).toBe('');
    expect(await vipReadyz(suite.lab, 'h3', 8443)).toBe('ok');
  }, 3_000_000);

  it('a rerun reads the nodes, finds every one at the target and changes nothing', async () => {
    const again = await suite.run<UpgradeResult>('upgradeCluster', [
      { inventory: suite.inventory, target: TO, approved: true },
    ]);
    process.stderr.write(`[upgrade lab] rerun: ${again.ms} ms\n`);
    expect(again.result.steps).toEqual([]);
  }, 600_000);
});
