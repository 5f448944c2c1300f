// setup → uninstall → setup on the same hosts of the real-Kubernetes lab, each through a real Temporal server and
// worker (setupCluster, uninstallCluster): after the uninstall nothing of the cluster is left on any host (processes,
// containers, kubeadm's files, etcd data and certificates, keepalived's VIP, haproxy, CNI state, kube-proxy's iptables
// chains), a second uninstall finds nothing, and the second setup brings every node Ready again. Then `kubeconfig`
// against that cluster: kubectl through the VIP with a certificate signed by the local CA, and its validity honoured.
import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { GC_ROOT_LABEL, GC_ROOT_VALUE } from '../../src/activities/images-host.js';
import type { UninstallResult } from '../../src/activities/uninstall.js';
import { quote } from '../../src/ssh/quote.js';
import type { RunbookResult } from '../../src/workflows/runbook.js';
import { DEFAULT_GROUP, issueKubeconfig } from '../../src/cli/commands/kubeconfig.js';
import { pollUntil } from '../e2e/helpers.js';
import { nodeStates, vipReadyz } from '../support/k8s-cluster.js';
import { labSuite } from '../support/lab-suite.js';
import { flannelLabInventory, runSetupWorkflow } from '../support/setup-run.js';

// No pod network on the hosts: setup brings flannel, so the uninstall has flannel's state to remove too.
const suite = labSuite({
  name: 'uninstall-wf',
  lab: { hosts: 3, cni: 'none' },
  inventory: (lab) =>
    flannelLabInventory(lab, (i) =>
      i === 1 ? ['primary-master', 'etcd'] : i === 2 ? ['secondary-master', 'etcd'] : ['worker', 'etcd'],
    ),
});

const setup = () => runSetupWorkflow(suite);
const uninstall = () => suite.run<RunbookResult>('uninstallCluster', [{ inventory: suite.inventory }], 'uninstall');
const load = async () => (await suite.lab.exec('h1', 'cut -d" " -f1 /proc/loadavg')).stdout.trim();
const sh = async (h: string, cmd: string) => (await suite.lab.exec(h, cmd, { allowFail: true })).stdout.trim();
const lines = (s: string) => s.split('\n').filter(Boolean);
const removed = (r: RunbookResult) => r.steps.flatMap((s) => (s.result as UninstallResult).removed);
/** What a best-effort part could not do (the images push blobs' release answering anything but a count). */
const warnings = (r: RunbookResult) => r.steps.flatMap((s) => (s.result as UninstallResult).warnings ?? []);

// Everything of the cluster a host could still hold, as one text: empty means clean.
const leftovers = (vip: string) => `
pgrep -l -x 'kubelet|kube-apiserver|kube-controller|kube-scheduler|kube-proxy|etcd|keepalived|haproxy|coredns' || true
ctr -n k8s.io containers ls -q 2>/dev/null
ctr -n k8s.io content ls -q ${quote(`labels."${GC_ROOT_LABEL}"==${GC_ROOT_VALUE}`)} 2>/dev/null
find /etc/kubernetes /var/lib/kubelet /var/lib/etcd /var/lib/cni -type f 2>/dev/null
ls /etc/etcd/etcd.conf.yml /etc/keepalived/keepalived.conf /etc/haproxy/haproxy.cfg 2>/dev/null
ip -o addr show | grep -F ' ${vip}/' || true
ip -o link show | grep -E ': (cni0|flannel\\.1)[:@]' || true
ls /etc/cni/net.d/10-flannel.conflist /run/flannel 2>/dev/null
for s in iptables-nft-save iptables-legacy-save ip6tables-nft-save ip6tables-legacy-save; do
  $s 2>/dev/null | grep -E '^:(KUBE-|FLANNEL|CNI-)|-j (KUBE-|FLANNEL|CNI-)' | head -3
done
ss -ltnH '( sport = :10250 or sport = :6443 or sport = :8443 or sport = :2379 )'
`;

