// The flannel pod network as one manifest, from typed values: upstream's kube-flannel.yml (v0.28.10) in shape —
// namespace, service account, RBAC, the ConfigMap with net-conf.json and cni-conf.json, and the DaemonSet whose init
// containers install the CNI plugin and its configuration on each node before flanneld starts — with the image taken
// from the cluster's own imageRepository (air-gapped clusters mirror it there; the lab builds it). Pure: no I/O, the
// YAML comes from the `yaml` library, so no value can break out of its field.
//
// flanneld runs with --kube-subnet-mgr: each node's subnet is the podCIDR kube-controller-manager allocates, so the
// cluster must be set up with kubeadm's networking.podSubnet = `network` and the controller manager's
// node-cidr-mask-size-ipv4 = `subnetLen` (src/templates/kubeadm.ts writes both from podSubnet and nodeCidrMaskSize).
//
// One change from upstream: without `interfaces`, flanneld uses the interface that holds the node's own address
// (status.hostIP, the InternalIP kubeadm registers from node-ip), not the default route's. Nodes without a default
// route (air-gapped, the lab) then work, and on every other node it is the interface the cluster already uses.
import { stringify } from 'yaml';
import { hasHostBits, parseCidr } from '../inventory/ipv4.js';

/** The flannel release the lab builds (scripts/build-flannel.sh, lab/go/flannel/go.mod pin the same). */
export const FLANNEL_VERSION = '0.28.10';
export const FLANNEL_NAMESPACE = 'kube-flannel';
/** Image name and tag under the cluster's imageRepository. */
export const FLANNEL_IMAGE = { name: 'flannel', tag: `v${FLANNEL_VERSION}` } as const;

export interface FlannelValues {
  /** The cluster's pod network, e.g. 10.244.0.0/16 (kubeadm networking.podSubnet). */
  network: string;
  /** Prefix length of each node's share, e.g. 24 (kube-controller-manager --node-cidr-mask-size-ipv4). */
  subnetLen: number;
  /** ClusterConfiguration.imageRepository, e.g. registry.example:5000/k8s; the image is <it>/flannel:v0.28.10. */
  imageRepository: string;
  /** Default vxlan (UDP 8472 between nodes); host-gw needs all nodes on one L2 segment. */
  backend?: 'vxlan' | 'host-gw';
  /** flanneld --iface, tried in order (name or address). Default: the node's own address (status.hostIP). */
  interfaces?: readonly string[];
  /** Where the node's container runtime looks for CNI plugins (containerd's bin_dir); upstream's /opt/cni/bin. It
   * must hold bridge, host-local, portmap and loopback: the flannel plugin delegates to them. */
  cniBinDir?: string;
}

/** Image references the manifest needs, for listing and mirroring before setup. */
export function flannelImages(imageRepository: string): string[] {
  return [`${imageRepository.replace(/\/+$/, '')}/${FLANNEL_IMAGE.name}:${FLANNEL_IMAGE.tag}`];
}

export class FlannelValuesError extends Error {
  override name = 'FlannelValuesError';
}

/** flannel's own limits (pkg/subnet/config.go): a node subnet of /30 at most, and room for more than two of them. */
function checkNetwork(network: string, subnetLen: number): void {
  const cidr = parseCidr(network);
  if (!cidr) throw new FlannelValuesError(`network must be an IPv4 CIDR like 10.244.0.0/16, got '${network}'`);
  if (hasHostBits(cidr)) throw new FlannelValuesError(`network ${network} has host bits set`);
  if (!Number.isInteger(subnetLen) || subnetLen > 30 || subnetLen < cidr.prefix + 2) {
    throw new FlannelValuesError(
      `subnetLen must be an integer from ${cidr.prefix + 2} (four node subnets in ${network}) to 30, got ${subnetLen}`,
    );
  }
}

const labels = { 'k8s-app': 'flannel' };

