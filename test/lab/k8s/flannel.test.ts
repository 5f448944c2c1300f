// The pod network of issue 11, by plain commands: three lab hosts that come up with no CNI configuration at all
// (createK8sLab cni 'none'), a kubeadm cluster (1 control plane with stacked etcd, 2 workers) whose controller
// manager allocates each node a /28 of the lab's pod /25, then flannel applied from src/templates/flannel.ts with
// its image from the lab registry (flanneld built from the Go module proxy, our CNI plugin delegating to Debian's
// bridge and host-local). Nodes stay NotReady until flannel has run; then a pod on each worker reaches the other's
// pod IP through flannel's vxlan device, seen as VXLAN packets between the two hosts on the lab bridge, while no
// pod address ever appears unencapsulated there and nothing leaves the lab's /24. Nothing here is a stand-in.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createK8sLab, type K8sLab } from '../../../lab/k8s/k8s-lab.js';
import { vethName } from '../../../lab/names.js';
import { LAB_COMPONENT_CONFIGS, writeFileCommand } from '../../../lab/k8s/node.js';
import { flannelImages, flannelManifest, type FlannelValues } from '../../../src/templates/flannel.js';
import {
  ADMIN,
  captureLabTraffic,
  captureOnHosts,
  explain,
  inCidr,
  inPodNetns,
  installK8sPackages,
  joinConfig,
  joinSecrets,
  runHelloPod,
  waitForReadyNodes,
  type LabTrafficCapture,
} from '../../support/k8s-cluster.js';
import { labShell } from '../../support/lab-shell.js';
import { pollUntil } from '../../support/poll.js';
import { capture, type Capture } from '../../support/tcpdump.js';

let lab: K8sLab;
let flannel: FlannelValues;
const sh = (host: string, cmd: string): Promise<string> => labShell(lab)(host, cmd);
const address = (name: string): string => lab.hosts.find((h) => h.name === name)!.address;
const timings: Record<string, number> = {};
const keep = process.env.KUBEADM2HA_KEEP_LAB === '1';
let captures: LabTrafficCapture | undefined;
/** On every host's veth: packets whose outer header carries a pod address (with flannel there must be none), and
 * packets to or from anything outside the lab's /24. */
let barePodPackets: Capture | undefined;
let outsideOnHosts: Capture | undefined;
/** podCIDR of each node, as kube-controller-manager allocated it. */
const podCidrs: Record<string, string> = {};

beforeAll(async () => {
  lab = await createK8sLab({ hosts: 3, cni: 'none', detached: keep });
  flannel = lab.kubernetes.flannel!;
  captures = await captureLabTraffic(lab);
  barePodPackets = await captureOnHosts(lab, `ip and net ${lab.kubernetes.podSubnet}`);
  outsideOnHosts = await captureOnHosts(lab, `ip and not net 10.200.${lab.id}.0/24`);
}, 3_600_000);

afterAll(async () => {
  await Promise.all([
    captures?.leaving.stop(),
    captures?.inside.stop(),
    barePodPackets?.stop(),
    outsideOnHosts?.stop(),
  ]);
  process.stderr.write(`[k8s flannel] timings (s): ${JSON.stringify({ ...lab?.kubernetes.timings, ...timings })}\n`);
  if (keep) process.stderr.write(`[k8s flannel] lab ${lab?.id} kept: ssh -F ${lab?.sshConfigPath} h1\n`);
  else await lab?.destroy();
});

async function timed<T>(what: string, f: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const v = await f();
  timings[what] = Math.round(performance.now() - t0) / 1000;
  return v;
}

