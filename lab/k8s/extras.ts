// The non-Kubernetes programs the lab's Kubernetes images need: the upstream pause program, CoreDNS with kubeadm's
// plugin set, and `hello`, a tiny HTTP server for test pods. scripts/build-k8s-extras.sh builds them from the Go
// module proxy and Debian's gcc into a cache keyed by versions and a hash of the sources (it owns the build, its
// lock and its done-marker); this module only runs it and hands back paths. Cold: a few minutes (CoreDNS); warm:
// a fraction of a second.
import { join } from 'node:path';
import { runBuildScript, type BuildScriptOptions } from '../build-script.js';

/** What kubeadm 1.34 deploys (constants PauseVersion, CoreDNSVersion). 1.33 asks for pause 3.10 (same pause.c) and
 * CoreDNS 1.12.0; the lab serves these to both. Must match the script's COREDNS_VERSION / PAUSE_VERSION. */
export const K8S_EXTRAS_VERSIONS = { pause: '3.10.1', coredns: '1.12.1' } as const;

export interface K8sExtras {
  binDir: string;
  pause: string;
  coredns: string;
  hello: string;
  pauseVersion: typeof K8S_EXTRAS_VERSIONS.pause;
  corednsVersion: typeof K8S_EXTRAS_VERSIONS.coredns;
}

export class K8sExtrasBuildError extends Error {
  override name = 'K8sExtrasBuildError';
}

export type EnsureK8sExtrasOptions = BuildScriptOptions;

/**
 * Paths of pause, coredns and hello, building them first when the cache lacks them. Safe to call from several
 * processes at once: the script's lock makes one build and the others wait.
 */
export async function ensureK8sExtras(opts: EnsureK8sExtrasOptions = {}): Promise<K8sExtras> {
  const binDir = await runBuildScript(
    'build-k8s-extras.sh',
    [],
    ['pause', 'coredns', 'hello'],
    opts,
    (m) => new K8sExtrasBuildError(m),
  );
  const extras: K8sExtras = {
    binDir,
    pause: join(binDir, 'pause'),
    coredns: join(binDir, 'coredns'),
    hello: join(binDir, 'hello'),
    pauseVersion: K8S_EXTRAS_VERSIONS.pause,
    corednsVersion: K8S_EXTRAS_VERSIONS.coredns,
  };
  return extras;
}

/** CoreDNS at another version than the extras' (kubeadm 1.33 deploys 1.12.0), built by scripts/build-coredns.sh from
 * its pinned module file lab/go/extras/coredns-<version>.mod; same cache discipline as the extras. */
export async function ensureCoreDns(
  version: string,
  opts: EnsureK8sExtrasOptions = {},
): Promise<{ version: string; coredns: string }> {
  const v = version.replace(/^v/, '');
  const binDir = await runBuildScript('build-coredns.sh', [v], ['coredns'], opts, (m) => new K8sExtrasBuildError(m));
  return { version: v, coredns: join(binDir, 'coredns') };
}
