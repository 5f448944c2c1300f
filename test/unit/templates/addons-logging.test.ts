// The logging addon: VictoriaLogs on the logs-hot / logs-warm hosts (the seed's elasticsearch_hot/_warm groups) with
// each tier's retention, vlagent on every node writing to every store pod, and removal of its node directories.
import { describe, expect, it } from 'vitest';
import { Inventory } from '../../../src/inventory/schema.js';
import { AddonPlanError, planAddon } from '../../../src/plan/addons.js';
import type { HostPhase } from '../../../src/plan/runbook.js';
import { COLLECTOR_DIR, logging, storeDir, VICTORIALOGS_VERSION } from '../../../src/templates/addons/logging.js';
import type { AddonValues, KubeObject } from '../../../src/templates/addons/types.js';

const values = (hot: string[], warm: string[]): AddonValues => ({
  imageRepository: 'mirror.example:5000/k8s',
  masters: 2,
  logging: { hot, warm, hotDays: 3, warmDays: 30 },
});

type PodSpec = {
  affinity?: {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: { matchExpressions: unknown[] }[] };
    };
  };
  tolerations?: unknown[];
  containers: { image: string; args: string[] }[];
  volumes: { name: string; hostPath?: { path: string } }[];
};
const podSpec = (o: KubeObject) => (o.spec as { template: { spec: PodSpec } }).template.spec;
const named = (objects: KubeObject[], kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata.name === name)!;

const inventory = (roles: Record<string, string[]>, addons = {}) =>
  Inventory.parse({
    cluster: { name: 'c1', kubernetesVersion: '1.34.12', vip: { address: '10.0.0.100', interface: 'eth0' } },
    addons,
    hosts: Object.entries(roles).map(([name, r], i) => ({ name, address: `10.0.0.${11 + i}`, roles: r })),
  });

describe('logging addon template', () => {
  it('a store per tier on exactly its hosts, with the tier’s retention in days; hot pods tolerate masters', () => {
    const objects = logging.render(values(['m2', 'w1'], ['w2']));
    const hot = named(objects, 'StatefulSet', 'vlogs-hot');
    expect((hot.spec as { replicas: number }).replicas).toBe(2);
    expect(
      podSpec(hot).affinity!.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms,
    ).toEqual([{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['m2', 'w1'] }] }]);
    expect(podSpec(hot).containers[0]!.args).toContain('-retentionPeriod=3d');
    expect(podSpec(hot).containers[0]!.image).toBe(
      `mirror.example:5000/k8s/victoriametrics/victoria-logs:v${VICTORIALOGS_VERSION}`,
    );
    expect(podSpec(hot).volumes).toEqual([
      { name: 'data', hostPath: { path: storeDir('hot'), type: 'DirectoryOrCreate' } },
    ]);
    const warm = named(objects, 'StatefulSet', 'vlogs-warm');
    expect((warm.spec as { replicas: number }).replicas).toBe(1);
    expect(podSpec(warm).containers[0]!.args).toContain('-retentionPeriod=30d');
    expect(podSpec(hot).tolerations).toEqual([
      { key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' },
    ]);
  });

  it('the collector runs on every node and writes every line to every store pod, by its stable name', () => {
    const objects = logging.render(values(['m2', 'w1'], ['w2']));
    const agent = podSpec(named(objects, 'DaemonSet', 'vlagent'));
    expect(agent.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(agent.containers[0]!.args.filter((a) => a.startsWith('-remoteWrite.url='))).toEqual([
      '-remoteWrite.url=http://vlogs-hot-0.vlogs-hot.logging.svc:9428/insert/native',
      '-remoteWrite.url=http://vlogs-hot-1.vlogs-hot.logging.svc:9428/insert/native',
      '-remoteWrite.url=http://vlogs-warm-0.vlogs-warm.logging.svc:9428/insert/native',
    ]);
    expect(agent.volumes.find((v) => v.name === 'buffer')?.hostPath?.path).toBe(COLLECTOR_DIR);
  });

  it('no warm hosts: no warm tier; no hot hosts: refused with the role to add', () => {
    const objects = logging.render(values(['w1'], []));
    expect(objects.some((o) => o.metadata.name === 'vlogs-warm')).toBe(false);
    expect(() => logging.render(values([], ['w1']))).toThrow(/logs-hot/);
    const inv = inventory({ m1: ['primary-master', 'etcd'], w1: ['worker'] });
    expect(() => planAddon(inv, 'logging', 'apply')).toThrow(AddonPlanError);
    expect(() => planAddon(inv, 'logging', 'apply')).toThrow(
      /addon logging: needs at least one host with role logs-hot/,
    );
  });

  it('inventory: roles and addons.logging give the values; warm must keep longer than hot', () => {
    const inv = inventory(
      { m1: ['primary-master', 'etcd'], w1: ['worker', 'logs-hot'], w2: ['worker', 'logs-warm'] },
      { logging: { hotDays: 2, warmDays: 14 } },
    );
    const manifest = planAddon(inv, 'logging', 'apply').phases[0]!;
    const text = (manifest as { steps: { args: { manifest?: string } }[] }).steps[0]!.args.manifest!;
    expect(text).toContain('-retentionPeriod=2d');
    expect(text).toContain('-retentionPeriod=14d');
  });

  it('remove: the collector buffers on every node always; the store data on its hosts only with deleteData', () => {
    const inv = inventory({
      m1: ['primary-master', 'etcd'],
      w1: ['worker', 'logs-hot'],
      w2: ['worker', 'logs-warm'],
    });
    const dirs = (deleteData: boolean) =>
      (planAddon(inv, 'logging', 'remove', { deleteData }).phases[1] as HostPhase).hosts.map((h) => [
        h.target.name,
        h.steps[0]!.args.paths,
      ]);
    expect(planAddon(inv, 'logging', 'remove').phases.map((p) => p.id)).toEqual(['remove', 'node-dirs']);
    expect(dirs(false)).toEqual([
      ['m1', [COLLECTOR_DIR]],
      ['w1', [COLLECTOR_DIR]],
      ['w2', [COLLECTOR_DIR]],
    ]);
    expect(dirs(true)).toEqual([
      ['m1', [COLLECTOR_DIR]],
      ['w1', [COLLECTOR_DIR, storeDir('hot')]],
      ['w2', [COLLECTOR_DIR, storeDir('warm')]],
    ]);
    // Addons without node directories keep their one-phase removal.
    expect(planAddon(inv, 'metrics', 'remove').phases.map((p) => p.id)).toEqual(['remove']);
  });
});
