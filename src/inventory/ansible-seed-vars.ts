// What each variable of the seed (mbert/kubeadm2ha's group_vars, 2017–2024) and each Ansible connection variable
// means to kubeadm2ha: mapped onto the schema, or dropped with a reason the user gets to read. Nothing is dropped
// silently: a setting that no longer applies (Docker, kube-dns, flannel manifests…) produces a warning saying why.

/** Seed variables that become schema fields (cluster-wide: every host must agree on them). */
export const clusterVars = {
  CLUSTER_NAME: ['cluster', 'name'],
  KUBERNETES_VERSION: ['cluster', 'kubernetesVersion'],
  MASTER_VIP: ['cluster', 'vip', 'address'],
  APISERVER_VIP: ['cluster', 'vip', 'address'],
  KEEPALIVED_ROUTER_ID: ['cluster', 'vip', 'virtualRouterId'],
  POD_NETWORK_CIDR: ['cluster', 'podSubnet'],
  ETCD_HOSTING: ['cluster', 'etcd', 'mode'],
  ETCD_VERSION: ['cluster', 'etcd', 'version'],
  LOAD_BALANCING: ['cluster', 'loadBalancer', 'kind'],
  APISERVER_LB_PORT: ['cluster', 'loadBalancer', 'port'],
  NETWORK_PLUGIN: ['cluster', 'network', 'plugin'],
  VIP_MANAGER: [],
} as const satisfies Record<string, readonly string[]>;
export type ClusterVar = keyof typeof clusterVars;

/** Ansible connection variables that become per-host (or, when shared by all hosts, global) SSH settings. */
export const connectionVars: Record<
  string,
  'address' | 'port' | 'user' | 'identityFile' | 'sshArgs' | 'become' | 'becomeUser' | 'becomeMethod' | 'connection'
> = {
  ansible_host: 'address',
  ansible_ssh_host: 'address',
  ansible_port: 'port',
  ansible_ssh_port: 'port',
  ansible_user: 'user',
  ansible_ssh_user: 'user',
  ansible_ssh_private_key_file: 'identityFile',
  ansible_private_key_file: 'identityFile',
  ansible_ssh_common_args: 'sshArgs',
  ansible_ssh_extra_args: 'sshArgs',
  ansible_become: 'become',
  ansible_sudo: 'become',
  ansible_become_user: 'becomeUser',
  ansible_become_method: 'becomeMethod',
  ansible_connection: 'connection',
};

/** Secrets have no place in an inventory that travels through workflow history. */
export const secretVars = new Set([
  'ansible_password',
  'ansible_ssh_pass',
  'ansible_ssh_password',
  'ansible_become_pass',
  'ansible_become_password',
  'ansible_sudo_pass',
]);

/** Our own escape hatch: a map in group_vars shaped like our YAML's `cluster`/`ssh`, merged over the mapped values. */
export const OVERRIDE_VAR = 'kubeadm2ha';

export const topics = {
  docker: 'Docker is not used: Kubernetes removed dockershim in 1.24; kubeadm2ha installs containerd',
  etcdImage:
    "etcd no longer runs as a Docker image: external etcd comes from packages (ETCD_VERSION), stacked etcd is kubeadm's",
  cni: "kubeadm2ha installs flannel itself (network.plugin: flannel) or applies a manifest you name (network.plugin: manifest, network.manifest: <file>); the seed's per-plugin settings are not used",
  weave: 'Weave Net is discontinued (Weaveworks closed in 2024): pick a maintained CNI and apply it after setup',
  pinned:
    "keepalived, haproxy and nginx come from the distribution's packages: pinned versions and images are not used",
  kubeadmPicks:
    'kubeadm chooses these (CoreDNS, pause image, CNI plugins, cluster DNS address) to match kubernetesVersion',
  certs: "the seed's etcd certificate subject: kubeadm2ha's PKI uses kubeadm's certificate subjects",
  waits: 'kubeadm2ha polls health with deadlines instead of waiting fixed times',
  addons: 'add-on settings (dashboard, metrics, monitoring, logging, etcd-operator) are not part of the inventory',
  hostPrep:
    'host preparation beyond the kubeadm prerequisites (proxy, NTP, NFS) is not done by kubeadm2ha: configure it on the hosts',
  vrrpSecret: 'not carried over: kubeadm2ha keeps no secrets in an inventory',
  kubeVip: 'kube-vip is not used: keepalived holds the VIP',
  arch: 'the CPU architecture is detected on each host',
  registry:
    'not mapped: describe the registry in kubeadm2ha.cluster.containerRuntime.registries (host, endpoints: [http://…]); if the control-plane images are mirrored there, set kubeadm2ha.cluster.imageRepository',
  ansibleOnly: 'Ansible-only setting: kubeadm2ha runs neither Ansible nor Python on the hosts',
  sshArgs:
    'only ProxyJump (-J) is taken from SSH arguments; put other client options in ~/.ssh/config (ssh.configFile)',
  unknown: 'not a seed variable kubeadm2ha knows',
} as const;
export type Topic = keyof typeof topics;

