// kubeadm v1beta4 configuration files, as pure functions of typed data. The join file carries placeholders for the
// bootstrap token, the CA certificate hash and the certificate key: the text rendered here may be shown (dry run),
// logged or kept in workflow history, and only the activity that runs the join fills the placeholders, in memory,
// right before the file goes to the host over stdin (fillJoinSecrets).
import { stringify } from 'yaml';

export const KUBEADM_API = 'kubeadm.k8s.io/v1beta4';
export const CRI_SOCKET = 'unix:///run/containerd/containerd.sock';
/** kubeadm's own path for the apiserver's etcd client pair and the etcd CA (external etcd, our PKI layout). */
export const EXTERNAL_ETCD_TLS = {
  caFile: '/etc/kubernetes/pki/etcd/ca.crt',
  certFile: '/etc/kubernetes/pki/apiserver-etcd-client.crt',
  keyFile: '/etc/kubernetes/pki/apiserver-etcd-client.key',
} as const;

export interface KubeadmClusterSettings {
  clusterName: string;
  /** Without the leading v. */
  kubernetesVersion: string;
  /** host:port every component and kubeconfig uses: the VIP (apiserver port) or the VIP's load balancer port. */
  controlPlaneEndpoint: string;
  imageRepository: string;
  /** Omitted: no node pod ranges are allocated (a CNI with its own IPAM). */
  podSubnet?: string;
  serviceSubnet: string;
  dnsDomain: string;
  /** Extra apiserver certificate names (VIP, LB names); kubeadm adds each master's own address and name. */
  certSANs: string[];
  etcd: { kind: 'external'; endpoints: string[] } | { kind: 'stacked' };
  /** node-cidr-mask-size-ipv4 of the controller-manager (only with podSubnet). */
  nodeCidrMaskSize?: number;
  cgroupDriver: 'systemd' | 'cgroupfs';
  /** kube-proxy conntrack.maxPerCore; 0 leaves the machine-wide nf_conntrack_max alone. */
  conntrackMaxPerCore?: number;
}

export interface KubeadmNode {
  name: string;
  /** The address this node's apiserver (masters) advertises and binds, and its kubelet's node IP. */
  address: string;
  /** Extra node labels, applied by the kubelet at registration (kubeadm's node-labels flag). */
  labels?: Record<string, string>;
}

const isIpv4 = (a: string): boolean => /^\d{1,3}(\.\d{1,3}){3}$/.test(a);

function nodeRegistration(node: KubeadmNode): Record<string, unknown> {
  const args: { name: string; value: string }[] = [];
  if (isIpv4(node.address)) args.push({ name: 'node-ip', value: node.address });
  const labels = Object.entries(node.labels ?? {});
  if (labels.length > 0) args.push({ name: 'node-labels', value: labels.map(([k, v]) => `${k}=${v}`).join(',') });
  return { name: node.name, criSocket: CRI_SOCKET, ...(args.length > 0 && { kubeletExtraArgs: args }) };
}

const doc = (o: Record<string, unknown>): string => stringify(o, { lineWidth: 0 });

/** ClusterConfiguration + KubeletConfiguration + KubeProxyConfiguration, as one multi-document text. */
export function renderClusterConfiguration(c: KubeadmClusterSettings): string {
  const controllerManagerArgs =
    c.podSubnet !== undefined && c.nodeCidrMaskSize !== undefined
      ? [{ name: 'node-cidr-mask-size-ipv4', value: String(c.nodeCidrMaskSize) }]
      : [];
  const cluster = {
    apiVersion: KUBEADM_API,
    kind: 'ClusterConfiguration',
    clusterName: c.clusterName,
    kubernetesVersion: `v${c.kubernetesVersion}`,
    controlPlaneEndpoint: c.controlPlaneEndpoint,
    imageRepository: c.imageRepository,
    networking: {
      serviceSubnet: c.serviceSubnet,
      ...(c.podSubnet !== undefined && { podSubnet: c.podSubnet }),
      dnsDomain: c.dnsDomain,
    },
    apiServer: { certSANs: [...new Set(c.certSANs)] },
    ...(controllerManagerArgs.length > 0 && { controllerManager: { extraArgs: controllerManagerArgs } }),
    etcd:
      c.etcd.kind === 'external'
        ? { external: { endpoints: c.etcd.endpoints, ...EXTERNAL_ETCD_TLS } }
        : { local: { dataDir: '/var/lib/etcd' } },
  };
  const kubelet = {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    cgroupDriver: c.cgroupDriver,
  };
  const proxy = {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    ...(c.conntrackMaxPerCore !== undefined && { conntrack: { maxPerCore: c.conntrackMaxPerCore } }),
  };
  return [cluster, kubelet, proxy].map(doc).join('---\n');
}

