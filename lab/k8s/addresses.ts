// Where pods and services live in a Kubernetes lab. Everything stays inside the lab's own /24 (10.200.<id>.0/24),
// so a kubelet, a pod or a Service IP can never send traffic anywhere else:
//   .1 bridge · .11–.18 hosts · .100 VIP · .112/28 Services · .128/25 pods, a /28 per host (h1 .128, h2 .144 …).
// Hosts are on-link for the whole /24, so each host reaches another host's pods through a /28 route via that
// host, which is more specific than the /24 and wins.

/** Pod ranges are /28s in .128/25: eight hosts. */
export const MAX_K8S_HOSTS = 8;
/** Each host's share of the pods: the static CNI's ranges, and kube-controller-manager's node-cidr-mask-size-ipv4
 * when a pod network allocates them. */
export const POD_RANGE_PREFIX = 28;

export const podSubnetOf = (id: number): string => `10.200.${id}.128/25`;
export const serviceSubnetOf = (id: number): string => `10.200.${id}.112/28`;

export function podRangeOf(id: number, index: number): string {
  if (!Number.isInteger(index) || index < 1 || index > MAX_K8S_HOSTS) {
    throw new Error(`a Kubernetes lab host index must be 1..${MAX_K8S_HOSTS}, got ${index}`);
  }
  return `10.200.${id}.${128 + 16 * (index - 1)}/${POD_RANGE_PREFIX}`;
}

/** Each host's kubelet keeps its pods under its own cgroup root in the machine's hierarchies (cgroupfs driver). */
export const cgroupRootOf = (id: number, index: number): string => `k2h${id}-h${index}`;
