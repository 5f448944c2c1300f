// The inventory's pod network as the values src/templates/flannel.ts renders. Pure and workflow-safe.
import type { Inventory } from '../inventory/schema.js';
import type { FlannelValues } from '../templates/flannel.js';

/** kube-controller-manager's node-cidr-mask-size-ipv4 when the inventory sets none (and kubeadm passes none). */
export const DEFAULT_NODE_CIDR_MASK_SIZE = 24;

/**
 * Flannel's values for this cluster, or undefined when the inventory does not ask for flannel. Its network is the
 * podSubnet and its per-node subnet the controller manager's mask, which the kubeadm configuration derives from the
 * same two inventory fields, so the two can never disagree. `cniBinDir` is containerd's CNI bin_dir on the nodes.
 */
export function flannelValues(inv: Inventory, cniBinDir: string): FlannelValues | undefined {
  const c = inv.cluster;
  if (c.network.plugin !== 'flannel') return undefined;
  return {
    network: c.podSubnet,
    subnetLen: c.nodeCidrMaskSize ?? DEFAULT_NODE_CIDR_MASK_SIZE,
    imageRepository: c.imageRepository,
    cniBinDir,
  };
}
