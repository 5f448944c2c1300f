// From inventory to the typed settings the templates (src/templates) render: which endpoint the cluster uses,
// what each master's keepalived says, what the load balancer spreads, what containerd runs with. Pure and
// workflow-safe: a planner shows these (dry run) and hands each host's part to the activity that writes it.
import type { Host, Inventory } from '../inventory/schema.js';
import { KUBEADM_CONSTANTS } from '../images/kubeadm-images.js';
import type { ContainerdSettings, RegistryHosts } from '../templates/containerd.js';
import type { JoinSettings, KubeadmClusterSettings, KubeadmNode } from '../templates/kubeadm.js';
import type { KeepalivedSettings } from '../templates/keepalived.js';
import type { LoadBalancerSettings } from '../templates/load-balancer.js';
import { etcdHosts, masters, primaryMaster } from './topology.js';
import { ETCD_CLIENT_PORT } from './etcd.js';

export const APISERVER_PORT = 6443;

/**
 * The sandbox image containerd should run with Kubernetes `version`: the inventory's own when it names one, else the
 * pause image kubeadm of that version names (its constants: src/images/kubeadm-images.ts); undefined for a minor
 * without that table.
 */
export function sandboxImageAt(inv: Inventory, version: string): string | undefined {
  const set = inv.cluster.containerRuntime.sandboxImage;
  if (set !== undefined) return set;
  const pause = KUBEADM_CONSTANTS[Number(version.replace(/^v/, '').split('.')[1])]?.pause;
  return pause === undefined ? undefined : `${inv.cluster.imageRepository}/pause:${pause}`;
}

/** The sandbox image at the inventory's version; for a minor kubeadm2ha has no table of, the newest pause it knows. */
export function sandboxImage(inv: Inventory): string {
  const newest = KUBEADM_CONSTANTS[Math.max(...Object.keys(KUBEADM_CONSTANTS).map(Number))]!.pause;
  return sandboxImageAt(inv, inv.cluster.kubernetesVersion) ?? `${inv.cluster.imageRepository}/pause:${newest}`;
}

/** Everything reaches the API through the VIP: on the load balancer's port when there is one. */
export function controlPlaneEndpoint(inv: Inventory): string {
  const lb = inv.cluster.loadBalancer;
  return `${inv.cluster.vip.address}:${lb.kind === 'none' ? APISERVER_PORT : lb.port}`;
}

export function kubeadmClusterSettings(inv: Inventory): KubeadmClusterSettings {
  const c = inv.cluster;
  const endpoints = etcdHosts(inv).map((h) => `https://${h.address}:${ETCD_CLIENT_PORT}`);
  return {
    clusterName: c.name,
    kubernetesVersion: c.kubernetesVersion,
    controlPlaneEndpoint: controlPlaneEndpoint(inv),
    imageRepository: c.imageRepository,
    // A network plugin that allocates from the node's podCIDR needs podSubnet; without one, none is allocated.
    ...(c.network.plugin !== 'none' || c.nodeCidrMaskSize !== undefined ? { podSubnet: c.podSubnet } : {}),
    serviceSubnet: c.serviceSubnet,
    dnsDomain: c.dnsDomain,
    certSANs: [c.vip.address],
    etcd: c.etcd.mode === 'external' ? { kind: 'external', endpoints } : { kind: 'stacked' },
    ...(c.nodeCidrMaskSize !== undefined && { nodeCidrMaskSize: c.nodeCidrMaskSize }),
    cgroupDriver: c.containerRuntime.cgroupDriver,
    ...(c.kubeProxy.conntrackMaxPerCore !== undefined && { conntrackMaxPerCore: c.kubeProxy.conntrackMaxPerCore }),
  };
}

export const kubeadmNode = (h: Host): KubeadmNode => ({
  name: h.name,
  address: h.address,
  ...(h.labels && { labels: h.labels }),
});

export function joinSettings(inv: Inventory, h: Host, controlPlane: boolean): JoinSettings {
  return { apiServerEndpoint: controlPlaneEndpoint(inv), node: kubeadmNode(h), controlPlane };
}

/** The primary master first (rank 0: the VIP starts there), then the others in inventory order. */
export function keepalivedSettings(inv: Inventory, h: Host): KeepalivedSettings {
  const ordered = [primaryMaster(inv), ...masters(inv).filter((m) => !m.roles.includes('primary-master'))];
  const rank = ordered.findIndex((m) => m.name === h.name);
  if (rank < 0) throw new Error(`${h.name} is not a master: keepalived runs on masters only`);
  return {
    self: { name: h.name, address: h.address },
    peers: ordered.filter((m) => m.name !== h.name).map((m) => m.address),
    rank,
    vip: inv.cluster.vip,
    apiserverPort: APISERVER_PORT,
  };
}

export function loadBalancerSettings(inv: Inventory): LoadBalancerSettings {
  return {
    port: inv.cluster.loadBalancer.port,
    backends: masters(inv).map((m) => ({ name: m.name, address: m.address, port: APISERVER_PORT })),
  };
}

export function containerdSettings(inv: Inventory, cniBinDir: string): ContainerdSettings {
  const rt = inv.cluster.containerRuntime;
  return {
    cgroupDriver: rt.cgroupDriver,
    sandboxImage: sandboxImage(inv),
    restrictOomScoreAdj: rt.restrictOomScoreAdj,
    cniBinDir,
  };
}

export const registryHosts = (inv: Inventory): RegistryHosts[] => inv.cluster.containerRuntime.registries;
