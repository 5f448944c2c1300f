// Debian package versions of an upstream release: pure, shared by the etcd install (which picks from what the
// host's apt offers) and the upgrade planner (which names the Kubernetes packages of a target version).

/** pkgs.k8s.io's Debian revision for every release it publishes (1.34.12 -> 1.34.12-1.1); the lab's mirror
 * builds its packages with the same one (lab/k8s/debs.ts). */
export const K8S_PACKAGE_REVISION = '1.1';

/** The Debian/Ubuntu package version whose upstream part is exactly `upstream`, in the order given. */
export function pickVersion(versions: string[], upstream: string): string | undefined {
  // "3.4.23-4+b3", "3.4.23+dfsg-1", "1:3.4.23-1": the upstream part, after an optional epoch, is ours exactly.
  return versions.find((v) => {
    const up = v.replace(/^\d+:/, '');
    return up === upstream || ['-', '+', '~'].some((sep) => up.startsWith(`${upstream}${sep}`));
  });
}

/**
 * The kubeadm/kubelet/kubectl package version for a Kubernetes release: what `apt-cache madison kubeadm` offers
 * for it when the list is known (the mirror may use another revision), else pkgs.k8s.io's naming.
 */
export function kubernetesPackageVersion(version: string, offered?: string[]): string | undefined {
  const v = version.replace(/^v/, '');
  if (offered) return pickVersion(offered, v);
  return `${v}-${K8S_PACKAGE_REVISION}`;
}
