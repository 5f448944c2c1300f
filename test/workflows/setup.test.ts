// setupCluster (the setup runbook on the executor) through a real Temporal server and worker on the real-Kubernetes
// lab: 2 masters + 1 worker with external etcd, VIP and haproxy, from bare hosts to all Ready; a second run changes
// nothing; the history holds no join token or key. Then planning from facts: the finished cluster's facts plan
// nothing (`setup --dry-run [--json]` prints exactly that), a worker reset by kubeadm plans only its join (and its
// etcd member's steps: kubeadm reset empties /etc/kubernetes/pki), and a rerun rejoins it.
import { describe, expect, it, vi } from 'vitest';
import { createActivities } from '../../src/activities/index.js';
import { createSshDeps } from '../../src/activities/ssh-deps.js';
import { sshTrustOf } from '../../src/activities/ssh-trust.js';
import { readSetupFactsHere, setup } from '../../src/cli/commands/setup.js';
import { describeRunbook, ONCE, type Runbook } from '../../src/plan/runbook.js';
import { targetOf } from '../../src/plan/topology.js';
import type { RunbookResult } from '../../src/workflows/runbook.js';
import { nodeStates, vipReadyz } from '../support/k8s-cluster.js';
import { labClusterInventory } from '../support/lab-cluster.js';
import { labSuite } from '../support/lab-suite.js';

const suite = labSuite({ name: 'setup-wf', lab: { hosts: 3 }, inventory: (lab) => labClusterInventory(lab) });

/** host → step ids the runbook plans. */
function planned(rb: Runbook): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const add = (host: string, ids: string[]) => (out[host] = [...(out[host] ?? []), ...ids]);
  for (const p of rb.phases) {
    if (p.kind === 'once')
      add(
        ONCE,
        p.steps.map((s) => s.id),
      );
    else if (p.kind === 'child') add(ONCE, [p.workflow]);
    else
      for (const h of p.hosts)
        add(
          h.target.name,
          h.steps.map((s) => s.id),
        );
  }
  return out;
}

/** What `kubeadm2ha setup --dry-run [--json] -i <inventory>` prints (it reads the facts over SSH, then plans). */
async function printed(json: boolean): Promise<string> {
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
  try {
    expect(await setup({ inventory: suite.inventoryFile, dryRun: true, json })).toBeUndefined();
  } finally {
    log.mockRestore();
  }
  return lines.join('\n');
}

/** `setup --dry-run --json`'s runbook, and how long reading the facts takes (the activity's own measure). */
async function dryRun(): Promise<{ rb: Runbook; factsMs: number }> {
  const rb = JSON.parse(await printed(true)) as Runbook;
  return { rb, factsMs: (await readSetupFactsHere(suite.inventory)).durationMs };
}

const setupCluster = () => suite.run<RunbookResult>('setupCluster', [{ inventory: suite.inventory }], 'setup');

describe('setupCluster on the real-Kubernetes lab', () => {
  it('bare hosts → 3 nodes Ready through the workflow; a second run changes nothing; no secret in history', async () => {
    const first = await setupCluster();
    process.stderr.write(
      `[setup workflow] bare hosts → all Ready: ${first.ms} ms, ${first.result.steps.length} steps\n`,
    );
    expect(await nodeStates(suite.lab)).toEqual(['h1 Ready', 'h2 Ready', 'h3 Ready']);
    expect(await vipReadyz(suite.lab, 'h3', 8443)).toBe('ok');
    for (const h of [first.history]) {
      expect(h).not.toMatch(/[a-z0-9]{6}\.[a-z0-9]{16}/);
      expect(h).not.toMatch(/PRIVATE KEY|client-key-data/);
    }
    const second = await setupCluster();
    process.stderr.write(`[setup workflow] rerun: ${second.ms} ms\n`);
    const rerun = JSON.stringify(second.result.steps.map((s) => s.result));
    expect(rerun).not.toMatch(/"(initialized|joined|installed|created)":true/);
    expect(rerun).not.toMatch(/"action":"(started|restarted)"/);
    // Planned from the facts it read first: nothing was missing, so no step ran at all.
    expect(second.result.steps.map((s) => `${s.host} ${s.step}`)).toEqual([]);
  }, 1_200_000);

  it('planned from facts: a finished cluster plans nothing; a worker reset by kubeadm plans only its join (and its etcd member), and a rerun rejoins it', async () => {
    const done = await dryRun();
    process.stderr.write(`[setup facts] finished cluster: facts read in ${done.factsMs} ms (3 hosts, under load)\n`);
    expect(done.rb.phases, describeRunbook(done.rb).join('\n')).toEqual([]);
    expect(await printed(false)).toContain('nothing to do: the hosts show every step done');
    expect(done.rb.alreadyDone?.find((d) => d.host === 'h3')?.steps).toEqual([
      'prepareNodeOs',
      'installKubePackages',
      'configureContainerd',
      'etcd', // h3 is also an etcd member here
      'joinNode',
    ]);

    // The worker taken back as uninstall does it (kubelet stopped, kubeadm reset, CNI state gone), and its Node
    // object deleted, as kubeadm's docs say for a node that leaves.
    const deps = createSshDeps(sshTrustOf(suite.inventory));
    try {
      const h3 = suite.inventory.hosts.find((h) => h.name === 'h3')!;
      await createActivities(deps).resetNode({
        host: { target: targetOf(h3), ssh: suite.inventory.ssh },
        externalEtcd: true,
        removePackages: false,
      });
    } finally {
      await deps.close();
    }
    await suite.lab.exec('h1', 'kubectl --kubeconfig /etc/kubernetes/admin.conf delete node h3 --wait=true');

    // kubeadm reset empties /etc/kubernetes/pki, the etcd member's certificates with it (h3 is also a member here):
    // the facts find its member unhealthy over TLS, so its etcd steps come back with the join; nothing else.
    const missing = await dryRun();
    process.stderr.write(
      `[setup facts] after the reset of h3 (facts ${missing.factsMs} ms):\n${describeRunbook(missing.rb).join('\n')}\n`,
    );
    const h3Etcd = ['ensureEtcdInstalled', 'ensureHostCertificates', 'configureEtcd', 'ensureEtcdRunning'];
    expect(planned(missing.rb)).toEqual({
      h3: [...h3Etcd, 'joinNode'],
      [ONCE]: ['ensureEtcdCa', 'ensureEtcdHealthy', 'waitNodesReady'],
    });

    const rejoin = await setupCluster();
    process.stderr.write(`[setup workflow] rerun after the reset: ${rejoin.ms} ms\n`);
    expect(rejoin.result.steps.map((s) => `${s.host} ${s.step}`).sort()).toEqual(
      [
        ...h3Etcd.map((s) => `h3 ${s}`),
        'h3 joinNode',
        `${ONCE} ensureEtcdCa`,
        `${ONCE} ensureEtcdHealthy`,
        `${ONCE} waitNodesReady`,
      ].sort(),
    );
    expect(JSON.stringify(rejoin.result.steps.find((s) => s.step === 'joinNode')!.result)).toMatch(/"joined":true/);
    expect(await nodeStates(suite.lab)).toEqual(['h1 Ready', 'h2 Ready', 'h3 Ready']);
    expect((await dryRun()).rb.phases).toEqual([]);
  }, 1_200_000);
});
