import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { Inventory, type InventoryInput } from '../../../src/inventory/schema.js';
import { kubeadmClusterSettings } from '../../../src/plan/cluster-config.js';
import { flannelValues } from '../../../src/plan/pod-network.js';
import { flannelManifest } from '../../../src/templates/flannel.js';
import { renderClusterConfiguration } from '../../../src/templates/kubeadm.js';

const base: InventoryInput = {
  cluster: {
    name: 'lab',
    kubernetesVersion: '1.34.12',
    imageRepository: '10.200.7.1:5000/k8s',
    vip: { address: '10.200.7.100', interface: 'eth0' },
    podSubnet: '10.200.7.128/25',
    nodeCidrMaskSize: 28,
  },
  hosts: [
    { name: 'h1', address: '10.200.7.11', roles: ['primary-master', 'etcd'] },
    { name: 'h2', address: '10.200.7.12', roles: ['worker'] },
  ],
};
const inv = (cluster: Partial<InventoryInput['cluster']> = {}): Inventory =>
  Inventory.parse({ ...base, cluster: { ...base.cluster, ...cluster } });

describe('flannelValues', () => {
  it("is the inventory's podSubnet, node mask and imageRepository, with the nodes' CNI bin dir", () => {
    expect(flannelValues(inv(), '/opt/cni/bin')).toEqual({
      network: '10.200.7.128/25',
      subnetLen: 28,
      imageRepository: '10.200.7.1:5000/k8s',
      cniBinDir: '/opt/cni/bin',
    });
  });

  it('agrees with the kubeadm configuration: same podSubnet, and the node mask the controller manager gets', () => {
    const i = inv();
    const cluster = parseAllDocuments(renderClusterConfiguration(kubeadmClusterSettings(i)))
      .map((d) => d.toJS() as Record<string, unknown>)
      .find((d) => d.kind === 'ClusterConfiguration') as {
      networking: { podSubnet: string };
      controllerManager: { extraArgs: { name: string; value: string }[] };
    };
    const v = flannelValues(i, '/opt/cni/bin')!;
    expect(cluster.networking.podSubnet).toBe(v.network);
    expect(cluster.controllerManager.extraArgs).toContainEqual({
      name: 'node-cidr-mask-size-ipv4',
      value: String(v.subnetLen),
    });
    expect(flannelManifest(v)).toContain('"SubnetLen": 28');
  });

  it("uses the controller manager's default /24 when the inventory sets no mask", () => {
    expect(flannelValues(inv({ podSubnet: '10.244.0.0/16', nodeCidrMaskSize: undefined }), '/x')!.subnetLen).toBe(24);
  });

  it('is undefined unless the inventory asks for flannel', () => {
    expect(flannelValues(inv({ network: { plugin: 'none' } }), '/opt/cni/bin')).toBeUndefined();
    expect(
      flannelValues(inv({ network: { plugin: 'manifest', manifest: '/m.yaml' } }), '/opt/cni/bin'),
    ).toBeUndefined();
  });
});
