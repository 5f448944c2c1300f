import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { manifestRefs, refKey } from '../../../src/activities/addons.js';
import { ADDONS, addonImages, addonNamed, renderManifest } from '../../../src/templates/addons/index.js';
import { DASHBOARD_NODE_PORT } from '../../../src/templates/addons/dashboard.js';
import { imageRef, type KubeObject } from '../../../src/templates/addons/types.js';

const mirror = {
  imageRepository: '10.200.7.1:5000/k8s/',
  masters: 3,
  logging: { hot: ['h2'], warm: ['h3'], hotDays: 3, warmDays: 30 },
};
const WORKLOADS = new Set(['Deployment', 'DaemonSet', 'StatefulSet']);
/** Kinds without a namespace; everything else a template renders must name its namespace (records and deletes rely on it). */
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'APIService',
  'CustomResourceDefinition',
]);

const containers = (o: KubeObject): { image: string }[] =>
  (o.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers;

describe('addon templates', () => {
  it('every addon has a version, a status, what it replaces, and a reason when retired', () => {
    for (const a of ADDONS) {
      expect(a.version, a.name).toMatch(a.status === 'retired' ? /^-$/ : /^\d+\.\d+\.\d+$/);
      expect(a.replaces.length, a.name).toBeGreaterThan(10);
      expect(Boolean(a.retiredBecause), a.name).toBe(a.status === 'retired');
    }
    expect(addonNamed('etcd-operator')?.status).toBe('retired');
  });

  for (const a of ADDONS.filter((x) => x.status !== 'retired')) {
    it(`${a.name}: renders named objects with a namespace exactly where the kind has one, images from the mirror`, () => {
      const objects = a.render(mirror);
      expect(objects.length).toBeGreaterThan(0);
      for (const o of objects) {
        expect(o.metadata.name).toMatch(/^[a-z0-9:.-]+$/);
        expect(o.metadata.namespace === undefined, `${o.kind}/${o.metadata.name}`).toBe(CLUSTER_SCOPED.has(o.kind));
        expect(o.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('kubeadm2ha');
      }
      const images = [
        ...new Set(objects.filter((o) => WORKLOADS.has(o.kind)).flatMap((o) => containers(o).map((c) => c.image))),
      ];
      expect(images.length).toBeGreaterThan(0);
      for (const i of images) expect(i.startsWith('10.200.7.1:5000/k8s/')).toBe(true);
      // Every tagged image the manifest names anywhere (containers, custom resources, operator flags) is one of the
      // addon's listed images, and each listed image is used; nothing is left on an upstream registry.
      const text = renderManifest(objects);
      const named = new Set(text.match(/10\.200\.7\.1:5000\/k8s\/[a-z0-9._/-]+:[A-Za-z0-9._-]+/g));
      expect([...named].sort()).toEqual(
        addonImages('10.200.7.1:5000/k8s', [a.name])
          .map((i) => i.image)
          .sort(),
      );
      expect(text).not.toMatch(/quay\.io|ghcr\.io|registry\.k8s\.io/);
      // What the apply activity records is what the template rendered, in the same order.
      expect(manifestRefs(renderManifest(objects)).map(refKey)).toEqual(
        objects.map((o) => `${o.kind}/${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`),
      );
      for (const d of parseAllDocuments(renderManifest(objects))) expect(d.errors).toEqual([]);
    });
  }

  it('images: upstream registries by default; under a mirror, the upstream path below it (kubeadm’s rule)', () => {
    const img = { upstream: 'ghcr.io/headlamp-k8s/headlamp:v0.35.0' };
    expect(imageRef('registry.k8s.io', img)).toBe('ghcr.io/headlamp-k8s/headlamp:v0.35.0');
    expect(imageRef('mirror.example:5000/k8s/', img)).toBe('mirror.example:5000/k8s/headlamp-k8s/headlamp:v0.35.0');
    const all = addonImages('registry.k8s.io');
    expect([...new Set(all.map((i) => i.addon))]).toEqual(['metrics', 'dashboard', 'monitoring', 'logging']);
    expect(all.find((i) => i.addon === 'metrics')?.image).toBe('registry.k8s.io/metrics-server/metrics-server:v0.9.0');
  });

  it('dashboard: one replica per master, a NodePort, admin-user bound to cluster-admin, no long-lived token', () => {
    const objects = addonNamed('dashboard')!.render({ ...mirror, masters: 3 });
    const deploy = objects.find((o) => o.kind === 'Deployment')!;
    expect((deploy.spec as { replicas: number }).replicas).toBe(3);
    expect(
      (
        addonNamed('dashboard')!
          .render({ ...mirror, masters: 1 })
          .find((o) => o.kind === 'Deployment')!.spec as { replicas: number }
      ).replicas,
    ).toBe(1);
    const svc = objects.find((o) => o.kind === 'Service')!.spec as { type: string; ports: { nodePort: number }[] };
    expect(svc.type).toBe('NodePort');
    expect(svc.ports[0]!.nodePort).toBe(DASHBOARD_NODE_PORT);
    const crb = objects.find((o) => o.kind === 'ClusterRoleBinding' && o.metadata.name === 'admin-user')!;
    expect(crb.roleRef).toMatchObject({ kind: 'ClusterRole', name: 'cluster-admin' });
    expect(crb.subjects).toEqual([{ kind: 'ServiceAccount', name: 'admin-user', namespace: 'kube-system' }]);
    expect(objects.some((o) => o.kind === 'Secret')).toBe(false);
    expect(() => addonNamed('dashboard')!.render({ ...mirror, masters: 0 })).toThrow(/masters/);
  });

  it('metrics: the APIService the metrics API needs, served by the Deployment', () => {
    const objects = addonNamed('metrics')!.render(mirror);
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toContain('APIService/v1beta1.metrics.k8s.io');
    expect(containers(objects.find((o) => o.kind === 'Deployment')!)[0]!.image).toBe(
      '10.200.7.1:5000/k8s/metrics-server/metrics-server:v0.9.0',
    );
  });

  it('manifestRefs refuses a document without a name', () => {
    expect(() => manifestRefs('apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n')).toThrow(/metadata.name/);
  });
});