describe('flannel in the Kubernetes lab (plain commands)', () => {
  it('hosts come up without a pod network: no CNI configuration, no pod routes', async () => {
    expect(lab.kubernetes.cni).toBe('none');
    for (const h of lab.hosts) {
      expect(await sh(h.name, 'ls -A /etc/cni/net.d 2>/dev/null; true')).toBe('');
      // Only the lab's on-link /24: no route to any other host's pods.
      const routes = (await sh(h.name, 'ip -4 -o route show')).trim().split('\n');
      expect(routes.map((r) => r.split(' ').slice(0, 3).join(' '))).toEqual([`10.200.${lab.id}.0/24 dev eth0`]);
      // Debian's plugins where containerd looks (the kubernetes-cni layout); flannel's is not there yet.
      expect(await sh(h.name, 'ls /opt/cni/bin | grep -xE "bridge|host-local|portmap|loopback|flannel"')).toBe(
        'bridge\nhost-local\nloopback\nportmap\n',
      );
    }
  });

  it('kubeadm init with podSubnet and a /28 node mask, two workers join: each node gets a podCIDR, none is Ready', async () => {
    const k = lab.kubernetes;
    await timed('packages', () => installK8sPackages(lab));
    expect(flannel.network).toBe(k.podSubnet);
    const config = [
      'apiVersion: kubeadm.k8s.io/v1beta4',
      'kind: InitConfiguration',
      `localAPIEndpoint: { advertiseAddress: ${address('h1')}, bindPort: 6443 }`,
      'nodeRegistration: { name: h1, criSocket: unix:///run/containerd/containerd.sock }',
      '---',
      'apiVersion: kubeadm.k8s.io/v1beta4',
      'kind: ClusterConfiguration',
      `kubernetesVersion: v${k.version}`,
      'clusterName: k2h-lab',
      `imageRepository: ${k.imageRepository}`,
      `networking: { serviceSubnet: ${k.serviceSubnet}, podSubnet: ${flannel.network} }`,
      // The -ipv4 key: kubeadm's own check of podSubnet against the node mask reads it (v1beta4 list form).
      `controllerManager: { extraArgs: [{ name: node-cidr-mask-size-ipv4, value: "${flannel.subnetLen}" }] }`,
      '---',
      LAB_COMPONENT_CONFIGS,
    ].join('\n');
    await sh('h1', writeFileCommand('/root/kubeadm-init.yaml', config, '0600'));
    const init = await timed('kubeadm init', () => sh('h1', 'kubeadm init --config /root/kubeadm-init.yaml 2>&1'));
    expect(init).toMatch(/Your Kubernetes control-plane has initialized successfully/);
    const { token, caHash } = await joinSecrets(sh);
    await timed('kubeadm join (2 workers)', () =>
      Promise.all(
        ['h2', 'h3'].map(async (name) => {
          const join = joinConfig({ endpoint: `${address('h1')}:6443`, token, caHash, name });
          await sh(name, writeFileCommand('/root/kubeadm-join.yaml', join, '0600'));
          expect(await sh(name, 'kubeadm join --config /root/kubeadm-join.yaml 2>&1')).toMatch(
            /This node has joined the cluster/,
          );
        }),
      ),
    );

    // kube-controller-manager allocates the /28s (--allocate-node-cidrs, set by kubeadm from podSubnet).
    const allocated = await pollUntil(
      async () => {
        const out = await sh(
          'h1',
          `${ADMIN} get nodes -o jsonpath='{range .items[*]}{.metadata.name} {.spec.podCIDR}{"\\n"}{end}'`,
        );
        const rows = out
          .trim()
          .split('\n')
          .map((l) => l.split(' '));
        return rows.length === 3 && rows.every(([, cidr]) => cidr) ? rows : undefined;
      },
      'a podCIDR on every node',
      60_000,
      250,
    );
    for (const [name, cidr] of allocated) podCidrs[name!] = cidr!;
    expect(Object.keys(podCidrs).sort()).toEqual(['h1', 'h2', 'h3']);
    for (const cidr of Object.values(podCidrs)) {
      expect(cidr).toMatch(/\/28$/);
      expect(inCidr(cidr.split('/')[0]!, k.podSubnet)).toBe(true);
    }
    expect(new Set(Object.values(podCidrs)).size).toBe(3);

    // Without a pod network the kubelets report the runtime's network as not ready.
    const notReady = await pollUntil(
      async () => {
        const out = await sh(
          'h1',
          `${ADMIN} get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].message}{"\\n"}{end}'`,
        );
        const lines = out.trim().split('\n');
        return lines.length === 3 && lines.every((l) => /^False .*cni/i.test(l)) ? lines : undefined;
      },
      'three nodes NotReady for want of a CNI configuration',
      60_000,
      250,
    );
    expect(notReady[0]).toMatch(/NetworkReady=false|network plugin/i);
  }, 900_000);

  it('flannel from the lab registry: a Running pod per node, every node Ready, CoreDNS on pod IPs', async () => {
    const k = lab.kubernetes;
    await sh('h1', writeFileCommand('/root/kube-flannel.yml', flannelManifest(flannel)));
    const applied = await sh('h1', `${ADMIN} apply -f /root/kube-flannel.yml`);
    expect(applied).toMatch(/daemonset.apps\/kube-flannel-ds created/);
    await timed('flannel applied → all nodes Ready', () =>
      explain(lab, () => waitForReadyNodes(sh, 3, 300_000), 'kube-flannel'),
    );
    const pods = await timed('flannel applied → all flannel pods Ready (after nodes)', () =>
      explain(
        lab,
        () =>
          pollUntil(
            async () => {
              const out = await sh(
                'h1',
                `${ADMIN} -n kube-flannel get pods -o jsonpath='{range .items[*]}{.spec.nodeName} {.status.phase} {.status.containerStatuses[0].ready} {.spec.containers[0].image}{"\\n"}{end}'`,
              );
              const lines = out.trim().split('\n').sort();
              return lines.length === 3 && lines.every((l) => / Running true /.test(l)) ? lines : undefined;
            },
            'three flannel pods Running and Ready',
            180_000,
            500,
          ),
        'kube-flannel',
      ),
    );
    const image = flannelImages(k.imageRepository)[0]!;
    expect(pods).toEqual(['h1', 'h2', 'h3'].map((n) => `${n} Running true ${image}`));

    // CoreDNS could not start without a pod network; now its pods have addresses from the nodes' /28s.
    const dns = await explain(lab, () =>
      pollUntil(
        async () => {
          const out = await sh(
            'h1',
            `${ADMIN} -n kube-system get pods -l k8s-app=kube-dns -o jsonpath='{range .items[*]}{.spec.nodeName} {.status.podIP} {.status.containerStatuses[0].ready}{"\\n"}{end}'`,
          );
          const lines = out.trim().split('\n');
          return lines.length === 2 && lines.every((l) => / true$/.test(l)) ? lines : undefined;
        },
        'two CoreDNS pods Ready',
        120_000,
        500,
      ),
    );
    for (const line of dns) {
      const [node, ip] = line.split(' ');
      expect(inCidr(ip!, podCidrs[node!]!)).toBe(true);
    }
  }, 600_000);

  it("each node has flannel's vxlan device, its subnet from the controller manager, and routes to the others", async () => {
    for (const h of lab.hosts) {
      const env = await sh(h.name, 'cat /run/flannel/subnet.env');
      const [net, len] = podCidrs[h.name]!.split('/');
      const gateway = net!.replace(/\d+$/, (o) => String(Number(o) + 1));
      expect(env).toContain(`FLANNEL_NETWORK=${lab.kubernetes.podSubnet}\n`);
      expect(env).toContain(`FLANNEL_SUBNET=${gateway}/${len}\n`);
      expect(env).toContain('FLANNEL_MTU=1450\n');
      const link = await sh(h.name, 'ip -d -o link show flannel.1');
      expect(link).toMatch(new RegExp(`vxlan id 1 local ${h.address.replaceAll('.', '\\.')} dev eth0 .*dstport 8472`));
      expect(await sh(h.name, 'CNI_COMMAND=VERSION /opt/cni/bin/flannel')).toMatch(/"supportedVersions":\[.*"1\.0\.0"/);
      expect(await sh(h.name, 'ls /etc/cni/net.d')).toBe('10-flannel.conflist\n');
      for (const other of lab.hosts.filter((o) => o.name !== h.name)) {
        const cidr = podCidrs[other.name]!;
        expect(await sh(h.name, `ip -4 -o route show ${cidr}`)).toMatch(
          new RegExp(
            `^${cidr.replaceAll('.', '\\.')} via ${cidr.split('/')[0]!.replaceAll('.', '\\.')} dev flannel\\.1 onlink`,
          ),
        );
      }
    }
  });

  it("a pod on each worker reaches the other's pod IP, carried by VXLAN between the two hosts", async () => {
    const k = lab.kubernetes;
    const [ipA, ipB] = await timed('hello pods Ready on h2 and h3', () =>
      Promise.all([
        runHelloPod(sh, { name: 'hello-a', node: 'h2', imageRepository: k.imageRepository }),
        runHelloPod(sh, { name: 'hello-b', node: 'h3', imageRepository: k.imageRepository }),
      ]),
    );
    expect(inCidr(ipA, podCidrs.h2!)).toBe(true);
    expect(inCidr(ipB, podCidrs.h3!)).toBe(true);

    // On h2's veth (the bridge device itself never sees unicast between two of its ports).
    const vxlan = capture(vethName(lab.id, 2), `udp port 8472 and host ${address('h2')} and host ${address('h3')}`);
    await vxlan.listening;
    const aToB = await inPodNetns(sh, 'hello-a', 'h2', `curl -sf --max-time 5 http://${ipB}:8080/`);
    const bToA = await inPodNetns(sh, 'hello-b', 'h3', `curl -sf --max-time 5 http://${ipA}:8080/`);
    const ping = await inPodNetns(sh, 'hello-a', 'h2', `ping -n -q -c 20 -i 0.2 -W 2 ${ipB}`);
    const vxlanPackets = await vxlan.stop();
    expect(aToB).toBe(`hello from hello-b ${ipB}\n`);
    expect(bToA).toBe(`hello from hello-a ${ipA}\n`);
    expect(ping).toMatch(/20 packets transmitted, 20 received, 0% packet loss/);
    const rtt = /rtt min\/avg\/max\/mdev = ([\d.]+)\/([\d.]+)\/([\d.]+)/.exec(ping)!;
    process.stderr.write(`[k8s flannel] pod-to-pod RTT h2→h3 (ms): min ${rtt[1]} avg ${rtt[2]} max ${rtt[3]}\n`);
    // Two HTTP exchanges and 20 pings each way: every one of them crossed between the hosts inside VXLAN.
    process.stderr.write(`[k8s flannel] VXLAN packets between h2 and h3: ${vxlanPackets}\n`);
    expect(vxlanPackets).toBeGreaterThanOrEqual(40);
  }, 300_000);

  it('no pod address appeared unencapsulated between hosts, and nothing left the lab', async () => {
    const [leaving, inside, bare, outside] = await Promise.all([
      captures!.leaving.stop(),
      captures!.inside.stop(),
      barePodPackets!.stop(),
      outsideOnHosts!.stop(),
    ]);
    process.stderr.write(
      `[k8s flannel] packets: on the lab bridge ${inside} to lab addresses, ${leaving} elsewhere; on the hosts' veths ` +
        `${outside} to or from outside the lab's /24, ${bare} with a pod address outside VXLAN\n`,
    );
    expect(inside).toBeGreaterThan(1000); // the captures work: the cluster's own traffic is there
    expect(leaving).toBe(0);
    expect(outside).toBe(0);
    expect(bare).toBe(0);
  });
});
