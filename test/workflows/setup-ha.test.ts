// Issue 11's "done when", through Temporal on the real-Kubernetes lab: 5 bare hosts with no pod network at all
// (createK8sLab cni 'none') become 3 masters (external etcd on them, keepalived VIP, haproxy on VIP:8443) + 2 workers
// with flannel, by the setupCluster workflow. All nodes Ready; a pod on each worker reaches the other's pod IP
// through flannel's VXLAN; the API answers through the VIP and through the load balancer, and still after the VIP
// holder's keepalived is stopped; a second run changes nothing (from what every activity reports); the history holds
// no secret; nothing left the lab's /24. Nothing here is a stand-in.
import { loadavg } from 'node:os';
import { describe, expect, it } from 'vitest';
import type { ApplyPodNetworkResult } from '../../src/activities/kube-api.js';
import { readSetupFactsHere } from '../../src/cli/commands/setup.js';
import { vethName } from '../../lab/names.js';
import type { RunbookResult } from '../../src/workflows/runbook.js';
import {
  ADMIN,
  captureLabTraffic,
  explain,
  inCidr,
  inPodNetns,
  type LabTrafficCapture,
  runHelloPod,
  vipReadyz,
} from '../support/k8s-cluster.js';
import { labShell } from '../support/lab-shell.js';
import { labSuite } from '../support/lab-suite.js';
import { pollUntil } from '../support/poll.js';
import {
  changesIn,
  flannelLabInventory,
  haRoles,
  phaseSeconds,
  runSetupWorkflow,
  secretsIn,
} from '../support/setup-run.js';
import { capture } from '../support/tcpdump.js';

let captures: LabTrafficCapture | undefined;
const suite = labSuite({
  name: 'setup-ha',
  lab: { hosts: 5, cni: 'none' },
  inventory: (lab) => flannelLabInventory(lab, haRoles),
  ready: async (suite) => {
    captures = await captureLabTraffic(suite.lab);
  },
  cleanUp: [() => Promise.all([captures?.leaving.stop(), captures?.inside.stop()])],
});
const sh = (host: string, cmd: string): Promise<string> => labShell(suite.lab)(host, cmd);
const address = (name: string): string => suite.lab.hosts.find((h) => h.name === name)!.address;
const masters = ['h1', 'h2', 'h3'];
const podNetworkOf = (r: RunbookResult): ApplyPodNetworkResult =>
  r.steps.find((s) => s.step === 'applyPodNetwork')!.result as ApplyPodNetworkResult;
const setup = () => runSetupWorkflow({ temporal: suite.temporal, bundle: suite.bundle, inventory: suite.inventory });
const vipHolder = async (): Promise<string | undefined> => {
  for (const m of masters) if ((await sh(m, 'ip -4 -o addr show dev eth0')).includes(` ${suite.lab.vip}/25 `)) return m;
  return undefined;
};

