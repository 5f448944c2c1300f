// What every addon template is: a name, a pinned version, whether it is offered (stable or alpha) or retired (and
// why), what of the seed it replaces, the images it runs (so `images list` can mirror them before an air-gapped
// install), and a pure render from typed values to the Kubernetes objects, in apply order. Pure and workflow-safe.

export type AddonStatus = 'stable' | 'alpha' | 'retired';

/** The values a template renders from: all from the inventory (src/plan/addons.ts addonValues). */
export interface AddonValues {
  /** The cluster's imageRepository (kubeadm's); addon images are mirrored under it. */
  imageRepository: string;
  /** Number of masters: the dashboard runs one replica per master, as the seed's did. */
  masters: number;
  /** Addresses of the external etcd members (cluster.etcd.mode external); absent for stacked etcd. */
  etcdAddresses?: string[];
  /** The logging addon's store placement and retention (inventory roles logs-hot / logs-warm, addons.logging);
   * addonValues always sets it, other templates' tests need not. */
  logging?: LoggingValues;
}

export interface LoggingValues {
  /** Node names of the hosts with role logs-hot (the seed's elasticsearch_hot group), in inventory order. */
  hot: string[];
  /** Node names of the hosts with role logs-warm (the seed's elasticsearch_warm group). */
  warm: string[];
  /** Days a log line stays on the hot nodes (the seed's 3). */
  hotDays: number;
  /** Days a log line stays on the warm nodes. */
  warmDays: number;
}

/** A directory an addon's pods keep on nodes (a hostPath): removal deletes it there, data only when asked. */
export interface AddonHostPath {
  path: string;
  /** Node names it exists on. */
  nodes: string[];
  /** buffer: a collector's checkpoints and unsent lines, always deleted on remove; data: the store's, deleted only
   * with --delete-data (the seed's uninstall-efk-stack deleted both). */
  kind: 'buffer' | 'data';
}

/** One image an addon runs: where it comes from upstream and its path under a mirror. */
export interface AddonImage {
  /** Full upstream reference, e.g. registry.k8s.io/metrics-server/metrics-server:v0.9.0. */
  upstream: string;
}

/** A Kubernetes object as the template renders it; only the fields every object has are typed. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

export interface AddonTemplate {
  name: string;
  /** The upstream release the template follows (and the lab builds, where it can). */
  version: string;
  status: AddonStatus;
  /** One line: what it is. */
  description: string;
  /** What of the seed it replaces, and why the replacement. */
  replaces: string;
  /** For status retired: why it is not offered. */
  retiredBecause?: string;
  images: AddonImage[];
  render(v: AddonValues): KubeObject[];
  /** Directories its pods keep on nodes, for remove; none when absent. */
  hostPaths?(v: AddonValues, nodes: string[]): AddonHostPath[];
}

/** The registry host of the seed's and kubeadm's default imageRepository: with it, images stay where upstream has
 * them (their own registries); any other imageRepository is a mirror that holds them under their upstream path. */
export const DEFAULT_IMAGE_REPOSITORY = 'registry.k8s.io';

/**
 * Where a cluster pulls an addon image from. registry.k8s.io/metrics-server/metrics-server:v0.9.0 under the mirror
 * 10.0.0.5:5000/k8s becomes 10.0.0.5:5000/k8s/metrics-server/metrics-server:v0.9.0 (kubeadm's own rule for its
 * images: the mirror replaces the registry); ghcr.io/headlamp-k8s/headlamp:v0.35.0 becomes
 * 10.0.0.5:5000/k8s/headlamp-k8s/headlamp:v0.35.0.
 */
export function imageRef(imageRepository: string, image: AddonImage): string {
  const repo = imageRepository.replace(/\/+$/, '');
  if (repo === DEFAULT_IMAGE_REPOSITORY) return image.upstream;
  const slash = image.upstream.indexOf('/');
  return `${repo}/${image.upstream.slice(slash + 1)}`;
}

/** Labels every object of an addon carries, so a person can find them (`kubectl get -l …`). */
export function addonLabels(addon: string): Record<string, string> {
  return { 'app.kubernetes.io/part-of': `kubeadm2ha-${addon}`, 'app.kubernetes.io/managed-by': 'kubeadm2ha' };
}