describe('uninstallCluster on the real-Kubernetes lab', () => {
  it('setup → uninstall leaves nothing → a second uninstall finds nothing → setup again: all Ready', async () => {
    const hosts = suite.lab.hosts.map((h) => h.name);
    const check = (h: string) => sh(h, leftovers(suite.lab.vip));

    // Bare hosts may hold some of it already (the machine's own /etc/haproxy/haproxy.cfg shows through the lab's
    // /etc overlay): after the uninstall a host may hold only what it held before the first setup.
    const bare = Object.fromEntries(await Promise.all(hosts.map(async (h) => [h, lines(await check(h))] as const)));
    const first = await setup();
    expect(await nodeStates(suite.lab)).toEqual(['h1 Ready', 'h2 Ready', 'h3 Ready']);
    // What the uninstall must remove is really there (so "nothing left" below can fail).
    for (const h of hosts) expect(await check(h)).toMatch(/kubelet/);
    expect(await sh('h1', 'iptables-save | grep -c "^:KUBE-"')).not.toBe('0');
    // flanneld adds its chains shortly after it starts, which may be after the nodes are Ready: wait for them.
    await pollUntil(
      async () => (await sh('h3', 'iptables-save | grep -c "^:FLANNEL" || true')) !== '0',
      "flanneld's FLANNEL chains on h3",
      120_000,
      500,
    );
    expect(await sh('h3', 'ip -o link show flannel.1; ls /etc/cni/net.d')).toMatch(
      /flannel\.1[\s\S]*10-flannel\.conflist/,
    );
    const setupLoad = await load();

    const un = await uninstall();
    const unLoad = await load();
    process.stderr.write(
      `[uninstall workflow] setup ${first.ms} ms (load ${setupLoad}), uninstall ${un.ms} ms (load ${unLoad}), ` +
        `${removed(un.result).length} things removed\n`,
    );
    expect(removed(un.result)).toEqual(
      expect.arrayContaining(['kubeadm reset', '/etc/keepalived/keepalived.conf', '/etc/haproxy/haproxy.cfg']),
    );
    expect(warnings(un.result)).toEqual([]);
    for (const h of hosts) {
      const left = lines(await check(h)).filter((l) => !bare[h]!.includes(l));
      expect({ host: h, left }).toEqual({ host: h, left: [] });
    }
    // The kubelet's unit is back, waiting (like a fresh node's) for the next kubeadm init or join.
    for (const h of hosts) expect(await sh(h, 'test -d /proc/$(cat /run/kubelet.pid) && echo up')).toBe('up');

    const again = await uninstall();
    expect(removed(again.result)).toEqual([]);
    expect(warnings(again.result)).toEqual([]);
    process.stderr.write(`[uninstall workflow] second uninstall ${again.ms} ms\n`);

    const second = await setup();
    process.stderr.write(`[uninstall workflow] setup again ${second.ms} ms (load ${await load()})\n`);
    expect(await nodeStates(suite.lab)).toEqual(['h1 Ready', 'h2 Ready', 'h3 Ready']);
    expect(await vipReadyz(suite.lab, 'h3', 8443)).toBe('ok');
    // It was a new cluster, not the old one found again.
    const joins = JSON.stringify(second.result.steps.map((s) => s.result));
    expect(joins).toMatch(/"initialized":true/);
    expect(joins).toMatch(/"joined":true/);
  }, 1_800_000);

  it('kubeconfig: kubectl lists the nodes through the VIP with a locally signed certificate; its validity is honoured', async () => {
    const kubectl = (file: string) =>
      promisify(execFile)(
        suite.lab.kubernetes.binaries.paths.kubectl,
        ['--kubeconfig', file, 'get', 'nodes', '--no-headers'],
        {
          timeout: 30_000,
        },
      );
    const file = join(suite.scratch, 'admin.kubeconfig');
    const issued = await issueKubeconfig(suite.inventory, {
      user: 'alice',
      groups: [DEFAULT_GROUP],
      validitySeconds: 3600,
      path: file,
    });
    expect(issued.server).toBe(`https://${suite.lab.vip}:8443`);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(
      (await kubectl(file)).stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(/\s+/)[0]),
    ).toEqual(['h1', 'h2', 'h3']);
    // Not overwritten without --force; replaced with it.
    await expect(
      issueKubeconfig(suite.inventory, { user: 'bob', groups: [], validitySeconds: 60, path: file }),
    ).rejects.toThrow(/exists/);
    expect(await readFile(file, 'utf8')).toContain('name: alice');

    // A certificate for 20 s: accepted now, refused by the apiserver once it has expired.
    const short = join(suite.scratch, 'short.kubeconfig');
    await issueKubeconfig(suite.inventory, {
      user: 'alice',
      groups: [DEFAULT_GROUP],
      validitySeconds: 20,
      path: short,
    });
    await kubectl(short);
    const refused = await pollUntil(
      () =>
        kubectl(short).then(
          () => undefined,
          (e: { stderr?: string }) => e.stderr ?? 'failed',
        ),
      'the apiserver to refuse the expired certificate',
      120_000,
      1_000,
    );
    expect(refused).toMatch(/Unauthorized|must be logged in/);
    // Without the group, the same user is authenticated but may do nothing.
    const none = join(suite.scratch, 'none.kubeconfig');
    await issueKubeconfig(suite.inventory, { user: 'alice', groups: [], validitySeconds: 600, path: none });
    const denied = await kubectl(none).then(
      () => 'allowed',
      (e: { stderr?: string }) => e.stderr ?? '',
    );
    expect(denied).toMatch(/forbidden/i);
  }, 300_000);
});
