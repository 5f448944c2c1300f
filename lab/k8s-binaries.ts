// Real Kubernetes binaries for the lab, built from the Go module proxy by scripts/build-k8s.sh into a per-version
// cache outside the clone (the script owns the build, its lock and its done-marker; this module only runs it and
// hands back paths). A cold build takes tens of minutes on two cores, a rerun returns at once: see
// lab/k8s/README.md for the measured numbers.
import { join } from 'node:path';
import { runBuildScript, type BuildScriptOptions } from './build-script.js';
import { KubernetesVersion } from '../src/inventory/schema.js';

/** Versions pinned in lab/go/ (committed go.mod + go.sum): the newest whose kubelet still runs on the lab's
 * cgroup v1 hosts, and the minor before it, for upgrade tests. */
export const K8S_LAB_VERSIONS = { current: '1.34.12', previous: '1.33.13' } as const;

export const K8S_BINARIES = [
  'kubeadm',
  'kubelet',
  'kubectl',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kube-proxy',
] as const;
export type K8sBinary = (typeof K8S_BINARIES)[number];

export interface K8sBinaries {
  /** Without the leading v, e.g. 1.34.12. */
  version: string;
  binDir: string;
  paths: Record<K8sBinary, string>;
}

export class K8sBuildError extends Error {
  override name = 'K8sBuildError';
}

export type EnsureK8sOptions = BuildScriptOptions;

/**
 * Paths of the seven Kubernetes commands at `version`, building them first when the cache lacks them. Safe to call
 * from several processes at once: the script's lock makes one build and the others wait.
 */
export async function ensureK8sBinaries(version: string, opts: EnsureK8sOptions = {}): Promise<K8sBinaries> {
  const parsed = KubernetesVersion.safeParse(version);
  if (!parsed.success) {
    throw new K8sBuildError(`invalid Kubernetes version '${version}': ${parsed.error.issues[0]?.message ?? ''}`);
  }
  const binDir = await runBuildScript('build-k8s.sh', [parsed.data], K8S_BINARIES, opts, (m) => new K8sBuildError(m));
  const paths = Object.fromEntries(K8S_BINARIES.map((b) => [b, join(binDir, b)])) as Record<K8sBinary, string>;
  return { version: parsed.data, binDir, paths };
}