/**
 * `kubeadm init --config`: InitConfiguration for the primary master, then the cluster documents. kubeadm always
 * makes one bootstrap token at init; ours lives 15 minutes and nothing uses it (every join creates its own just
 * before it runs), so the one in `kubeadm init`'s output is dead soon after.
 */
export function renderInitConfiguration(c: KubeadmClusterSettings, node: KubeadmNode): string {
  const init = {
    apiVersion: KUBEADM_API,
    kind: 'InitConfiguration',
    bootstrapTokens: [{ ttl: '15m0s', description: 'kubeadm init (unused: kubeadm2ha creates a token per join)' }],
    localAPIEndpoint: { advertiseAddress: node.address, bindPort: 6443 },
    nodeRegistration: nodeRegistration(node),
  };
  return `${doc(init)}---\n${renderClusterConfiguration(c)}`;
}

/** Placeholders for join secrets; each stands alone as a YAML plain scalar, so filling cannot change the structure. */
export const JOIN_PLACEHOLDERS = {
  token: 'KUBEADM2HA_JOIN_TOKEN',
  caCertHash: 'KUBEADM2HA_CA_CERT_HASH',
  certificateKey: 'KUBEADM2HA_CERTIFICATE_KEY',
} as const;

export interface JoinSettings {
  /** host:port of the control plane the joiner discovers the cluster through (controlPlaneEndpoint). */
  apiServerEndpoint: string;
  node: KubeadmNode;
  /** A control-plane join (certificate key, local apiserver endpoint) or a worker's. */
  controlPlane: boolean;
}

export function renderJoinConfiguration(j: JoinSettings): string {
  return doc({
    apiVersion: KUBEADM_API,
    kind: 'JoinConfiguration',
    discovery: {
      bootstrapToken: {
        apiServerEndpoint: j.apiServerEndpoint,
        token: JOIN_PLACEHOLDERS.token,
        caCertHashes: [JOIN_PLACEHOLDERS.caCertHash],
      },
    },
    nodeRegistration: nodeRegistration(j.node),
    ...(j.controlPlane && {
      controlPlane: {
        localAPIEndpoint: { advertiseAddress: j.node.address, bindPort: 6443 },
        certificateKey: JOIN_PLACEHOLDERS.certificateKey,
      },
    }),
  });
}

export interface JoinSecrets {
  token: string;
  /** sha256:<64 hex> of the CA's public key. */
  caCertHash: string;
  certificateKey?: string;
}

const secretFormats: Record<keyof JoinSecrets, RegExp> = {
  token: /^[a-z0-9]{6}\.[a-z0-9]{16}$/,
  caCertHash: /^sha256:[0-9a-f]{64}$/,
  certificateKey: /^[0-9a-f]{64}$/,
};

/**
 * The join file with its secrets in place. Each secret must have kubeadm's exact format (so a value can never
 * carry YAML of its own), and every placeholder present must be filled; the error names the field, not the value.
 */
export function fillJoinSecrets(text: string, secrets: JoinSecrets): string {
  let out = text;
  for (const key of Object.keys(JOIN_PLACEHOLDERS) as (keyof JoinSecrets)[]) {
    const placeholder = JOIN_PLACEHOLDERS[key];
    if (!out.includes(placeholder)) continue;
    const value = secrets[key];
    if (value === undefined) throw new Error(`the join configuration needs a ${key}, none was given`);
    if (!secretFormats[key].test(value)) throw new Error(`the ${key} for the join has an unexpected format`);
    out = out.replaceAll(placeholder, value);
  }
  return out;
}
