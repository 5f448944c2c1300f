// The `logging` addon: VictoriaLogs as the log store and its own collector, vlagent, on every node. It replaces the
// seed's EFK stack (Elasticsearch hot/warm, Fluentd, Kibana): Elasticsearch and fluent-bit/Fluentd cannot be built
// from the registries an air-gapped site mirrors, VictoriaLogs and vlagent are one Go module each binary of which is
// a static executable (scripts/build-logging.sh), and VictoriaLogs has its own web UI at /select/vmui, so no Kibana.
//
// How the seed's hot/warm policy maps, in VictoriaLogs' own terms:
// - The seed's elasticsearch_hot / elasticsearch_warm groups are the inventory roles logs-hot / logs-warm. Each
//   tier is a StatefulSet (vlogs-hot, vlogs-warm) with one VictoriaLogs per host of the role (required node
//   affinity to those hosts, at most one per host), its data in a hostPath on that host's own disk, as the seed's
//   Elasticsearch data nodes kept theirs.
// - Retention in VictoriaLogs is per instance and per day: it keeps per-day partitions and drops whole days older
//   than -retentionPeriod. Hot instances run with -retentionPeriod=<hotDays>d (the seed's "3 days on hot"), warm
//   ones with -retentionPeriod=<warmDays>d.
// - The collector sends every line to every store instance (vlagent replicates to each -remoteWrite.url, with a
//   disk buffer per destination). So "warm" here means: the instances that keep every line for warmDays on the
//   bigger, slower disks; "hot" those that keep only the last hotDays on the fast ones and answer the queries over
//   recent logs. Elasticsearch moved a 3-day-old index from hot to warm; here the warm copy exists from the start
//   and the hot one ages out — the same hosts hold the same days, without a mover between them. (Upstream's own
//   multi-tier recipe, partition snapshot + rsync + detach/attach by a daily cron job, needs a shell and rsync in an
//   image; replicated ingest needs neither, at the price of writing each line to both tiers.)
import {
  addonLabels,
  imageRef,
  type AddonHostPath,
  type AddonTemplate,
  type AddonValues,
  type KubeObject,
  type LoggingValues,
} from './types.js';

/** Must match scripts/build-logging.sh and lab/go/logging/go.mod. */
export const VICTORIALOGS_VERSION = '1.52.2';
export const VICTORIALOGS_IMAGE = {
  upstream: `docker.io/victoriametrics/victoria-logs:v${VICTORIALOGS_VERSION}`,
} as const;
export const VLAGENT_IMAGE = { upstream: `docker.io/victoriametrics/vlagent:v${VICTORIALOGS_VERSION}` } as const;

export const LOGGING_NAMESPACE = 'logging';
/** VictoriaLogs' HTTP port: ingestion (/insert), queries (/select/logsql/query) and its UI (/select/vmui). */
export const VICTORIALOGS_PORT = 9428;
/** Where the addon keeps its node directories (hostPaths): one directory per use below it. */
export const LOGGING_HOST_DIR = '/var/lib/kubeadm2ha/addons/logging';
/** vlagent's checkpoints (read offsets) and its per-destination disk buffers of lines not yet sent. */
export const COLLECTOR_DIR = `${LOGGING_HOST_DIR}/collector`;
export const storeDir = (tier: 'hot' | 'warm'): string => `${LOGGING_HOST_DIR}/${tier}`;
/** StatefulSet (and headless Service) of a tier; its pods are <name>-0 … <name>-(n-1). */
export const storeName = (tier: 'hot' | 'warm'): string => `vlogs-${tier}`;

const NS = LOGGING_NAMESPACE;
const AGENT = 'vlagent';
/** Per destination: a store that is down for long fills at most this much of a node's disk, then drops the oldest. */
const BUFFER_PER_STORE = '1GiB';