describe('setupCluster: 3 masters + 2 workers with flannel on the real-Kubernetes lab', () => {
  it('bare hosts → every node Ready with a /29 of the pod range; flannel applied; no secret in history', async () => {
    const first = await setup();
    process.stderr.write(
      `[setup HA] bare hosts → all 5 Ready by the workflow: ${first.ms} ms, ${first.result.steps.length} steps; ` +
        `load ${loadavg()
          .map((l) => l.toFixed(1))
          .join('/')}; phases (s): ${JSON.stringify(phaseSeconds(first.result, first.startedAt))}\n`,
    );
    const nodes = await sh(
      'h1',
      `${ADMIN} get nodes -o jsonpath='{range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status} {.spec.podCIDR}{"\\n"}{end}'`,
    );
    const rows = nodes
      .trim()
      .split('\n')
      .sort()
      .map((l) => l.split(' '));
    expect(rows.map(([n, ready]) => `${n} ${ready}`)).toEqual(suite.lab.hosts.map((h) => `${h.name} True`));
    const cidrs = rows.map(([, , cidr]) => cidr!);
    for (const c of cidrs) {
      expect(c).toMatch(/\/29$/);
      expect(inCidr(c.split('/')[0]!, suite.inventory.cluster.podSubnet)).toBe(true);
    }
    expect(new Set(cidrs).size).toBe(5);
    // Flannel's six objects created, its pods Running on every node from the lab registry's image.
    const net = podNetworkOf(first.result);
    expect(net.objects).toBe(6);
    expect(net.changed).toHaveLength(6);
    // A node is Ready once flannel's init containers wrote the CNI config; flanneld itself may still be starting.
    await pollUntil(
      async () =>
        (await sh('h1', `${ADMIN} -n kube-flannel get pods --no-headers`))
          .trim()
          .split('\n')
          .filter((l) => /\s1\/1\s+Running\s/.test(l)).length === 5,
      'five flannel pods Running and Ready',
      180_000,
      500,
    );
    expect(await sh('h1', 'ls /etc/cni/net.d')).toBe('10-flannel.conflist\n');
    // CoreDNS scaled to the masters.
    expect(await sh('h1', `${ADMIN} -n kube-system get deploy coredns -o jsonpath='{.spec.replicas}'`)).toBe('3');
    expect(secretsIn(first.history)).toEqual([]);
  }, 1_800_000);

  it("a pod on each worker reaches the other's pod IP, carried by flannel's VXLAN between the two hosts", async () => {
    const k = suite.lab.kubernetes;
    const [ipA, ipB] = await explain(
      suite.lab,
      () =>
        Promise.all([
          runHelloPod(sh, { name: 'hello-a', node: 'h4', imageRepository: k.imageRepository }),
          runHelloPod(sh, { name: 'hello-b', node: 'h5', imageRepository: k.imageRepository }),
        ]),
      'kube-flannel',
    );
    const vxlan = capture(
      vethName(suite.lab.id, 4),
      `udp port 8472 and host ${address('h4')} and host ${address('h5')}`,
    );
    await vxlan.listening;
    const aToB = await inPodNetns(sh, 'hello-a', 'h4', `curl -sf --max-time 5 http://${ipB}:8080/`);
    const bToA = await inPodNetns(sh, 'hello-b', 'h5', `curl -sf --max-time 5 http://${ipA}:8080/`);
    const packets = await vxlan.stop();
    expect(aToB).toBe(`hello from hello-b ${ipB}\n`);
    expect(bToA).toBe(`hello from hello-a ${ipA}\n`);
    expect(packets).toBeGreaterThanOrEqual(4); // both TCP exchanges crossed inside VXLAN
  }, 300_000);

  it('the API answers through the VIP and through haproxy on the VIP', async () => {
    expect(suite.inventory.cluster.loadBalancer).toMatchObject({ kind: 'haproxy', port: 8443 });
    expect(await vipReadyz(suite.lab, 'h4', 6443)).toBe('ok');
    expect(await vipReadyz(suite.lab, 'h4', 8443)).toBe('ok');
    // The cluster's own endpoint is the load balancer: a worker's kubelet reaches the API through it.
    expect(await sh('h5', "grep -o 'server: .*' /etc/kubernetes/kubelet.conf")).toBe(
      `server: https://${suite.lab.vip}:8443\n`,
    );
  });

  it('a second run changes nothing: planned from the facts it reads first, it has no step to run; the facts find the pod network applied as the setup would apply it', async () => {
    const second = await setup();
    process.stderr.write(`[setup HA] rerun (5 hosts, nothing to do): ${second.ms} ms\n`);
    expect(second.result.steps.map((s) => `${s.host} ${s.step}`)).toEqual([]);
    expect(changesIn(second.result.steps)).toEqual([]);
    expect((await readSetupFactsHere(suite.inventory)).cluster?.podNetwork).toBe(true);
    expect(secretsIn(second.history)).toEqual([]);
  }, 900_000);

  it("the API still answers through the VIP and the load balancer after the VIP holder's keepalived stops", async () => {
    const holder = await vipHolder();
    expect(holder).toBe('h1'); // rank 0: the primary holds the VIP while all is well
    await sh(holder!, 'kill $(cat /run/keepalived.pid)');
    const next = await pollUntil(
      async () => {
        const h = await vipHolder();
        return h && h !== holder ? h : undefined;
      },
      'the VIP on another master',
      60_000,
      200,
    );
    expect(['h2', 'h3']).toContain(next);
    for (const port of [6443, 8443])
      await pollUntil(
        async () => (await vipReadyz(suite.lab, 'h4', port, { maxTimeSeconds: 3, allowFail: true })) === 'ok',
        `the API on ${suite.lab.vip}:${port} after failover`,
        60_000,
        200,
      );
    expect(await sh('h4', `kubectl --kubeconfig /etc/kubernetes/kubelet.conf get node h4 -o name`)).toBe('node/h4\n');
  }, 180_000);

  it('sent nothing to any address outside the lab', async () => {
    const [leaving, inside] = await Promise.all([captures!.leaving.stop(), captures!.inside.stop()]);
    expect(inside).toBeGreaterThan(1000);
    expect(leaving).toBe(0);
  });
});
