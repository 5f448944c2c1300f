// The inventory's pod network as the setup's pod-network step applies it: flannel's values (src/templates/flannel.ts
// renders them in the activity, since the manifest is YAML), the user's manifest file, or nothing. Pure and
// workflow-safe.
import type { Inventory } from '../inventory/schema.js';
import type { FlannelValues } from '../templates/flannel.js';

/** kube-controller-manager's node-cidr-mask-size-ipv4 when the inventory sets none (and kubeadm passes none). */
export const DEFAULT_NODE_CIDR_MASK_SIZE = 24;

/** What the pod-network step applies. Flannel's CNI bin dir is not here: it is a fact of the nodes, bound at run time
 * from what configureContainerd found. */
export type PodNetworkSource =
  | { kind: 'flannel'; values: Omit<FlannelValues, 'cniBinDir'> }
  /** A manifest file the worker reads (the embedded worker runs where the CLI does). */
  | { kind: 'manifest'; path: string };

/**
 * Flannel's values for this cluster, or undefined when the inventory does not ask for flannel. Its network is the
 * podSubnet and its per-node subnet the controller manager's mask, which the kubeadm configuration derives from the
 * same two inventory fields, so the two can never disagree. `cniBinDir` is containerd's CNI bin_dir on the nodes.
 */
export function flannelValues(inv: Inventory, cniBinDir?: string): FlannelValues | undefined {
  const c = inv.cluster;
  if (c.network.plugin !== 'flannel') return undefined;
  return {
    network: c.podSubnet,
    subnetLen: c.nodeCidrMaskSize ?? DEFAULT_NODE_CIDR_MASK_SIZE,
    imageRepository: c.imageRepository,
    ...(cniBinDir !== undefined && { cniBinDir }),
  };
}

/** The pod network setup applies, or undefined for plugin none (the user brings one; nodes stay NotReady until). */
export function podNetworkSource(inv: Inventory): PodNetworkSource | undefined {
  const n = inv.cluster.network;
  if (n.plugin === 'manifest' && n.manifest !== undefined) return { kind: 'manifest', path: n.manifest };
  const values = flannelValues(inv);
  return values && { kind: 'flannel', values };
}
