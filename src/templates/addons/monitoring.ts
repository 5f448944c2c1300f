// The `monitoring` addon: prometheus-operator with its CRDs (src/templates/addons/monitoring-crds.ts), one
// Prometheus, one Alertmanager and a node exporter on every node, in the namespace `monitoring`. It replaces the
// seed's prometheus-operator.yaml (CoreOS's operator of 2018, since moved to the prometheus-operator org) and adds
// what the seed left out: its external etcd is scraped too.
//
// What is scraped, and how:
//  - the API servers: ServiceMonitor on default/kubernetes (https, the cluster CA, the pod's service-account token);
//  - the kubelets: the operator keeps a Service monitoring/kubelet with every node's address (--kubelet-service, as
//    kube-prometheus does; in our namespace so that it goes with the addon), scraped on 10250 with the token.
//    kubeadm's kubelets serve a self-signed certificate (serverTLSBootstrap is off), so TLS is not verified there,
//    as metrics-server's --kubelet-insecure-tls;
//  - the node exporters: ServiceMonitor on their headless Service (host network, port 9100);
//  - external etcd (cluster.etcd.mode external): a ScrapeConfig of the members' client URLs, verified with the etcd
//    CA and authenticated with a client certificate of that CA. The Secret that holds it is rendered here WITHOUT
//    data: the apply activity fills it from the local PKI store (src/activities/addon-secrets.ts), so neither the
//    key nor the certificate is in the workflow's input or history. Stacked etcd is kubeadm's and not scraped.
// Images come from the cluster's imageRepository (quay.io/prometheus… upstream); the lab builds all five from the Go
// module proxy (scripts/build-monitoring.sh). Pure and workflow-safe.
import { monitoringCrds } from './monitoring-crds.js';
import { addonLabels, imageRef, type AddonTemplate, type KubeObject } from './types.js';

/** Must match scripts/build-monitoring.sh. */
export const PROMETHEUS_OPERATOR_VERSION = '0.93.1';
export const PROMETHEUS_VERSION = '3.16.0';
export const ALERTMANAGER_VERSION = '0.35.0';
export const NODE_EXPORTER_VERSION = '1.12.1';

export const MONITORING_IMAGES = {
  operator: { upstream: `quay.io/prometheus-operator/prometheus-operator:v${PROMETHEUS_OPERATOR_VERSION}` },
  configReloader: {
    upstream: `quay.io/prometheus-operator/prometheus-config-reloader:v${PROMETHEUS_OPERATOR_VERSION}`,
  },
  prometheus: { upstream: `quay.io/prometheus/prometheus:v${PROMETHEUS_VERSION}` },
  alertmanager: { upstream: `quay.io/prometheus/alertmanager:v${ALERTMANAGER_VERSION}` },
  nodeExporter: { upstream: `quay.io/prometheus/node-exporter:v${NODE_EXPORTER_VERSION}` },
} as const;

export const MONITORING_NAMESPACE = 'monitoring';
/** The Prometheus and Alertmanager objects (the operator names their StatefulSets prometheus-<name>, alertmanager-<name>). */
export const PROMETHEUS_NAME = 'k8s';
export const ALERTMANAGER_NAME = 'main';
/** The Secret with etcd's CA and a client certificate of it (data filled by the apply activity, never in history). */
export const ETCD_CLIENT_SECRET = 'etcd-client';
/** Annotation that asks the apply activity to fill a Secret's data; its value says with what. */
export const SECRET_CONTENT_ANNOTATION = 'kubeadm2ha.io/secret-content';
export const ETCD_CLIENT_CONTENT = 'etcd-client-certificate';
/** Common name of the client certificate Prometheus shows etcd. */
export const ETCD_CLIENT_COMMON_NAME = 'kubeadm2ha-monitoring';

const NS = MONITORING_NAMESPACE;
const TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';
const SA_CA = '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt';

/** host:port of an address, with brackets for IPv6. */
const hostPort = (address: string, port: number): string =>
  address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;

const restricted = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  readOnlyRootFilesystem: true,
};