/** A pod may run on masters too: the seed's hot/warm hosts could be any node, and the collector runs everywhere. */
const CONTROL_PLANE_TOLERATION = {
  key: 'node-role.kubernetes.io/control-plane',
  operator: 'Exists',
  effect: 'NoSchedule',
};

const NO_TIERS: LoggingValues = { hot: [], warm: [], hotDays: 3, warmDays: 30 };
const tiersOf = (v: AddonValues): LoggingValues => v.logging ?? NO_TIERS;

/** The ingest URL of every store pod, by its stable StatefulSet DNS name. */
function storeUrls(v: AddonValues): string[] {
  const tiers = [
    ['hot', tiersOf(v).hot.length],
    ['warm', tiersOf(v).warm.length],
  ] as const;
  return tiers.flatMap(([tier, n]) =>
    Array.from(
      { length: n },
      (_, i) => `http://${storeName(tier)}-${i}.${storeName(tier)}.${NS}.svc:${VICTORIALOGS_PORT}/insert/native`,
    ),
  );
}

function store(v: AddonValues, tier: 'hot' | 'warm'): KubeObject[] {
  const hosts = tiersOf(v)[tier];
  if (hosts.length === 0) return [];
  const name = storeName(tier);
  const selector = { 'app.kubernetes.io/name': name };
  const labels = { ...selector, 'app.kubernetes.io/component': `store-${tier}`, ...addonLabels('logging') };
  const days = tier === 'hot' ? tiersOf(v).hotDays : tiersOf(v).warmDays;
  return [
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: NS, labels },
      // Headless: each store pod gets a stable DNS name, which the collector writes to one by one.
      spec: {
        clusterIP: 'None',
        selector,
        ports: [{ name: 'http', port: VICTORIALOGS_PORT, targetPort: 'http', protocol: 'TCP' }],
      },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name, namespace: NS, labels },
      spec: {
        serviceName: name,
        replicas: hosts.length,
        // The pods hold no quorum: start them all at once.
        podManagementPolicy: 'Parallel',
        selector: { matchLabels: selector },
        template: {
          metadata: { labels },
          spec: {
            affinity: {
              nodeAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: {
                  nodeSelectorTerms: [
                    { matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: hosts }] },
                  ],
                },
              },
              // One instance per host: each keeps its days on its own disk.
              podAntiAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: [
                  { labelSelector: { matchLabels: selector }, topologyKey: 'kubernetes.io/hostname' },
                ],
              },
            },
            tolerations: [CONTROL_PLANE_TOLERATION],
            containers: [
              {
                name: 'victoria-logs',
                image: imageRef(v.imageRepository, VICTORIALOGS_IMAGE),
                imagePullPolicy: 'IfNotPresent',
                args: [
                  `-httpListenAddr=:${VICTORIALOGS_PORT}`,
                  '-storageDataPath=/data',
                  // The tier's policy: whole days older than this are dropped (VictoriaLogs' per-day partitions).
                  `-retentionPeriod=${days}d`,
                  '-loggerFormat=json',
                ],
                ports: [{ name: 'http', containerPort: VICTORIALOGS_PORT, protocol: 'TCP' }],
                readinessProbe: { httpGet: { path: '/health', port: 'http' }, periodSeconds: 5 },
                livenessProbe: {
                  httpGet: { path: '/health', port: 'http' },
                  periodSeconds: 10,
                  failureThreshold: 6,
                },
                resources: { requests: { cpu: '50m', memory: '64Mi' } },
                volumeMounts: [{ name: 'data', mountPath: '/data' }],
              },
            ],
            volumes: [{ name: 'data', hostPath: { path: storeDir(tier), type: 'DirectoryOrCreate' } }],
          },
        },
      },
    },
  ];
}

