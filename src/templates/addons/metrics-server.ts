// The `metrics` addon: metrics-server, the resource metrics API (`kubectl top`, HorizontalPodAutoscalers). It
// replaces the seed's heapster + InfluxDB + Grafana: heapster was retired in Kubernetes 1.13 in favour of the
// metrics API, which metrics-server serves. The objects follow upstream's manifests/base (components.yaml) at the
// pinned release; the image comes from the cluster's imageRepository (the lab builds it from the Go module proxy,
// scripts/build-metrics-server.sh).
import { addonLabels, imageRef, type AddonTemplate, type KubeObject } from './types.js';

/** Must match scripts/build-metrics-server.sh and lab/go/metrics-server/go.mod. */
export const METRICS_SERVER_VERSION = '0.9.0';
export const METRICS_SERVER_IMAGE = {
  upstream: `registry.k8s.io/metrics-server/metrics-server:v${METRICS_SERVER_VERSION}`,
} as const;

const NS = 'kube-system';
const NAME = 'metrics-server';

export const metricsServer: AddonTemplate = {
  name: 'metrics',
  version: METRICS_SERVER_VERSION,
  status: 'stable',
  description: 'metrics-server: node and pod CPU/memory through the metrics API (kubectl top, autoscalers)',
  replaces: "the seed's heapster/InfluxDB/Grafana (heapster was retired in Kubernetes 1.13 for the metrics API)",
  images: [METRICS_SERVER_IMAGE],
  render(v) {
    const labels = { 'k8s-app': NAME, ...addonLabels('metrics') };
    const selector = { 'k8s-app': NAME };
    const rbacLabels = { ...labels };
    const objects: KubeObject[] = [
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: NAME, namespace: NS, labels } },
      {
        // Aggregated into the built-in view/edit/admin roles: whoever may read pods may read their metrics.
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: {
          name: 'system:aggregated-metrics-reader',
          labels: {
            ...rbacLabels,
            'rbac.authorization.k8s.io/aggregate-to-admin': 'true',
            'rbac.authorization.k8s.io/aggregate-to-edit': 'true',
            'rbac.authorization.k8s.io/aggregate-to-view': 'true',
          },
        },
        rules: [{ apiGroups: ['metrics.k8s.io'], resources: ['pods', 'nodes'], verbs: ['get', 'list', 'watch'] }],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: 'system:metrics-server', labels: rbacLabels },
        rules: [
          { apiGroups: [''], resources: ['nodes/metrics'], verbs: ['get'] },
          { apiGroups: [''], resources: ['pods', 'nodes'], verbs: ['get', 'list', 'watch'] },
        ],
      },
      {
        // Reads the requestheader client CA the aggregator signs its proxied requests with.
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'metrics-server-auth-reader', namespace: NS, labels: rbacLabels },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'Role',
          name: 'extension-apiserver-authentication-reader',
        },
        subjects: [{ kind: 'ServiceAccount', name: NAME, namespace: NS }],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'metrics-server:system:auth-delegator', labels: rbacLabels },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:auth-delegator' },
        subjects: [{ kind: 'ServiceAccount', name: NAME, namespace: NS }],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'system:metrics-server', labels: rbacLabels },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:metrics-server' },
        subjects: [{ kind: 'ServiceAccount', name: NAME, namespace: NS }],
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: NAME, namespace: NS, labels },
        spec: {
          selector,
          ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 'https' }],
        },
      },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: NAME, namespace: NS, labels },
        spec: {
          selector: { matchLabels: selector },
          strategy: { rollingUpdate: { maxUnavailable: 0 } },
          template: {
            metadata: { labels },
            spec: {
              serviceAccountName: NAME,
              priorityClassName: 'system-cluster-critical',
              nodeSelector: { 'kubernetes.io/os': 'linux' },
              containers: [
                {
                  name: NAME,
                  image: imageRef(v.imageRepository, METRICS_SERVER_IMAGE),
                  imagePullPolicy: 'IfNotPresent',
                  args: [
                    '--cert-dir=/tmp',
                    '--secure-port=10250',
                    '--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname',
                    '--kubelet-use-node-status-port',
                    '--metric-resolution=15s',
                    // kubeadm's kubelets serve a self-signed certificate (serverTLSBootstrap is off by default and in
                    // our setup), which no CA can vouch for; metrics-server therefore cannot verify it. The scrape
                    // still authenticates to the kubelet with the service account's token over TLS.
                    '--kubelet-insecure-tls',
                  ],
                  ports: [{ name: 'https', containerPort: 10250, protocol: 'TCP' }],
                  readinessProbe: {
                    httpGet: { path: '/readyz', port: 'https', scheme: 'HTTPS' },
                    initialDelaySeconds: 20,
                    periodSeconds: 10,
                    failureThreshold: 3,
                  },
                  livenessProbe: {
                    httpGet: { path: '/livez', port: 'https', scheme: 'HTTPS' },
                    periodSeconds: 10,
                    failureThreshold: 3,
                  },
                  resources: { requests: { cpu: '100m', memory: '200Mi' } },
                  securityContext: {
                    allowPrivilegeEscalation: false,
                    capabilities: { drop: ['ALL'] },
                    readOnlyRootFilesystem: true,
                    runAsNonRoot: true,
                    runAsUser: 1000,
                    seccompProfile: { type: 'RuntimeDefault' },
                  },
                  volumeMounts: [{ name: 'tmp-dir', mountPath: '/tmp' }],
                },
              ],
              volumes: [{ name: 'tmp-dir', emptyDir: {} }],
            },
          },
        },
      },
      {
        apiVersion: 'apiregistration.k8s.io/v1',
        kind: 'APIService',
        metadata: { name: 'v1beta1.metrics.k8s.io', labels },
        spec: {
          group: 'metrics.k8s.io',
          version: 'v1beta1',
          groupPriorityMinimum: 100,
          versionPriority: 100,
          // The serving certificate is metrics-server's own self-signed one (--cert-dir=/tmp), as upstream ships it.
          insecureSkipTLSVerify: true,
          service: { name: NAME, namespace: NS },
        },
      },
    ];
    return objects;
  },
};
