import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import {
  FLANNEL_VERSION,
  flannelImages,
  flannelManifest,
  FlannelValuesError,
  type FlannelValues,
} from '../../../src/templates/flannel.js';

const lab: FlannelValues = { network: '10.200.7.128/25', subnetLen: 28, imageRepository: '10.200.7.1:5000/k8s/' };

interface Doc {
  kind: string;
  metadata: { name: string; namespace?: string };
  data?: Record<string, string>;
  spec?: { template: { spec: DsPod } };
}
interface Container {
  name: string;
  image: string;
  command: string[];
  args: string[];
  volumeMounts: { name: string; mountPath: string }[];
}
interface DsPod {
  hostNetwork: boolean;
  initContainers: Container[];
  containers: Container[];
  volumes: { name: string; hostPath?: { path: string } }[];
}

function docs(v: FlannelValues): Doc[] {
  const parsed = parseAllDocuments(flannelManifest(v));
  for (const d of parsed) expect(d.errors).toEqual([]);
  return parsed.map((d) => d.toJS() as Doc);
}
const ds = (v: FlannelValues): DsPod => docs(v).find((d) => d.kind === 'DaemonSet')!.spec!.template.spec;

describe('flannel manifest template', () => {
  it("has upstream's objects, in an order kubectl can apply (namespace first)", () => {
    expect(docs(lab).map((d) => `${d.kind}/${d.metadata.name}`)).toEqual([
      'Namespace/kube-flannel',
      'ClusterRole/flannel',
      'ClusterRoleBinding/flannel',
      'ServiceAccount/flannel',
      'ConfigMap/kube-flannel-cfg',
      'DaemonSet/kube-flannel-ds',
    ]);
  });

  it("net-conf.json carries the cluster's pod network, the node subnet length and vxlan", () => {
    const cm = docs(lab).find((d) => d.kind === 'ConfigMap')!;
    expect(JSON.parse(cm.data!['net-conf.json']!)).toEqual({
      Network: '10.200.7.128/25',
      SubnetLen: 28,
      EnableNFTables: false,
      Backend: { Type: 'vxlan' },
    });
    const cni = JSON.parse(cm.data!['cni-conf.json']!) as { plugins: { type: string }[]; cniVersion: string };
    expect(cni.plugins.map((p) => p.type)).toEqual(['flannel', 'portmap']);
    expect(cni.cniVersion).toBe('1.0.0');
    const hostGw = JSON.parse(docs({ ...lab, backend: 'host-gw' })[4]!.data!['net-conf.json']!) as { Backend: unknown };
    expect(hostGw.Backend).toEqual({ Type: 'host-gw' });
  });

  it('runs every container from the image in the cluster imageRepository', () => {
    const pod = ds(lab);
    const image = `10.200.7.1:5000/k8s/flannel:v${FLANNEL_VERSION}`;
    expect([...pod.initContainers, ...pod.containers].map((c) => c.image)).toEqual([image, image, image]);
    expect(flannelImages('10.200.7.1:5000/k8s')).toEqual([image]);
    expect(pod.hostNetwork).toBe(true);
  });

  it('init containers install the CNI plugin into the runtime’s CNI bin dir and the conflist into /etc/cni/net.d', () => {
    const pod = ds({ ...lab, cniBinDir: '/usr/lib/cni' });
    const [plugin, conf] = pod.initContainers;
    expect([...plugin!.command, ...plugin!.args]).toEqual([
      '/opt/bin/install-conf',
      '/flannel',
      '/opt/cni/bin/flannel',
    ]);
    expect(plugin!.volumeMounts).toEqual([{ name: 'cni-plugin', mountPath: '/opt/cni/bin' }]);
    expect(pod.volumes.find((v) => v.name === 'cni-plugin')!.hostPath!.path).toBe('/usr/lib/cni');
    expect(ds(lab).volumes.find((v) => v.name === 'cni-plugin')!.hostPath!.path).toBe('/opt/cni/bin');
    expect(conf!.args).toEqual(['/etc/kube-flannel/cni-conf.json', '/etc/cni/net.d/10-flannel.conflist']);
  });

  it("flanneld uses the kube subnet manager, masquerades, and the node's own address unless told an interface", () => {
    const main = ds(lab).containers[0] as Container & { env: { name: string; valueFrom?: unknown }[] };
    expect(main.args).toEqual(['--ip-masq', '--kube-subnet-mgr', '--healthz-port=8081', '--iface=$(HOST_IP)']);
    expect(main.env.find((e) => e.name === 'HOST_IP')!.valueFrom).toEqual({ fieldRef: { fieldPath: 'status.hostIP' } });
    expect(ds({ ...lab, interfaces: ['eth0', '10.0.0.5'] }).containers[0]!.args.slice(3)).toEqual([
      '--iface=eth0',
      '--iface=10.0.0.5',
    ]);
  });

  it('a value cannot inject YAML: an odd interface name stays one string', () => {
    const pod = ds({ ...lab, interfaces: ['eth0\n      hostPID: true'] });
    expect(pod.containers[0]!.args[3]).toBe('--iface=eth0\n      hostPID: true');
    expect(pod).not.toHaveProperty('hostPID');
  });

  it('refuses values flannel or kubeadm would refuse later, saying which', () => {
    const bad: [Partial<FlannelValues>, RegExp][] = [
      [{ network: '10.200.7.130/25' }, /host bits/],
      [{ network: '10.200.7.0/33' }, /IPv4 CIDR/],
      [{ network: 'fd00::/64' }, /IPv4 CIDR/],
      [{ subnetLen: 26 }, /from 27 .* to 30, got 26/],
      [{ subnetLen: 31 }, /to 30, got 31/],
      [{ imageRepository: 'reg -x' }, /imageRepository/],
      [{ cniBinDir: 'opt/cni/bin' }, /absolute/],
    ];
    for (const [change, message] of bad) {
      expect(() => flannelManifest({ ...lab, ...change })).toThrow(FlannelValuesError);
      expect(() => flannelManifest({ ...lab, ...change })).toThrow(message);
    }
  });
});
