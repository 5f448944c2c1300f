// The image list of a cluster, from the inventory alone: what `images list` prints and `images push` delivers.
import { describe, expect, it } from 'vitest';
import { kubeadmImageList } from '../../../src/images/kubeadm-images.js';
import { Inventory, type InventoryInput } from '../../../src/inventory/schema.js';
import { imagesFor, planImageList, planImagePush, registerAddonImages } from '../../../src/plan/images.js';
import { describeRunbook, progressPlan, type HostPhase, type HostRun } from '../../../src/plan/runbook.js';
import { planSetup } from '../../../src/plan/setup.js';
import { planUpgrade } from '../../../src/plan/upgrade.js';
import { simCluster, simInventory } from '../../support/upgrade-sim.js';

const base: InventoryInput = {
  cluster: {
    name: 'prod',
    kubernetesVersion: '1.34.12',
    vip: { address: '10.10.0.100' },
    imageRepository: 'mirror.example:5000/k8s',
  },
  hosts: [
    { name: 'm1', address: '10.10.0.11', roles: ['primary-master'] },
    { name: 'e1', address: '10.10.0.31', roles: ['etcd'] },
    { name: 'w1', address: '10.10.0.21', roles: ['worker'] },
  ],
};
const inv = (over: Partial<InventoryInput['cluster']> = {}) =>
  Inventory.parse({ ...base, cluster: { ...base.cluster, ...over } });

describe('kubeadmImageList', () => {
  it('names what kubeadm 1.34.12 names, coredns one level deeper only under registry.k8s.io', () => {
    expect(kubeadmImageList('1.34.12').map((i) => i.ref)).toEqual([
      'registry.k8s.io/kube-apiserver:v1.34.12',
      'registry.k8s.io/kube-controller-manager:v1.34.12',
      'registry.k8s.io/kube-scheduler:v1.34.12',
      'registry.k8s.io/kube-proxy:v1.34.12',
      'registry.k8s.io/coredns/coredns:v1.12.1',
      'registry.k8s.io/pause:3.10.1',
      'registry.k8s.io/etcd:3.6.5-0',
    ]);
    expect(kubeadmImageList('v1.34.12', 'r.example/k8s/').map((i) => i.ref)).toContain('r.example/k8s/coredns:v1.12.1');
  });

  it('1.33 takes its own minor constants (read from the 1.33.13 kubeadm source)', () => {
    expect(kubeadmImageList('1.33.13', 'r').map((i) => i.ref)).toEqual([
      'r/kube-apiserver:v1.33.13',
      'r/kube-controller-manager:v1.33.13',
      'r/kube-scheduler:v1.33.13',
      'r/kube-proxy:v1.33.13',
      'r/coredns:v1.12.0',
      'r/pause:3.10',
      'r/etcd:3.5.24-0',
    ]);
  });

  it('refuses a minor it has no table for, naming the ones it knows', () => {
    expect(() => kubeadmImageList('1.40.0')).toThrow(/no image table for Kubernetes v1\.40\.0: kubeadm2ha knows 1\.28/);
  });
});