export const monitoring: AddonTemplate = {
  name: 'monitoring',
  version: PROMETHEUS_OPERATOR_VERSION,
  status: 'stable',
  description:
    'prometheus-operator with Prometheus, Alertmanager and node exporters: API servers, kubelets, nodes and external etcd',
  replaces: "the seed's prometheus-operator.yaml (which left etcd unmonitored)",
  images: Object.values(MONITORING_IMAGES),
  render(v) {
    const part = addonLabels('monitoring');
    const img = (i: { upstream: string }) => imageRef(v.imageRepository, i);
    const named = (name: string) => ({ 'app.kubernetes.io/name': name });
    const labelled = (name: string) => ({ ...named(name), ...part });
    // Selectors of the Prometheus: only this addon's monitors (another team's ServiceMonitors stay theirs).
    const ours = { matchLabels: { 'app.kubernetes.io/part-of': part['app.kubernetes.io/part-of'] } };
    const etcd = v.etcdAddresses ?? [];
    const imageBase = (i: { upstream: string }) => img(i).replace(/:[^:/]+$/, '');

    const operator: KubeObject[] = [
      {
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: 'prometheus-operator', namespace: NS, labels: labelled('prometheus-operator') },
      },
      {
        // Upstream's example/rbac/prometheus-operator ClusterRole, without the kinds left out of our CRDs.
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: 'kubeadm2ha-prometheus-operator', labels: labelled('prometheus-operator') },
        rules: [
          {
            apiGroups: ['monitoring.coreos.com'],
            resources: [
              'alertmanagers',
              'alertmanagers/finalizers',
              'alertmanagers/status',
              'alertmanagerconfigs',
              'prometheuses',
              'prometheuses/finalizers',
              'prometheuses/status',
              'scrapeconfigs',
              'scrapeconfigs/status',
              'servicemonitors',
              'servicemonitors/status',
              'podmonitors',
              'podmonitors/status',
              'probes',
              'probes/status',
              'prometheusrules',
              'prometheusrules/status',
            ],
            verbs: ['*'],
          },
          { apiGroups: ['apps'], resources: ['statefulsets'], verbs: ['*'] },
          { apiGroups: [''], resources: ['configmaps', 'secrets'], verbs: ['*'] },
          { apiGroups: [''], resources: ['pods'], verbs: ['list', 'delete'] },
          {
            apiGroups: [''],
            resources: ['services', 'services/finalizers'],
            verbs: ['get', 'create', 'update', 'delete'],
          },
          { apiGroups: [''], resources: ['endpoints'], verbs: ['get', 'create', 'update', 'delete'] },
          { apiGroups: [''], resources: ['nodes'], verbs: ['list', 'watch'] },
          { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'watch'] },
          { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['patch', 'create'] },
          { apiGroups: ['networking.k8s.io'], resources: ['ingresses'], verbs: ['get', 'list', 'watch'] },
          { apiGroups: ['storage.k8s.io'], resources: ['storageclasses'], verbs: ['get'] },
        ],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'kubeadm2ha-prometheus-operator', labels: labelled('prometheus-operator') },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'kubeadm2ha-prometheus-operator' },
        subjects: [{ kind: 'ServiceAccount', name: 'prometheus-operator', namespace: NS }],
      },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'prometheus-operator', namespace: NS, labels: labelled('prometheus-operator') },
        spec: {
          replicas: 1,
          selector: { matchLabels: named('prometheus-operator') },
          template: {
            metadata: { labels: labelled('prometheus-operator') },
            spec: {
              serviceAccountName: 'prometheus-operator',
              nodeSelector: { 'kubernetes.io/os': 'linux' },
              securityContext: { runAsNonRoot: true, runAsUser: 65534, seccompProfile: { type: 'RuntimeDefault' } },
              containers: [
                {
                  name: 'prometheus-operator',
                  image: img(MONITORING_IMAGES.operator),
                  imagePullPolicy: 'IfNotPresent',
                  args: [
                    `--kubelet-service=${NS}/kubelet`,
                    '--kubelet-endpoints=true',
                    '--kubelet-endpointslice=false',
                    // kubeadm turns the kubelet's read-only port (10255) off.
                    '--kubelet-http-metrics=false',
                    `--prometheus-config-reloader=${img(MONITORING_IMAGES.configReloader)}`,
                    `--prometheus-default-base-image=${imageBase(MONITORING_IMAGES.prometheus)}`,
                    `--alertmanager-default-base-image=${imageBase(MONITORING_IMAGES.alertmanager)}`,
                    '--disable-unmanaged-prometheus-configuration=true',
                  ],
                  env: [{ name: 'GOGC', value: '30' }],
                  ports: [{ name: 'http', containerPort: 8080 }],
                  resources: { requests: { cpu: '100m', memory: '100Mi' }, limits: { memory: '200Mi' } },
                  securityContext: restricted,
                },
              ],
            },
          },
        },
      },
    ];

    const prometheusRbac: KubeObject[] = [
      {
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: 'prometheus', namespace: NS, labels: labelled('prometheus') },
      },
      {
        // Upstream's example/rbac/prometheus ClusterRole.
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: 'kubeadm2ha-prometheus', labels: labelled('prometheus') },
        rules: [
          {
            apiGroups: [''],
            resources: ['nodes', 'nodes/metrics', 'services', 'endpoints', 'pods'],
            verbs: ['get', 'list', 'watch'],
          },
          { apiGroups: [''], resources: ['configmaps'], verbs: ['get'] },
          { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
          { apiGroups: ['networking.k8s.io'], resources: ['ingresses'], verbs: ['get', 'list', 'watch'] },
          { nonResourceURLs: ['/metrics'], verbs: ['get'] },
        ],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'kubeadm2ha-prometheus', labels: labelled('prometheus') },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'kubeadm2ha-prometheus' },
        subjects: [{ kind: 'ServiceAccount', name: 'prometheus', namespace: NS }],
      },
    ];

    const etcdSecret: KubeObject[] = etcd.length
      ? [
          {
            apiVersion: 'v1',
            kind: 'Secret',
            metadata: {
              name: ETCD_CLIENT_SECRET,
              namespace: NS,
              labels: labelled('prometheus'),
              annotations: { [SECRET_CONTENT_ANNOTATION]: ETCD_CLIENT_CONTENT },
            },
            type: 'kubernetes.io/tls',
          },
        ]
      : [];

    const nodeExporter: KubeObject[] = [
      {
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: 'node-exporter', namespace: NS, labels: labelled('node-exporter') },
      },
      {
        apiVersion: 'apps/v1',
        kind: 'DaemonSet',
        metadata: { name: 'node-exporter', namespace: NS, labels: labelled('node-exporter') },
        spec: {
          selector: { matchLabels: named('node-exporter') },
          updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '10%' } },
          template: {
            metadata: { labels: labelled('node-exporter') },
            spec: {
              serviceAccountName: 'node-exporter',
              automountServiceAccountToken: false,
              hostNetwork: true,
              hostPID: true,
              priorityClassName: 'system-node-critical',
              nodeSelector: { 'kubernetes.io/os': 'linux' },
              // Every node, masters included.
              tolerations: [{ operator: 'Exists' }],
              securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534 },
              containers: [
                {
                  name: 'node-exporter',
                  image: img(MONITORING_IMAGES.nodeExporter),
                  imagePullPolicy: 'IfNotPresent',
                  args: [
                    '--web.listen-address=:9100',
                    '--path.procfs=/host/proc',
                    '--path.sysfs=/host/sys',
                    '--path.rootfs=/host/root',
                    '--path.udev.data=/host/root/run/udev/data',
                    '--collector.filesystem.mount-points-exclude=^/(dev|proc|sys|run/k3s/containerd/.+|var/lib/docker/.+|var/lib/kubelet/pods/.+)($|/)',
                  ],
                  ports: [{ name: 'metrics', containerPort: 9100 }],
                  readinessProbe: { httpGet: { path: '/', port: 9100 }, periodSeconds: 10 },
                  resources: { requests: { cpu: '50m', memory: '50Mi' }, limits: { memory: '180Mi' } },
                  securityContext: restricted,
                  volumeMounts: [
                    { name: 'proc', mountPath: '/host/proc', readOnly: true },
                    { name: 'sys', mountPath: '/host/sys', readOnly: true },
                    // No mountPropagation: HostToContainer needs / to be a shared or slave mount, which not every
                    // host has (the lab's are private: the container would not start). The filesystem collector
                    // then sees the mounts of when the pod started; a node's usual mounts are there long before.
                    { name: 'root', mountPath: '/host/root', readOnly: true },
                  ],
                },
              ],
              volumes: [
                { name: 'proc', hostPath: { path: '/proc' } },
                { name: 'sys', hostPath: { path: '/sys' } },
                { name: 'root', hostPath: { path: '/' } },
              ],
            },
          },
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'node-exporter', namespace: NS, labels: labelled('node-exporter') },
        spec: {
          clusterIP: 'None',
          selector: named('node-exporter'),
          ports: [{ name: 'metrics', port: 9100, targetPort: 'metrics' }],
        },
      },
    ];

    const workloads: KubeObject[] = [
      {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'Alertmanager',
        metadata: { name: ALERTMANAGER_NAME, namespace: NS, labels: labelled('alertmanager') },
        spec: {
          replicas: 1,
          image: img(MONITORING_IMAGES.alertmanager),
          version: `v${ALERTMANAGER_VERSION}`,
          portName: 'web',
          nodeSelector: { 'kubernetes.io/os': 'linux' },
          securityContext: { runAsNonRoot: true, runAsUser: 1000, fsGroup: 2000 },
          resources: { requests: { cpu: '50m', memory: '50Mi' } },
        },
      },
      {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'Prometheus',
        metadata: { name: PROMETHEUS_NAME, namespace: NS, labels: labelled('prometheus') },
        spec: {
          replicas: 1,
          shards: 1,
          image: img(MONITORING_IMAGES.prometheus),
          version: `v${PROMETHEUS_VERSION}`,
          portName: 'web',
          serviceAccountName: 'prometheus',
          scrapeInterval: '30s',
          evaluationInterval: '30s',
          retention: '24h',
          serviceMonitorSelector: ours,
          serviceMonitorNamespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': NS } },
          podMonitorSelector: ours,
          podMonitorNamespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': NS } },
          probeSelector: ours,
          probeNamespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': NS } },
          ruleSelector: ours,
          ruleNamespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': NS } },
          scrapeConfigSelector: ours,
          scrapeConfigNamespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': NS } },
          alerting: {
            alertmanagers: [{ namespace: NS, name: 'alertmanager-operated', port: 'web', apiVersion: 'v2' }],
          },
          nodeSelector: { 'kubernetes.io/os': 'linux' },
          securityContext: { runAsNonRoot: true, runAsUser: 1000, fsGroup: 2000 },
          resources: { requests: { cpu: '100m', memory: '400Mi' } },
        },
      },
    ];

    const monitors: KubeObject[] = [
      {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'ServiceMonitor',
        metadata: { name: 'apiserver', namespace: NS, labels: labelled('apiserver') },
        spec: {
          jobLabel: 'component',
          namespaceSelector: { matchNames: ['default'] },
          selector: { matchLabels: { component: 'apiserver', provider: 'kubernetes' } },
          endpoints: [
            {
              port: 'https',
              scheme: 'https',
              interval: '30s',
              bearerTokenFile: TOKEN,
              tlsConfig: { caFile: SA_CA, serverName: 'kubernetes' },
            },
          ],
        },
      },
      {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'ServiceMonitor',
        metadata: { name: 'kubelet', namespace: NS, labels: labelled('kubelet') },
        spec: {
          jobLabel: 'app.kubernetes.io/name',
          namespaceSelector: { matchNames: [NS] },
          selector: { matchLabels: { 'app.kubernetes.io/name': 'kubelet' } },
          endpoints: [
            {
              port: 'https-metrics',
              scheme: 'https',
              interval: '30s',
              bearerTokenFile: TOKEN,
              // kubeadm's kubelet serving certificates are self-signed (see the header).
              tlsConfig: { insecureSkipVerify: true },
              relabelings: [{ sourceLabels: ['__metrics_path__'], targetLabel: 'metrics_path', action: 'replace' }],
            },
          ],
        },
      },
      {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'ServiceMonitor',
        metadata: { name: 'node-exporter', namespace: NS, labels: labelled('node-exporter') },
        spec: {
          jobLabel: 'app.kubernetes.io/name',
          namespaceSelector: { matchNames: [NS] },
          selector: { matchLabels: named('node-exporter') },
          endpoints: [
            {
              port: 'metrics',
              scheme: 'http',
              interval: '30s',
              relabelings: [
                { sourceLabels: ['__meta_kubernetes_pod_node_name'], targetLabel: 'instance', action: 'replace' },
              ],
            },
          ],
        },
      },
      ...(etcd.length
        ? [
            {
              apiVersion: 'monitoring.coreos.com/v1alpha1',
              kind: 'ScrapeConfig',
              metadata: { name: 'etcd', namespace: NS, labels: labelled('etcd') },
              spec: {
                jobName: 'etcd',
                scheme: 'HTTPS',
                scrapeInterval: '30s',
                staticConfigs: [{ targets: etcd.map((a) => hostPort(a, 2379)), labels: { job: 'etcd' } }],
                tlsConfig: {
                  ca: { secret: { name: ETCD_CLIENT_SECRET, key: 'ca.crt' } },
                  cert: { secret: { name: ETCD_CLIENT_SECRET, key: 'tls.crt' } },
                  keySecret: { name: ETCD_CLIENT_SECRET, key: 'tls.key' },
                },
              },
            } satisfies KubeObject,
          ]
        : []),
    ];

    return [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, labels: part } },
      ...monitoringCrds(PROMETHEUS_OPERATOR_VERSION, part),
      ...operator,
      ...prometheusRbac,
      ...etcdSecret,
      ...nodeExporter,
      ...workloads,
      ...monitors,
    ];
  },
};
