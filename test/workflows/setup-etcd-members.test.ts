// The external etcd group of a running cluster changes, and `setup` runs again (the setupCluster workflow on the
// real-Kubernetes lab, 2 masters + 1 worker, external etcd on all three): 3 → 5 members (h4, h5 etcd-only hosts
// join one at a time), then kubeadm-config's etcd.external.endpoints and, one master at a time, each kube-apiserver's
// --etcd-servers follow, each master gated on its /readyz. Checked independently of the workflow's own results: the
// manifests and the ConfigMap on the hosts, the running API servers' command lines (mirror pods), /readyz on each
// master's own address, and a rerun that plans nothing. Then 5 → 3: the API servers leave h4 and h5 first (checked while
// the run waits for the removal's approval, both still members), then they leave etcd.
import { describe, expect, it, vi } from 'vitest';
import { setup as setupCommand } from '../../src/cli/commands/setup.js';
import { Inventory } from '../../src/inventory/schema.js';
import type { Runbook } from '../../src/plan/runbook.js';
import type { RunbookResult } from '../../src/workflows/runbook.js';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { labClusterInventory } from '../support/lab-cluster.js';
import { labSuite } from '../support/lab-suite.js';
import { pollUntil } from '../support/poll.js';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities/index.js';
import { createSshDeps } from '../../src/activities/ssh-deps.js';
import { sshTrustOf } from '../../src/activities/ssh-trust.js';
import { etcdHealthcheckClient, etcdCa } from '../../src/pki/layout.js';
import { dataConverter } from '../../src/temporal/data-converter.js';
import { approveUpdate, progressQuery } from '../../src/workflows/messages.js';
import { uniqueQueue } from '../e2e/helpers.js';
import { moveEtcdLeader, vipHolder, withEtcdDiagnostics } from '../support/etcd-diagnostics.js';

const masters = ['h1', 'h2'];
const oldMembers = ['h1', 'h2', 'h3'];
const newMembers = ['h4', 'h5'];

const suite = labSuite({
  name: 'setup-etcd-members',
  lab: { hosts: 5 },
  // h1..h3 the cluster (etcd on each); h4 and h5 wait outside the inventory.
  inventory: (lab) => {
    const all = labClusterInventory(lab, [
      ['primary-master', 'etcd'],
      ['secondary-master', 'etcd'],
      ['worker', 'etcd'],
      ['etcd'],
      ['etcd'],
    ]);
    return Inventory.parse({ ...all, hosts: all.hosts.filter((h) => oldMembers.includes(h.name)) });
  },
  ready: async (s) => {
    const { ms } = await s.run<RunbookResult>('setupCluster', [{ inventory: s.inventory }], 'setup');
    process.stderr.write(`[setup-etcd-members] cluster with 3 etcd members set up in ${ms} ms\n`);
  },
});

/** The inventory with these etcd-only hosts added. */
function withEtcdHosts(names: string[]): Inventory {
  const inv = suite.inventory;
  return Inventory.parse({
    ...inv,
    hosts: [
      ...inv.hosts,
      ...names.map((name) => ({
        name,
        address: suite.lab.hosts.find((h) => h.name === name)!.address,
        roles: ['etcd' as const],
      })),
    ],
  });
}

/** `kubeadm2ha setup --dry-run --json` as the CLI runs it (facts over SSH, no Temporal). */
async function dryRun(inv: Inventory): Promise<Runbook> {
  const file = join(suite.scratch, `dry-run-${inv.hosts.length}.yaml`);
  await writeFile(file, stringify(inv));
  const out: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((line: string) => void out.push(line));
  try {
    await setupCommand({ inventory: file, dryRun: true, json: true });
  } finally {
    log.mockRestore();
  }
  return JSON.parse(out.join('\n')) as Runbook;
}

const endpointsOf = (names: string[]) =>
  names.map((n) => `https://${suite.lab.hosts.find((h) => h.name === n)!.address}:2379`);
const sorted = (a: string[]) => [...a].sort();
const K = 'kubectl --kubeconfig /etc/kubernetes/admin.conf --request-timeout=20s';