describe('planImageList', () => {
  it('external etcd: no etcd image; flannel from the imageRepository; control plane on masters only', () => {
    const list = planImageList(inv());
    expect(list.map((i) => [i.ref, i.on, i.source])).toEqual([
      ['mirror.example:5000/k8s/kube-apiserver:v1.34.12', 'masters', 'kubeadm'],
      ['mirror.example:5000/k8s/kube-controller-manager:v1.34.12', 'masters', 'kubeadm'],
      ['mirror.example:5000/k8s/kube-scheduler:v1.34.12', 'masters', 'kubeadm'],
      ['mirror.example:5000/k8s/kube-proxy:v1.34.12', 'nodes', 'kubeadm'],
      ['mirror.example:5000/k8s/coredns:v1.12.1', 'nodes', 'kubeadm'],
      ['mirror.example:5000/k8s/pause:3.10.1', 'nodes', 'kubeadm'],
      ['mirror.example:5000/k8s/flannel:v0.28.10', 'nodes', 'pod-network'],
    ]);
  });

  it('stacked etcd adds etcd on masters; --version changes every version-bound tag', () => {
    const list = planImageList(inv({ etcd: { mode: 'stacked' } }), '1.33.13');
    expect(list.filter((i) => i.ref.includes('/etcd:'))).toEqual([
      { ref: 'mirror.example:5000/k8s/etcd:3.5.24-0', source: 'kubeadm', on: 'masters' },
    ]);
    expect(list.map((i) => i.ref)).toContain('mirror.example:5000/k8s/kube-proxy:v1.33.13');
    expect(list.map((i) => i.ref)).toContain('mirror.example:5000/k8s/pause:3.10');
  });

  it('a sandbox image of its own is needed on every node; no pod network, no flannel', () => {
    const list = planImageList(
      inv({ network: { plugin: 'none' }, containerRuntime: { sandboxImage: 'other.example/pause:9' } }),
    );
    expect(list.find((i) => i.ref === 'other.example/pause:9')).toEqual({
      ref: 'other.example/pause:9',
      source: 'container-runtime',
      on: 'nodes',
    });
    expect(list.some((i) => i.source === 'pod-network')).toBe(false);
  });

  it('addons register their images; a reference two sources need appears once, on the wider set of hosts', () => {
    registerAddonImages('test-addon', (_inv, version) => [
      { ref: `addons.example/metrics:${version}`, on: 'nodes' },
      { ref: 'mirror.example:5000/k8s/kube-apiserver:v1.34.12', on: 'nodes' },
    ]);
    try {
      const list = planImageList(inv());
      expect(list.find((i) => i.ref === 'addons.example/metrics:1.34.12')?.source).toBe('addon:test-addon');
      const api = list.filter((i) => i.ref.endsWith('/kube-apiserver:v1.34.12'));
      expect(api).toEqual([{ ref: 'mirror.example:5000/k8s/kube-apiserver:v1.34.12', source: 'kubeadm', on: 'nodes' }]);
    } finally {
      registerAddonImages('test-addon', () => []);
    }
  });

  it('per host: masters everything, workers the node images, a pure etcd host nothing', () => {
    const i = inv();
    const list = planImageList(i);
    const [m1, e1, w1] = i.hosts;
    expect(imagesFor(m1!, list)).toHaveLength(7);
    expect(imagesFor(e1!, list)).toEqual([]);
    expect(imagesFor(w1!, list).map((r) => r.split('/').pop())).toEqual([
      'kube-proxy:v1.34.12',
      'coredns:v1.12.1',
      'pause:3.10.1',
      'flannel:v0.28.10',
    ]);
  });
});

describe('planImagePush', () => {
  const ten = Inventory.parse({
    ...base,
    hosts: [
      { name: 'w1', address: '10.10.0.21', roles: ['worker'] },
      { name: 'm1', address: '10.10.0.11', roles: ['primary-master', 'etcd'] },
      { name: 'm2', address: '10.10.0.12', roles: ['secondary-master', 'etcd'] },
      { name: 'm3', address: '10.10.0.13', roles: ['secondary-master', 'etcd'] },
      { name: 'e1', address: '10.10.0.31', roles: ['etcd'] },
      ...Array.from({ length: 6 }, (_, i) => ({
        name: `w${i + 2}`,
        address: `10.10.0.${22 + i}`,
        roles: ['worker' as const],
      })),
    ],
  });
  const rb = planImagePush(ten);
  const deliver = rb.phases.find((p): p is HostPhase => p.kind === 'hosts' && p.id === 'deliver')!;
  const step = (r: HostRun) => r.steps[0]!;
  const senders = (p: HostPhase) =>
    p.hosts.map((h) => [h.target.name, (step(h).args.from as { name: string } | undefined)?.name ?? 'operator']);

  it('fills the store once, then every host at once, each fed by one before it (two each): masters first', () => {
    expect(rb.phases[0]).toMatchObject({
      id: 'store',
      kind: 'once',
      steps: [{ id: 'fillImageStore', class: 'transfer' }],
    });
    expect(rb.phases.map((p) => p.id)).toEqual(['store', 'deliver', 'import']);
    expect(deliver.rollout).toEqual({ kind: 'parallel' });
    expect(senders(deliver)).toEqual([
      ['m1', 'operator'],
      ['m2', 'm1'],
      ['m3', 'm1'],
      ['w1', 'm2'],
      ['w2', 'm2'],
      ['w3', 'm3'],
      ['w4', 'm3'],
      ['w5', 'w1'],
      ['w6', 'w1'],
      ['w7', 'w2'],
    ]);
    // fanOut 1: a chain, each host fed by the one before it.
    const chain = planImagePush(ten, { fanOut: 1 }).phases.find((p): p is HostPhase => p.id === 'deliver')!;
    expect(senders(chain).map(([, from]) => from)).toEqual([
      'operator',
      'm1',
      'm2',
      'm3',
      'w1',
      'w2',
      'w3',
      'w4',
      'w5',
      'w6',
    ]);
  });

  it('a sender needs at least what its receiver needs; the pure etcd host gets nothing', () => {
    const refsOf = new Map(deliver.hosts.map((h) => [h.target.name, step(h).args.refs as string[]]));
    for (const h of deliver.hosts) {
      const from = (step(h).args.from as { name: string } | undefined)?.name;
      if (from) expect(refsOf.get(from)).toEqual(expect.arrayContaining(refsOf.get(h.target.name)!));
    }
    expect(refsOf.has('e1')).toBe(false);
    // Delivery only stages; one import phase on every receiver at once, last.
    expect(deliver.hosts.every((h) => step(h).args.stageOnly === true)).toBe(true);
    const last = rb.phases[rb.phases.length - 1] as HostPhase;
    expect([last.id, last.hosts.length, last.hosts.some((h) => 'stageOnly' in step(h).args)]).toEqual([
      'import',
      10,
      false,
    ]);
    expect(refsOf.get('w1')).toHaveLength(4);
    expect(refsOf.get('m1')).toHaveLength(7);
  });
});