/** The whole manifest, documents separated by `---`, ready for `kubectl apply -f -`. */
export function flannelManifest(v: FlannelValues): string {
  checkNetwork(v.network, v.subnetLen);
  if (!/^[A-Za-z0-9][A-Za-z0-9._:/-]*$/.test(v.imageRepository)) {
    throw new FlannelValuesError(`imageRepository must look like host[:port]/path, got '${v.imageRepository}'`);
  }
  const cniBinDir = v.cniBinDir ?? '/opt/cni/bin';
  if (!cniBinDir.startsWith('/')) throw new FlannelValuesError(`cniBinDir must be absolute, got '${cniBinDir}'`);
  const image = flannelImages(v.imageRepository)[0]!;
  const netConf = {
    Network: v.network,
    SubnetLen: v.subnetLen,
    EnableNFTables: false,
    Backend: { Type: v.backend ?? 'vxlan' },
  };
  // Upstream's cni-conf.json: the flannel plugin hands the node's subnet to the bridge plugin; portmap for hostPort.
  const cniConf = {
    name: 'cbr0',
    cniVersion: '1.0.0',
    plugins: [
      { type: 'flannel', delegate: { hairpinMode: true, isDefaultGateway: true } },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
  const docs: object[] = [
    {
      kind: 'Namespace',
      apiVersion: 'v1',
      metadata: {
        name: FLANNEL_NAMESPACE,
        labels: { ...labels, 'pod-security.kubernetes.io/enforce': 'privileged' },
      },
    },
    {
      kind: 'ClusterRole',
      apiVersion: 'rbac.authorization.k8s.io/v1',
      metadata: { name: 'flannel', labels },
      rules: [
        { apiGroups: [''], resources: ['pods'], verbs: ['get'] },
        { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: [''], resources: ['nodes/status'], verbs: ['patch'] },
      ],
    },
    {
      kind: 'ClusterRoleBinding',
      apiVersion: 'rbac.authorization.k8s.io/v1',
      metadata: { name: 'flannel', labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'flannel' },
      subjects: [{ kind: 'ServiceAccount', name: 'flannel', namespace: FLANNEL_NAMESPACE }],
    },
    {
      kind: 'ServiceAccount',
      apiVersion: 'v1',
      metadata: { name: 'flannel', namespace: FLANNEL_NAMESPACE, labels },
    },
    {
      kind: 'ConfigMap',
      apiVersion: 'v1',
      metadata: { name: 'kube-flannel-cfg', namespace: FLANNEL_NAMESPACE, labels: { ...labels, tier: 'node' } },
      data: {
        'cni-conf.json': `${JSON.stringify(cniConf, null, 2)}\n`,
        'net-conf.json': `${JSON.stringify(netConf, null, 2)}\n`,
      },
    },
    daemonSet(image, cniBinDir, v.interfaces ?? []),
  ];
  return docs.map((d) => stringify(d, { lineWidth: 0 })).join('---\n');
}

function daemonSet(image: string, cniBinDir: string, interfaces: readonly string[]): object {
  const dsLabels = { ...labels, app: 'flannel', tier: 'node' };
  return {
    kind: 'DaemonSet',
    apiVersion: 'apps/v1',
    metadata: { name: 'kube-flannel-ds', namespace: FLANNEL_NAMESPACE, labels: dsLabels },
    spec: {
      selector: { matchLabels: { app: 'flannel' } },
      template: {
        metadata: { labels: dsLabels },
        spec: {
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [
                  { matchExpressions: [{ key: 'kubernetes.io/os', operator: 'In', values: ['linux'] }] },
                ],
              },
            },
          },
          // Host network: flanneld configures the node itself, and must run before the node has any pod network.
          hostNetwork: true,
          priorityClassName: 'system-node-critical',
          // Including node.kubernetes.io/not-ready: a node stays NotReady until this pod has written the CNI config.
          tolerations: [{ operator: 'Exists', effect: 'NoSchedule' }],
          serviceAccountName: 'flannel',
          // Upstream copies its plugin with `cp` from a busybox-based image; ours has no shell, so both copies use
          // flannel's own install-conf (atomic rename, keeps the mode), as upstream does for the config.
          initContainers: [
            {
              name: 'install-cni-plugin',
              image,
              command: ['/opt/bin/install-conf'],
              args: ['/flannel', '/opt/cni/bin/flannel'],
              volumeMounts: [{ name: 'cni-plugin', mountPath: '/opt/cni/bin' }],
            },
            {
              name: 'install-cni',
              image,
              command: ['/opt/bin/install-conf'],
              args: ['/etc/kube-flannel/cni-conf.json', '/etc/cni/net.d/10-flannel.conflist'],
              volumeMounts: [
                { name: 'cni', mountPath: '/etc/cni/net.d' },
                { name: 'flannel-cfg', mountPath: '/etc/kube-flannel/' },
              ],
            },
          ],
          containers: [
            {
              name: 'kube-flannel',
              image,
              command: ['/opt/bin/flanneld'],
              args: [
                '--ip-masq',
                '--kube-subnet-mgr',
                '--healthz-port=8081',
                // $(HOST_IP) is expanded by the kubelet from the env below.
                ...(interfaces.length > 0 ? interfaces.map((i) => `--iface=${i}`) : ['--iface=$(HOST_IP)']),
              ],
              ports: [{ name: 'healthz', containerPort: 8081, protocol: 'TCP' }],
              livenessProbe: {
                httpGet: { path: '/healthz', port: 'healthz' },
                initialDelaySeconds: 10,
                periodSeconds: 30,
              },
              readinessProbe: {
                httpGet: { path: '/readyz', port: 'healthz' },
                initialDelaySeconds: 5,
                periodSeconds: 10,
              },
              resources: { requests: { cpu: '100m', memory: '50Mi' } },
              securityContext: { privileged: false, capabilities: { add: ['NET_ADMIN', 'NET_RAW'] } },
              env: [
                { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                { name: 'HOST_IP', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
                { name: 'EVENT_QUEUE_DEPTH', value: '5000' },
                { name: 'CONT_WHEN_CACHE_NOT_READY', value: 'false' },
              ],
              volumeMounts: [
                { name: 'run', mountPath: '/run/flannel' },
                { name: 'flannel-cfg', mountPath: '/etc/kube-flannel/' },
                { name: 'xtables-lock', mountPath: '/run/xtables.lock' },
              ],
            },
          ],
          volumes: [
            { name: 'run', hostPath: { path: '/run/flannel' } },
            { name: 'cni-plugin', hostPath: { path: cniBinDir } },
            { name: 'cni', hostPath: { path: '/etc/cni/net.d' } },
            { name: 'flannel-cfg', configMap: { name: 'kube-flannel-cfg' } },
            { name: 'xtables-lock', hostPath: { path: '/run/xtables.lock', type: 'FileOrCreate' } },
          ],
        },
      },
    },
  };
}
