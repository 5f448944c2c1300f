import { describe, expect, it } from 'vitest';
import { Inventory } from '../../../src/inventory/schema.js';
import { AddonPlanError, planAddon } from '../../../src/plan/addons.js';
import { planImageList } from '../../../src/plan/images.js';
import type { OncePhase } from '../../../src/plan/runbook.js';

const inv = Inventory.parse({
  cluster: {
    name: 'c1',
    kubernetesVersion: '1.34.12',
    imageRepository: 'mirror.example:5000/k8s',
    vip: { address: '10.0.0.100', interface: 'eth0' },
  },
  hosts: [
    { name: 'm1', address: '10.0.0.11', roles: ['primary-master', 'etcd'] },
    { name: 'm2', address: '10.0.0.12', roles: ['secondary-master', 'etcd'] },
    { name: 'w1', address: '10.0.0.21', roles: ['worker', 'etcd'] },
  ],
});

const steps = (name: string, action: 'apply' | 'remove', o = {}) =>
  (planAddon(inv, name, action, o).phases[0] as OncePhase).steps;

describe('addon runbooks', () => {
  it('apply: server-side apply through the primary master, then the rollout and APIService waited for', () => {
    const s = steps('metrics', 'apply');
    expect(s.map((x) => x.id)).toEqual(['applyAddonObjects', 'waitAddonReady']);
    expect((s[0]!.args.via as { target: { name: string } }).target.name).toBe('m1');
    expect(s[0]!.args.manifest).toContain('image: mirror.example:5000/k8s/metrics-server/metrics-server:v0.9.0');
    expect((s[1]!.args.waitFor as { kind: string; name: string }[]).map((w) => `${w.kind}/${w.name}`)).toEqual([
      'Deployment/metrics-server',
      'APIService/v1beta1.metrics.k8s.io',
    ]);
  });

  it('apply without waiting; dashboard replicas from the masters (2 here)', () => {
    const s = steps('dashboard', 'apply', { wait: false });
    expect(s.map((x) => x.id)).toEqual(['applyAddonObjects']);
    expect(s[0]!.args.manifest).toMatch(/replicas: 2\n/);
  });

  it('remove: one step that deletes what the record lists; retired and unknown addons refused with a reason', () => {
    expect(steps('metrics', 'remove').map((x) => x.id)).toEqual(['removeAddonObjects']);
    expect(() => planAddon(inv, 'etcd-operator', 'apply')).toThrow(AddonPlanError);
    expect(() => planAddon(inv, 'etcd-operator', 'apply')).toThrow(/retired: .*alpha/);
    expect(steps('etcd-operator', 'remove').map((x) => x.id)).toEqual(['removeAddonObjects']);
    expect(() => planAddon(inv, 'nope', 'apply')).toThrow(/unknown addon nope/);
  });

  it('every offered addon’s images are in the images list under the mirror (air-gapped installs); retired ones none', () => {
    const addons = planImageList(inv).filter((i) => i.source.startsWith('addon:'));
    expect(addons).toEqual([
      { ref: 'mirror.example:5000/k8s/headlamp-k8s/headlamp:v0.35.0', source: 'addon:dashboard', on: 'nodes' },
      { ref: 'mirror.example:5000/k8s/victoriametrics/victoria-logs:v1.52.2', source: 'addon:logging', on: 'nodes' },
      { ref: 'mirror.example:5000/k8s/victoriametrics/vlagent:v1.52.2', source: 'addon:logging', on: 'nodes' },
      { ref: 'mirror.example:5000/k8s/metrics-server/metrics-server:v0.9.0', source: 'addon:metrics', on: 'nodes' },
      ...[
        'prometheus-operator/prometheus-operator:v0.93.1',
        'prometheus-operator/prometheus-config-reloader:v0.93.1',
        'prometheus/prometheus:v3.16.0',
        'prometheus/alertmanager:v0.35.0',
        'prometheus/node-exporter:v1.12.1',
      ].map((i) => ({ ref: `mirror.example:5000/k8s/${i}`, source: 'addon:monitoring', on: 'nodes' })),
    ]);
  });
});