describe('air-gapped: setup and upgrade push the images as a child workflow first', () => {
  const source = { kind: 'oci-layout' as const, dir: '/srv/images' };
  it('setup: transferImages for the cluster version right after containerd is configured, before kubeadm init', () => {
    const gapped = inv({ images: { airGapped: true, source } });
    const rb = planSetup(gapped);
    const ids = rb.phases.map((p) => p.id);
    expect(ids.slice(0, 2)).toEqual(['nodes', 'images']);
    expect(ids.indexOf('images')).toBeLessThan(ids.indexOf('init'));
    const images = rb.phases[1]!;
    expect(images).toEqual({
      id: 'images',
      title: 'images for Kubernetes 1.34.12 onto every node (images push)',
      kind: 'child',
      workflow: 'transferImages',
      input: { inventory: gapped, version: '1.34.12', source, onFailure: 'abort' },
    });
    expect(describeRunbook(rb)).toContain(
      '2. images for Kubernetes 1.34.12 onto every node (images push) [images], child workflow transferImages',
    );
    expect(progressPlan(rb).find((h) => h.target.name === 'cluster')!.steps[0]).toEqual({
      id: 'images/transferImages',
      title: 'images for Kubernetes 1.34.12 onto every node (images push)',
    });
  });

  it('setup without airGapped (the default) plans no push, and the image source stays optional', () => {
    expect(inv().cluster.images).toEqual({ airGapped: false });
    expect(planSetup(inv()).phases.some((p) => p.id === 'images')).toBe(false);
    expect(planSetup(inv({ images: { airGapped: true } })).phases[1]).toMatchObject({
      kind: 'child',
      input: { version: '1.34.12', onFailure: 'abort' },
    });
    expect(() => inv({ images: { airGapped: true, source: { kind: 'oci-layout', dir: 'rel/dir' } } })).toThrow(
      /absolute path/,
    );
  });

  it("upgrade: the target's images after the copies of /etc/kubernetes, before the first master", () => {
    const c = simCluster('1.33.13', { masters: ['m1', 'm2', 'm3'], workers: ['w1', 'w2', 'w3'] });
    c.state.offered = ['1.34.12', '1.33.13'];
    const plain = simInventory(3, 3);
    const gapped = Inventory.parse({ ...plain, cluster: { ...plain.cluster, images: { airGapped: true } } });
    const opts = { target: '1.34.12', stamp: '20261202T210000Z' };
    expect(planUpgrade(plain, c.facts(), opts).runbook.phases.map((p) => p.id)).toEqual([
      'safety',
      'backup',
      'first-master',
      'masters',
      'workers',
    ]);
    const rb = planUpgrade(gapped, c.facts(), opts).runbook;
    expect(rb.phases.map((p) => p.id)).toEqual(['safety', 'backup', 'images', 'first-master', 'masters', 'workers']);
    expect(rb.phases[2]).toMatchObject({
      kind: 'child',
      workflow: 'transferImages',
      input: { version: '1.34.12', onFailure: 'abort' },
    });
  });
});
