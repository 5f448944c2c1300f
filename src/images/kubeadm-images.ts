// The images `kubeadm config images list --kubernetes-version V` names, computed here without a kubeadm binary: an
// air-gapped transfer is planned on the operator's machine, before any host (or kubeadm package) exists.
//
// kubeadm builds the list from constants compiled into it (cmd/kubeadm/app/constants/constants.go and
// cmd/kubeadm/app/images/images.go): the four control-plane images at the cluster's version, pause at PauseVersion,
// coredns at CoreDNSVersion, and etcd at SupportedEtcdVersion[minor]. The table below is those constants per minor,
// as the newest patch release of that minor ships them. 1.33 and 1.34 are read from the 1.33.13 and 1.34.12 sources
// (and a test compares the built 1.34.12 kubeadm's own list); 1.28–1.32 come from upstream's release notes and have
// not been checked against a binary here. kubeadm also bumps etcd's tag inside a minor now and then, so an older patch
// may have named an older etcd; the newest patch is what an install or upgrade targets.
//
// Pure and workflow-safe: no I/O.

export interface KubeadmConstants {
  pause: string;
  coredns: string;
  etcd: string;
}

/** Per Kubernetes minor: the tags kubeadm of that minor's newest patch names. */
export const KUBEADM_CONSTANTS: Readonly<Record<number, KubeadmConstants>> = {
  28: { pause: '3.9', coredns: 'v1.10.1', etcd: '3.5.15-0' },
  29: { pause: '3.9', coredns: 'v1.11.1', etcd: '3.5.16-0' },
  30: { pause: '3.9', coredns: 'v1.11.3', etcd: '3.5.15-0' },
  31: { pause: '3.10', coredns: 'v1.11.3', etcd: '3.5.24-0' },
  32: { pause: '3.10', coredns: 'v1.11.3', etcd: '3.5.24-0' },
  33: { pause: '3.10', coredns: 'v1.12.0', etcd: '3.5.24-0' },
  34: { pause: '3.10.1', coredns: 'v1.12.1', etcd: '3.6.5-0' },
};

/** kubeadm's default imageRepository: under it (only), CoreDNS lives one level deeper, as coredns/coredns. */
export const DEFAULT_IMAGE_REPOSITORY = 'registry.k8s.io';

export const CONTROL_PLANE_IMAGES = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const;

export interface KubeadmImage {
  /** kube-apiserver, pause, coredns, etcd… */
  name: string;
  /** Full reference, e.g. registry.k8s.io/coredns/coredns:v1.12.1. */
  ref: string;
  /** Where kubeadm runs it: the control plane's static pods (masters) or on every node (kube-proxy, CoreDNS, pause). */
  on: 'masters' | 'nodes';
}

export class UnknownKubernetesMinorError extends Error {
  override name = 'UnknownKubernetesMinorError';
}

export function kubeadmConstants(version: string): KubeadmConstants {
  const minor = Number(version.replace(/^v/, '').split('.')[1]);
  const c = KUBEADM_CONSTANTS[minor];
  if (!c) {
    const known = Object.keys(KUBEADM_CONSTANTS).map((m) => `1.${m}`);
    throw new UnknownKubernetesMinorError(
      `no image table for Kubernetes ${version}: kubeadm2ha knows ${known.join(', ')} (src/images/kubeadm-images.ts)`,
    );
  }
  return c;
}

/**
 * kubeadm's list, in kubeadm's order. `etcd: false` leaves etcd out, as kubeadm does for a configuration with
 * external etcd (etcd then runs from packages on the etcd hosts, not from an image).
 */
export function kubeadmImageList(
  version: string,
  imageRepository: string = DEFAULT_IMAGE_REPOSITORY,
  opts: { etcd: boolean } = { etcd: true },
): KubeadmImage[] {
  const v = `v${version.replace(/^v/, '')}`;
  const c = kubeadmConstants(v);
  const repo = imageRepository.replace(/\/+$/, '');
  const dnsRepo = repo === DEFAULT_IMAGE_REPOSITORY ? `${repo}/coredns` : repo;
  return [
    ...CONTROL_PLANE_IMAGES.map((name) => ({ name, ref: `${repo}/${name}:${v}`, on: 'masters' as const })),
    { name: 'kube-proxy', ref: `${repo}/kube-proxy:${v}`, on: 'nodes' },
    { name: 'coredns', ref: `${dnsRepo}/coredns:${c.coredns}`, on: 'nodes' },
    { name: 'pause', ref: `${repo}/pause:${c.pause}`, on: 'nodes' },
    ...(opts.etcd ? [{ name: 'etcd', ref: `${repo}/etcd:${c.etcd}`, on: 'masters' as const }] : []),
  ];
}