/** What a master runs and says, asked on the hosts: manifest flag, mirror pod command flag, /readyz on its address. */
async function apiserverOn(master: string) {
  const lab = suite.lab;
  const address = lab.hosts.find((h) => h.name === master)!.address;
  const manifest = (
    await lab.exec(master, "sed -n 's/^ *- --etcd-servers=//p' /etc/kubernetes/manifests/kube-apiserver.yaml")
  ).stdout.trim();
  const running = (
    await lab.exec(
      'h1',
      `${K} -n kube-system get pod kube-apiserver-${master} -o jsonpath='{.spec.containers[0].command}'`,
    )
  ).stdout;
  const flag = /--etcd-servers=([^"]*)/.exec(running)?.[1] ?? '';
  const readyz = (
    await lab.exec('h1', `${K} --server https://${address}:6443 get --raw /readyz`, { allowFail: true })
  ).stdout.trim();
  return { manifest: sorted(manifest.split(',')), running: sorted(flag.split(',')), readyz };
}

// This file was opt-in for a while: beside another lab h4's join failed ("started, not healthy yet (context deadline
// exceeded)"). The cause was the lab's VIP (a /25 on /24 hosts): keepalived's prefix route made the VIP the source
// of the VIP holder's connections, etcd refused them (a peer's address must be in its certificate), and a member
// joining while that master led never caught up. keepalived now adds the VIP with noprefixroute; the 3 → 5 test
// moves the leader onto the VIP holder first, so that case runs every time.
describe("setup follows the etcd group: kubeadm-config and every master's --etcd-servers", () => {
  it('3 → 5: the new members join, then kubeadm-config, then each master one at a time; a rerun plans nothing', async () => {
    const five = withEtcdHosts(newMembers);
    const plan = await dryRun(five);
    const ids = plan.phases.map((p) => p.id);
    expect(ids).toEqual(expect.arrayContaining(['etcd-join', 'etcd-endpoints', 'apiserver-etcd']));
    expect(ids.indexOf('etcd-join')).toBeLessThan(ids.indexOf('etcd-endpoints'));
    expect(ids.indexOf('etcd-endpoints')).toBeLessThan(ids.indexOf('apiserver-etcd'));
    const rollout = plan.phases.find((p) => p.id === 'apiserver-etcd');
    expect(rollout).toMatchObject({ kind: 'hosts', rollout: { kind: 'serial' } });
    expect(rollout?.kind === 'hosts' && rollout.hosts.map((h) => h.target.name)).toEqual(masters);

    // The hardest place for the leader during a join: the master holding the VIP (its connections to the new members
    // must leave from its own address, not the VIP's, or their etcd refuses them: the peer certificate names the
    // host's address).
    // Not skipped when no master holds the VIP: the scenario this file exists for must run every time.
    const holder = await vipHolder(suite.lab, masters);
    expect(holder, 'no master holds the VIP').toBeDefined();
    const moved = await moveEtcdLeader(suite.lab, oldMembers, holder!);
    process.stderr.write(`[setup-etcd-members] VIP on ${holder}; etcd leader ${moved.before} -> ${moved.after}\n`);
    expect(moved.after, 'the etcd leader is on the VIP holder').toBe(holder);
    const { result, ms } = await withEtcdDiagnostics(
      'setup-etcd-members',
      suite.lab,
      [...oldMembers, ...newMembers],
      () =>
        // abort: a failed step ends the run (with the diagnostics) instead of parking it for a decision nobody gives.
        suite.run<RunbookResult>('setupCluster', [{ inventory: five, onFailure: 'abort' }], 'setup'),
    );
    process.stderr.write(`[setup-etcd-members] 3 → 5 etcd members through setup: ${ms} ms\n`);
    const at = (host: string, step: string) => result.steps.findIndex((s) => s.host === host && s.step === step);
    // One master at a time: h2's manifest was written only after h1's API server came back ready.
    expect(at('h1', 'waitApiserverReady')).toBeLessThan(at('h2', 'updateApiserverEtcdServers'));
    expect(at('cluster', 'updateKubeadmEtcdEndpoints')).toBeLessThan(at('h1', 'updateApiserverEtcdServers'));

    const all = sorted(endpointsOf([...oldMembers, ...newMembers]));
    for (const m of masters) expect(await apiserverOn(m), m).toEqual({ manifest: all, running: all, readyz: 'ok' });
    const config = (
      await suite.lab.exec(
        'h1',
        `${K} -n kube-system get configmap kubeadm-config -o jsonpath='{.data.ClusterConfiguration}'`,
      )
    ).stdout;
    for (const e of all) expect(config).toContain(`- ${e}`);
    // The kept copy of each manifest is outside the kubelet's static pod dir.
    for (const m of masters)
      expect((await suite.lab.exec(m, 'ls /etc/kubernetes/manifests/')).stdout.trim().split('\n').sort()).toEqual([
        'kube-apiserver.yaml',
        'kube-controller-manager.yaml',
        'kube-scheduler.yaml',
      ]);

    const again = await dryRun(five);
    expect(again.phases).toEqual([]);
  }, 1_200_000);

  it('5 → 3: the API servers leave h4 and h5 first, then after approval they leave etcd one at a time; a rerun plans nothing', async () => {
    const three = suite.inventory;
    const plan = await dryRun(three);
    const ids = plan.phases.map((p) => p.id);
    expect(ids).toEqual(['etcd-endpoints', 'apiserver-etcd', 'etcd-remove', 'converge']);
    expect(plan.phases.find((p) => p.id === 'etcd-remove')?.approval).toEqual({ scope: 'phase' });

    const members = async () => {
      const tls = `--cacert ${etcdCa.certPath} --cert ${etcdHealthcheckClient.certPath} --key ${etcdHealthcheckClient.keyPath}`;
      const out = (
        await suite.lab.exec(
          'h1',
          `ETCDCTL_API=3 etcdctl --endpoints ${endpointsOf(['h1'])[0]} ${tls} member list -w json`,
        )
      ).stdout;
      return (JSON.parse(out) as { members: { name: string }[] }).members.map((m) => m.name).sort();
    };
    const kept = sorted(endpointsOf(oldMembers));
    let atApproval: Awaited<ReturnType<typeof apiserverOn>>[] = [];
    const taskQueue = uniqueQueue('setup');
    const deps = createSshDeps(sshTrustOf(three));
    const worker = await Worker.create({
      connection: suite.temporal.native,
      taskQueue,
      workflowBundle: suite.bundle,
      dataConverter: dataConverter(),
      activities: createActivities(deps),
    });
    const started = Date.now();
    let result: RunbookResult;
    try {
      result = await worker.runUntil(async () => {
        const handle = await suite.temporal.client.workflow.start('setupCluster', {
          taskQueue,
          workflowId: `${three.cluster.name}/setup/${taskQueue}`,
          args: [{ inventory: three, onFailure: 'abort' }],
        });
        await pollUntil(
          async () =>
            (await handle.query(progressQuery)).waiting?.some((w) => w.kind === 'approve' && w.phase === 'etcd-remove'),
          'the removal to wait for approval',
          900_000,
          1_000,
        );
        // By now every API server has left h4 and h5, and both are still members.
        atApproval = await Promise.all(masters.map(apiserverOn));
        expect(await members()).toEqual([...oldMembers, ...newMembers]);
        await handle.executeUpdate(approveUpdate, { args: [{ phase: 'etcd-remove', by: 'ops@test' }] });
        return (await handle.result()) as RunbookResult;
      });
    } finally {
      await deps.close();
    }
    process.stderr.write(`[setup-etcd-members] 5 → 3 etcd members through setup: ${Date.now() - started} ms\n`);
    for (const [i, m] of masters.entries())
      expect(atApproval[i], m).toEqual({ manifest: kept, running: kept, readyz: 'ok' });
    expect(await members()).toEqual(oldMembers);
    const removed = result.steps.filter((s) => s.step === 'removeEtcdMember').map((s) => s.host);
    expect(removed).toEqual(newMembers);
    for (const h of newMembers) {
      expect((await suite.lab.exec(h, 'ls -d /var/lib/etcd.removed-*')).stdout.trim()).toMatch(
        /etcd\.removed-[0-9a-f]+$/,
      );
      expect((await suite.lab.exec(h, 'test -e /var/lib/etcd', { allowFail: true })).code).not.toBe(0);
    }
    for (const m of masters) expect(await apiserverOn(m), m).toEqual({ manifest: kept, running: kept, readyz: 'ok' });
    expect((await dryRun(three)).phases).toEqual([]);
  }, 1_200_000);
});
