// The CustomResourceDefinitions of prometheus-operator that the operator needs to run a Prometheus and an
// Alertmanager (its Prometheus controller watches ServiceMonitors, PodMonitors, Probes, PrometheusRules and
// ScrapeConfigs; its Alertmanager controller AlertmanagerConfigs; PrometheusAgent and ThanosRuler are optional and
// left out: the operator skips a controller whose CRD is absent). Names, kinds, short names, versions, scope and
// subresources are upstream's (example/prometheus-operator-crd at the pinned release).
//
// The OpenAPI schemas are NOT upstream's: they are open (`x-kubernetes-preserve-unknown-fields`). Upstream's eight
// schemas are 3.0 MB of YAML, generated from the Go types; a rendered manifest travels as one activity input and
// Temporal refuses payloads over 2 MB (and warns from 512 KB), and vendoring generated megabytes into a typed
// template would be worse. What is lost is the API server's validation and defaulting of these kinds: the operator
// still validates every object it reads (an invalid one gets a Reconciled=False condition and an event), and our
// own objects set every field they rely on instead of counting on schema defaults. Pure and workflow-safe.
import type { KubeObject } from './types.js';

interface CrdSpec {
  kind: string;
  plural: string;
  shortName: string;
  version: 'v1' | 'v1alpha1';
  /** The scale subresource upstream declares (Prometheus: shards; Alertmanager: replicas). */
  scale?: { specReplicasPath: string; statusReplicasPath: string };
}

const CRDS: readonly CrdSpec[] = [
  { kind: 'PrometheusRule', plural: 'prometheusrules', shortName: 'promrule', version: 'v1' },
  { kind: 'ServiceMonitor', plural: 'servicemonitors', shortName: 'smon', version: 'v1' },
  { kind: 'PodMonitor', plural: 'podmonitors', shortName: 'pmon', version: 'v1' },
  { kind: 'Probe', plural: 'probes', shortName: 'prb', version: 'v1' },
  { kind: 'ScrapeConfig', plural: 'scrapeconfigs', shortName: 'scfg', version: 'v1alpha1' },
  { kind: 'AlertmanagerConfig', plural: 'alertmanagerconfigs', shortName: 'amcfg', version: 'v1alpha1' },
  {
    kind: 'Alertmanager',
    plural: 'alertmanagers',
    shortName: 'am',
    version: 'v1',
    scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas' },
  },
  {
    kind: 'Prometheus',
    plural: 'prometheuses',
    shortName: 'prom',
    version: 'v1',
    scale: { specReplicasPath: '.spec.shards', statusReplicasPath: '.status.shards' },
  },
];

export const MONITORING_GROUP = 'monitoring.coreos.com';

/** The CRDs in apply order; `labels` mark them as the addon's. */
export function monitoringCrds(operatorVersion: string, labels: Record<string, string>): KubeObject[] {
  return CRDS.map((c) => ({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${c.plural}.${MONITORING_GROUP}`,
      labels,
      annotations: { 'operator.prometheus.io/version': operatorVersion },
    },
    spec: {
      group: MONITORING_GROUP,
      names: {
        categories: ['prometheus-operator'],
        kind: c.kind,
        listKind: `${c.kind}List`,
        plural: c.plural,
        shortNames: [c.shortName],
        singular: c.kind.toLowerCase(),
      },
      scope: 'Namespaced',
      versions: [
        {
          name: c.version,
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' } },
              'x-kubernetes-preserve-unknown-fields': true,
            },
          },
          subresources: {
            status: {},
            ...(c.scale && { scale: { ...c.scale, labelSelectorPath: '.status.selector' } }),
          },
        },
      ],
    },
  }));
}
