// The setup runbook as data: what `setup --dry-run` shows and the executor runs.
import { describe, expect, it } from 'vitest';
import { Inventory, type InventoryInput } from '../../../src/inventory/schema.js';
import { describeRunbook, type HostPhase, type OncePhase } from '../../../src/plan/runbook.js';
import { planSetup } from '../../../src/plan/setup.js';
import { JOIN_PLACEHOLDERS } from '../../../src/templates/kubeadm.js';

const input: InventoryInput = {
  cluster: { name: 'prod', kubernetesVersion: '1.34.12', vip: { address: '10.10.0.100' } },
  hosts: [
    { name: 'm1', address: '10.10.0.11', roles: ['primary-master', 'etcd'] },
    { name: 'm2', address: '10.10.0.12', roles: ['secondary-master', 'etcd'] },
    { name: 'm3', address: '10.10.0.13', roles: ['secondary-master', 'etcd'] },
    ...Array.from({ length: 7 }, (_, i) => ({
      name: `w${i + 1}`,
      address: `10.10.0.${21 + i}`,
      roles: ['worker' as const],
    })),
  ],
};
const rb = planSetup(Inventory.parse(input));
const phase = (id: string) => rb.phases.find((p) => p.id === id)!;

describe('planSetup', () => {
  it('phases in the seed playbooks order', () => {
    expect(rb.phases.map((p) => p.id)).toEqual([
      'nodes',
      'etcd-ca',
      'etcd-members',
      'etcd-health',
      'cluster-ca',
      'control-plane-prep',
      'init',
      'kubeconfig',
      'pod-network',
      'join-masters',
      'join-workers',
      'converge',
    ]);
    expect(rb.onFailure).toBe('decide');
  });

  it('secondary masters one at a time, workers in batches and skippable, masters never', () => {
    const masters = phase('join-masters') as HostPhase;
    expect(masters.rollout).toEqual({ kind: 'serial' });
    expect(masters.hosts.map((h) => [h.target.name, h.maySkip])).toEqual([
      ['m2', false],
      ['m3', false],
    ]);
    const workers = phase('join-workers') as HostPhase;
    expect(workers.rollout).toEqual({ kind: 'batches', size: 5 });
    expect(workers.hosts.every((h) => h.maySkip)).toBe(true);
    expect((phase('nodes') as HostPhase).hosts.filter((h) => h.maySkip).map((h) => h.target.name)).toHaveLength(7);
  });

  it('carries no secret: join files hold placeholders, the init file has no token', () => {
    const text = JSON.stringify(rb);
    expect(text).toContain(JOIN_PLACEHOLDERS.token);
    expect(text).not.toMatch(/[a-z0-9]{6}\.[a-z0-9]{16}/);
    expect(text).not.toMatch(/PRIVATE KEY|certificateKey: [0-9a-f]{64}/);
  });

  it('binds run-time facts: CA fingerprints, the etcd binary, restart when anything changed', () => {
    const etcd = phase('etcd-members') as HostPhase;
    const m1 = etcd.hosts.find((h) => h.target.name === 'm1')!;
    expect(m1.steps.map((s) => s.id)).toEqual([
      'ensureEtcdInstalled',
      'ensureHostCertificates',
      'configureEtcd',
      'ensureEtcdRunning',
    ]);
    expect(m1.steps[2]!.bind).toEqual({ binary: { from: 'ensureEtcdInstalled', field: 'binary' } });
    const pki = (phase('control-plane-prep') as HostPhase).hosts[0]!.steps[0]!;
    expect(pki.bind).toEqual({ caFingerprints: { from: 'ensureClusterCas', field: 'fingerprints' } });
    expect((phase('converge') as OncePhase).steps.map((s) => s.id)).toEqual(['scaleCoreDns', 'waitNodesReady']);
    expect((phase('converge') as OncePhase).steps[0]!.args).toMatchObject({ replicas: 3 });
  });

  it('no load balancer step with loadBalancer.kind none; stacked etcd has no etcd phases', () => {
    const rb2 = planSetup(
      Inventory.parse({
        ...input,
        cluster: { ...input.cluster, loadBalancer: { kind: 'none' }, etcd: { mode: 'stacked' } },
        hosts: input.hosts.map((h) => ({ ...h, roles: h.roles.filter((r) => r !== 'etcd') })),
      }),
    );
    expect(rb2.phases.map((p) => p.id)).not.toContain('etcd-members');
    const prep = rb2.phases.find((p) => p.id === 'control-plane-prep') as HostPhase;
    expect(prep.hosts[0]!.steps.map((s) => s.id)).toEqual(['placeClusterPki', 'configureKeepalived']);
    expect(describeRunbook(rb2).join('\n')).toMatch(/kubeadmInit/);
  });

  it("applies flannel from the inventory's podSubnet, node mask and imageRepository, into the nodes' CNI dir", () => {
    const rb3 = planSetup(
      Inventory.parse({
        ...input,
        cluster: {
          ...input.cluster,
          podSubnet: '10.32.0.0/16',
          nodeCidrMaskSize: 26,
          imageRepository: 'registry.example:5000/k8s',
        },
      }),
    );
    const net = rb3.phases.find((p) => p.id === 'pod-network') as OncePhase;
    expect(net.steps.map((s) => s.id)).toEqual(['applyPodNetwork']);
    expect(net.steps[0]!.args).toMatchObject({
      via: { target: { name: 'm1', address: '10.10.0.11' } },
      cluster: 'prod',
      network: {
        kind: 'flannel',
        values: { network: '10.32.0.0/16', subnetLen: 26, imageRepository: 'registry.example:5000/k8s' },
      },
    });
    expect(net.steps[0]!.bind).toEqual({ cniBinDirs: { fromEachHost: 'configureContainerd', field: 'cniBinDir' } });
    // The controller manager hands out the same /26s flannel expects.
    const init = (rb3.phases.find((p) => p.id === 'init') as HostPhase).hosts[0]!.steps[0]!.args.config as string;
    expect(init).toMatch(/podSubnet: 10\.32\.0\.0\/16/);
    expect(init).toMatch(/name: node-cidr-mask-size-ipv4\s+value: "26"/);
  });

  it("applies the user's manifest with plugin manifest, and no pod network with plugin none", () => {
    const withManifest = planSetup(
      Inventory.parse({
        ...input,
        cluster: { ...input.cluster, network: { plugin: 'manifest', manifest: '/srv/calico.yaml' } },
      }),
    );
    const step = (withManifest.phases.find((p) => p.id === 'pod-network') as OncePhase).steps[0]!;
    expect(step.args.network).toEqual({ kind: 'manifest', path: '/srv/calico.yaml' });
    expect(step.bind).toBeUndefined();
    const none = planSetup(Inventory.parse({ ...input, cluster: { ...input.cluster, network: { plugin: 'none' } } }));
    expect(none.phases.map((p) => p.id)).not.toContain('pod-network');
  });
});
