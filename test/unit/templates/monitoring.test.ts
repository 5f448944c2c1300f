// The monitoring addon's template: CRDs before the objects of their kinds, everything in the monitoring namespace
// except cluster-scoped kinds, etcd scraped only when it is external — with a Secret rendered WITHOUT data (the apply
// activity fills it from the local PKI store, test/unit/activities/addon-secrets.test.ts) — and images from the
// inventory's imageRepository, upstream's quay.io ones by default.
import { describe, expect, it } from 'vitest';
import { Inventory } from '../../../src/inventory/schema.js';
import { addonValues, planAddon } from '../../../src/plan/addons.js';
import type { OncePhase } from '../../../src/plan/runbook.js';
import { renderManifest } from '../../../src/templates/addons/index.js';
import {
  ETCD_CLIENT_CONTENT,
  ETCD_CLIENT_SECRET,
  MONITORING_IMAGES,
  monitoring,
  SECRET_CONTENT_ANNOTATION,
} from '../../../src/templates/addons/monitoring.js';
import type { KubeObject } from '../../../src/templates/addons/types.js';

const external = { imageRepository: 'registry.k8s.io', masters: 2, etcdAddresses: ['10.200.1.11', 'fd00::12'] };
const find = (objects: KubeObject[], kind: string, name?: string) =>
  objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));

describe('monitoring addon template', () => {
  it('CRDs first (their kinds cannot be applied before them), then the operator, then the custom resources', () => {
    const objects = monitoring.render(external);
    const kinds = objects.map((o) => o.kind);
    expect(kinds[0]).toBe('Namespace');
    const lastCrd = kinds.lastIndexOf('CustomResourceDefinition');
    const firstCustom = objects.findIndex((o) => o.apiVersion.startsWith('monitoring.coreos.com/'));
    expect(lastCrd).toBeLessThan(firstCustom);
    expect(objects.filter((o) => o.kind === 'CustomResourceDefinition').map((o) => o.metadata.name)).toEqual([
      'prometheusrules.monitoring.coreos.com',
      'servicemonitors.monitoring.coreos.com',
      'podmonitors.monitoring.coreos.com',
      'probes.monitoring.coreos.com',
      'scrapeconfigs.monitoring.coreos.com',
      'alertmanagerconfigs.monitoring.coreos.com',
      'alertmanagers.monitoring.coreos.com',
      'prometheuses.monitoring.coreos.com',
    ]);
    // Every custom resource's kind has a CRD here, at the version it is written in.
    for (const o of objects.filter((x) => x.apiVersion.startsWith('monitoring.coreos.com/'))) {
      const crd = objects.find(
        (c) => c.kind === 'CustomResourceDefinition' && (c.spec as { names: { kind: string } }).names.kind === o.kind,
      );
      expect((crd?.spec as { versions: { name: string }[] }).versions[0]!.name).toBe(o.apiVersion.split('/')[1]);
    }
  });

  it('upstream images by default: quay.io for the operator, its reloader, Prometheus, Alertmanager, node exporter', () => {
    const text = renderManifest(monitoring.render(external));
    for (const i of Object.values(MONITORING_IMAGES)) expect(text).toContain(i.upstream);
    expect(monitoring.images.map((i) => i.upstream)).toEqual(Object.values(MONITORING_IMAGES).map((i) => i.upstream));
  });

  it('external etcd: a ScrapeConfig of every member on 2379 over TLS, its Secret rendered without data', () => {
    const objects = monitoring.render(external);
    const secret = find(objects, 'Secret', ETCD_CLIENT_SECRET)!;
    expect(secret.metadata.annotations).toEqual({ [SECRET_CONTENT_ANNOTATION]: ETCD_CLIENT_CONTENT });
    expect(secret).not.toHaveProperty('data');
    expect(secret).not.toHaveProperty('stringData');
    const sc = find(objects, 'ScrapeConfig', 'etcd')!.spec as {
      staticConfigs: { targets: string[] }[];
      scheme: string;
      tlsConfig: unknown;
    };
    expect(sc.staticConfigs[0]!.targets).toEqual(['10.200.1.11:2379', '[fd00::12]:2379']);
    expect(sc.scheme).toBe('HTTPS');
    expect(JSON.stringify(sc.tlsConfig)).toContain(ETCD_CLIENT_SECRET);
    // The Secret comes before the ScrapeConfig that names it.
    expect(objects.indexOf(secret)).toBeLessThan(objects.findIndex((o) => o.kind === 'ScrapeConfig'));
  });

  it('stacked etcd (kubeadm’s): no etcd scrape and no Secret', () => {
    const objects = monitoring.render({ imageRepository: 'registry.k8s.io', masters: 1 });
    expect(find(objects, 'Secret')).toBeUndefined();
    expect(find(objects, 'ScrapeConfig')).toBeUndefined();
  });

  it('the inventory’s etcd hosts become the scrape targets; the planned manifest carries no key material', () => {
    const inv = Inventory.parse({
      cluster: { name: 'lab', kubernetesVersion: '1.34.12', vip: { address: '10.200.1.100' } },
      hosts: [
        { name: 'h1', address: '10.200.1.11', roles: ['primary-master', 'etcd'] },
        { name: 'h2', address: '10.200.1.12', roles: ['worker', 'etcd'] },
        { name: 'h3', address: '10.200.1.13', roles: ['worker', 'etcd'] },
      ],
    });
    expect(addonValues(inv).etcdAddresses).toEqual(['10.200.1.11', '10.200.1.12', '10.200.1.13']);
    const steps = (planAddon(inv, 'monitoring', 'apply').phases[0] as OncePhase).steps;
    const manifest = (steps[0]!.args as { manifest: string }).manifest;
    expect(manifest).toContain('10.200.1.13:2379');
    expect(manifest).not.toMatch(/BEGIN|PRIVATE KEY|tls\.key:/);
    // The rollout waited for: the operator and the node exporters (the operator makes the StatefulSets).
    expect(steps.map((s) => s.id)).toEqual(['applyAddonObjects', 'waitAddonReady']);
    expect((steps[1]!.args as { waitFor: { kind: string; name: string }[] }).waitFor).toEqual([
      expect.objectContaining({ kind: 'Deployment', name: 'prometheus-operator' }),
      expect.objectContaining({ kind: 'DaemonSet', name: 'node-exporter' }),
    ]);
  });
});
