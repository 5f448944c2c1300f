// The addon catalogue: every addon `kubeadm2ha addons list` shows, in that order. Pure and workflow-safe.
import { dashboard } from './dashboard.js';
import { etcdOperator } from './etcd-operator.js';
import { logging } from './logging.js';
import { metricsServer } from './metrics-server.js';
import { monitoring } from './monitoring.js';
import { stringify } from 'yaml';
import { imageRef, type AddonTemplate, type KubeObject } from './types.js';

export const ADDONS: readonly AddonTemplate[] = [metricsServer, dashboard, monitoring, logging, etcdOperator];

export function addonNamed(name: string): AddonTemplate | undefined {
  return ADDONS.find((a) => a.name === name);
}

/** One image an addon needs, under a cluster's imageRepository, and where a mirror copies it from. */
export interface AddonImageRef {
  addon: string;
  /** What the cluster pulls. */
  image: string;
  /** Where upstream publishes it. */
  upstream: string;
}

/**
 * The images of every offered addon (or of those named) under `imageRepository`: what `images list` shows and an
 * air-gapped mirror must hold before `addons apply`. Retired addons need none.
 */
export function addonImages(imageRepository: string, only?: readonly string[]): AddonImageRef[] {
  return ADDONS.filter((a) => a.status !== 'retired' && (!only || only.includes(a.name))).flatMap((a) =>
    a.images.map((i) => ({ addon: a.name, image: imageRef(imageRepository, i), upstream: i.upstream })),
  );
}

/** The YAML documents `kubectl apply -f -` reads, in the template's order (the yaml library quotes every value). */
export function renderManifest(objects: KubeObject[]): string {
  return objects.map((o) => stringify(o, { lineWidth: 0 })).join('---\n');
}

export type { AddonStatus, AddonTemplate, AddonValues, KubeObject } from './types.js';