export const logging: AddonTemplate = {
  name: 'logging',
  version: VICTORIALOGS_VERSION,
  status: 'stable',
  description:
    'VictoriaLogs on the logs-hot/logs-warm hosts (hot keeps hotDays, warm warmDays), vlagent collecting every node',
  replaces:
    "the seed's EFK stack (Elasticsearch hot/warm, Fluentd, Kibana): neither Elasticsearch nor Fluentd can be built " +
    'from the package registries; VictoriaLogs and its collector are Go, with their own query UI',
  images: [VICTORIALOGS_IMAGE, VLAGENT_IMAGE],
  render(v) {
    if (tiersOf(v).hot.length === 0)
      throw new Error(
        "needs at least one host with role logs-hot (the seed's elasticsearch_hot group), where its store runs",
      );
    const labels = addonLabels('logging');
    const agentSelector = { 'app.kubernetes.io/name': AGENT };
    const agentLabels = { ...agentSelector, 'app.kubernetes.io/component': 'collector', ...labels };
    const rbacName = 'kubeadm2ha:logging-vlagent';
    return [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, labels } },
      ...store(v, 'hot'),
      ...store(v, 'warm'),
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: AGENT, namespace: NS, labels: agentLabels } },
      {
        // What vlagent's Kubernetes collector reads: its own pod (for its node), the pods on the node and their
        // namespaces (the metadata of each line), upstream's rules.
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: rbacName, labels: agentLabels },
        rules: [
          { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
          { apiGroups: [''], resources: ['nodes'], verbs: ['get'] },
          { apiGroups: [''], resources: ['namespaces'], verbs: ['list'] },
        ],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: rbacName, labels: agentLabels },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: rbacName },
        subjects: [{ kind: 'ServiceAccount', name: AGENT, namespace: NS }],
      },
      {
        apiVersion: 'apps/v1',
        kind: 'DaemonSet',
        metadata: { name: AGENT, namespace: NS, labels: agentLabels },
        spec: {
          selector: { matchLabels: agentSelector },
          template: {
            metadata: { labels: agentLabels },
            spec: {
              serviceAccountName: AGENT,
              priorityClassName: 'system-node-critical',
              // Every node, masters and nodes with any taint included: a node whose logs are not collected is the
              // one someone will need them from.
              tolerations: [{ operator: 'Exists' }],
              containers: [
                {
                  name: AGENT,
                  image: imageRef(v.imageRepository, VLAGENT_IMAGE),
                  imagePullPolicy: 'IfNotPresent',
                  args: [
                    '-kubernetesCollector',
                    '-tmpDataPath=/var/lib/vlagent',
                    `-remoteWrite.maxDiskUsagePerURL=${BUFFER_PER_STORE}`,
                    '-loggerFormat=json',
                    ...storeUrls(v).map((u) => `-remoteWrite.url=${u}`),
                  ],
                  ports: [{ name: 'http', containerPort: 9429, protocol: 'TCP' }],
                  readinessProbe: { httpGet: { path: '/health', port: 'http' }, periodSeconds: 5 },
                  resources: { requests: { cpu: '20m', memory: '32Mi' } },
                  volumeMounts: [
                    { name: 'varlog', mountPath: '/var/log', readOnly: true },
                    { name: 'buffer', mountPath: '/var/lib/vlagent' },
                  ],
                },
              ],
              volumes: [
                { name: 'varlog', hostPath: { path: '/var/log' } },
                // On the node's disk: checkpoints and unsent lines survive a restart of the pod.
                { name: 'buffer', hostPath: { path: COLLECTOR_DIR, type: 'DirectoryOrCreate' } },
              ],
            },
          },
        },
      },
    ];
  },
  hostPaths(v, nodes): AddonHostPath[] {
    return [
      { path: COLLECTOR_DIR, nodes, kind: 'buffer' },
      ...(['hot', 'warm'] as const)
        .filter((t) => tiersOf(v)[t].length > 0)
        .map((t) => ({ path: storeDir(t), nodes: tiersOf(v)[t], kind: 'data' as const })),
    ];
  },
};