export type VarKind =
  | { kind: 'cluster'; name: ClusterVar }
  | { kind: 'connection' }
  | { kind: 'secret' }
  | { kind: 'override' }
  | { kind: 'versionPart' }
  | { kind: 'ignored'; topic: Topic };

const rules: [RegExp, Topic][] = [
  [/^(SETUP_DOCKER|OS_DOCKER_CGROUP_DRIVER|DOCKER_IMAGES)$/, 'docker'],
  [/^INSECURE_REGISTRY$/, 'registry'],
  [/^ETCD_TAG$/, 'etcdImage'],
  [/^(FLANNEL_\w+|CALICO_\w+|WEAVENET_\w+)$/, 'cni'],
  [/^(KEEPALIVED_VERSION|NGINX_VERSION|NGINX_TAG|KEEPALIVED_TAG|HAPROXY_TAG|KUBE_VIP_TAG)$/, 'pinned'],
  [/^(KUBERNETES_DNS_VERSION|KUBERNETES_CNI_VERSION|COREDNS_TAG|PAUSE_TAG|DNS_IP)$/, 'kubeadmPicks'],
  [/^CERT_\w+$/, 'certs'],
  [/_READY_WAIT_SEC$/, 'waits'],
  [
    /^(DASHBOARD|HEAPSTER|PROMETHEUS|ETCD_OPERATOR|GIT|ES|ELASTICSEARCH|KIBANA|FLUENTD|CURATOR|METRICS|BUSYBOX|CONFIGMAP_RELOAD)_\w+$/,
    'addons',
  ],
  [/^(HAS_LB|\w+_INSTALL_URL)$/, 'addons'],
  [/^(PROXY_SERVER|NO_PROXY_LIST|NTP_SERVER|NFS_SHARE|NFS_MOUNT)$/, 'hostPrep'],
  [/^KEEPALIVED_AUTH_PASS$/, 'vrrpSecret'],
  [/^KUBE_VIP$/, 'kubeVip'],
  [/^HOST_ARCH$/, 'arch'],
  [/^ansible_\w+$/, 'ansibleOnly'],
];

export function classify(name: string): VarKind {
  if (name in clusterVars) return { kind: 'cluster', name: name as ClusterVar };
  if (name in connectionVars) return { kind: 'connection' };
  if (secretVars.has(name)) return { kind: 'secret' };
  if (name === OVERRIDE_VAR) return { kind: 'override' };
  if (/^KUBERNETES_(MAJOR|MINOR|PATCH)_VERSION$/.test(name)) return { kind: 'versionPart' };
  for (const [re, topic] of rules) if (re.test(name)) return { kind: 'ignored', topic };
  return { kind: 'ignored', topic: 'unknown' };
}

/** Ansible's notion of a true boolean (yes/on/true/1, any case). */
export function truthy(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  return typeof v === 'string' && /^(y|yes|on|true|1)$/i.test(v.trim());
}

/** Seed group names (hyphens before Ansible 2.8, underscores after) → what they mean here. */
export const roleGroups: Record<
  string,
  'primary-master' | 'secondary-master' | 'master' | 'worker' | 'node' | 'etcd' | 'vip' | 'logs-hot' | 'logs-warm'
> = {
  primary_master: 'primary-master',
  secondary_masters: 'secondary-master',
  secondary_master: 'secondary-master',
  masters: 'master',
  minions: 'worker',
  workers: 'worker',
  nodes: 'node',
  etcd: 'etcd',
  apiserver_vip: 'vip',
  // The EFK stack's hot and warm Elasticsearch hosts: the logging addon's store tiers (src/templates/addons/logging.ts).
  elasticsearch_hot: 'logs-hot',
  elasticsearch_warm: 'logs-warm',
};

/** Other groups of the seed's example inventories: known, so hosts only in them are left out without a typo hint. */
export const seedOtherGroups = new Set([
  'primary_etcd',
  'secondary_etcds',
  'elasticsearch',
  'nfs_server',
  'nodes_extended',
  'admin',
]);

export const normalizeGroup = (g: string): string => g.toLowerCase().replace(/-/g, '_');
