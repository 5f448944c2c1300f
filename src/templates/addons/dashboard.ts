// The `dashboard` addon: Headlamp, the web UI that succeeds the Kubernetes Dashboard (retired upstream in early 2026;
// SIG UI points its users to Headlamp, a kubernetes-sigs project). As the seed's cluster-dashboard.yaml did:
//  - one replica per master, spread over the masters (the control-plane taint is tolerated, one pod per node
//    preferred), so the UI survives a master going down;
//  - a NodePort Service, reachable through the VIP (the VIP sits on a master, and kube-proxy answers the NodePort
//    on every node);
//  - an `admin-user` ServiceAccount bound to cluster-admin, whose short-lived token `kubeadm2ha dashboard token`
//    asks for on demand (TokenRequest). No long-lived token Secret is created: a token is minted when a person asks
//    and expires by itself.
// Headlamp runs in-cluster mode: it keeps no credentials of its own and acts with the token a person logs in with,
// so its own ServiceAccount has no permissions (automountServiceAccountToken off).
import { addonLabels, imageRef, type AddonTemplate, type KubeObject } from './types.js';

/** The pinned Headlamp release (ghcr.io/headlamp-k8s/headlamp). Its image is built by upstream only (a Node.js
 * frontend plus a Go backend that the module proxy does not serve); the lab tests this addon by its objects. */
export const HEADLAMP_VERSION = '0.35.0';
export const HEADLAMP_IMAGE = { upstream: `ghcr.io/headlamp-k8s/headlamp:v${HEADLAMP_VERSION}` } as const;
export const DASHBOARD_NAMESPACE = 'headlamp';
/** The port on every node (and so on the VIP) where the UI answers; in the default NodePort range 30000–32767. */
export const DASHBOARD_NODE_PORT = 32443;
/** The ServiceAccount `kubeadm2ha dashboard token` mints tokens for, as the seed's admin-user. */
export const ADMIN_USER = { name: 'admin-user', namespace: 'kube-system' } as const;

export const dashboard: AddonTemplate = {
  name: 'dashboard',
  version: HEADLAMP_VERSION,
  status: 'stable',
  description: `Headlamp web UI on NodePort ${DASHBOARD_NODE_PORT} (through the VIP), admin-user bound to cluster-admin`,
  replaces:
    "the seed's Kubernetes Dashboard (retired upstream in early 2026; Headlamp is its kubernetes-sigs successor)",
  images: [HEADLAMP_IMAGE],
  render(v) {
    if (!Number.isInteger(v.masters) || v.masters < 1) throw new Error(`masters must be ≥ 1, got ${v.masters}`);
    const part = addonLabels('dashboard');
    const selector = { 'app.kubernetes.io/name': 'headlamp' };
    const labels = { ...selector, ...part };
    const ns = DASHBOARD_NAMESPACE;
    const objects: KubeObject[] = [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: part } },
      {
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: 'headlamp', namespace: ns, labels },
        automountServiceAccountToken: false,
      },
      {
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: ADMIN_USER.name, namespace: ADMIN_USER.namespace, labels: part },
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: ADMIN_USER.name, labels: part },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
        subjects: [{ kind: 'ServiceAccount', name: ADMIN_USER.name, namespace: ADMIN_USER.namespace }],
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'headlamp', namespace: ns, labels },
        spec: {
          type: 'NodePort',
          selector,
          ports: [{ name: 'http', port: 80, targetPort: 'http', nodePort: DASHBOARD_NODE_PORT, protocol: 'TCP' }],
        },
      },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'headlamp', namespace: ns, labels },
        spec: {
          replicas: v.masters,
          selector: { matchLabels: selector },
          template: {
            metadata: { labels },
            spec: {
              serviceAccountName: 'headlamp',
              automountServiceAccountToken: false,
              nodeSelector: { 'kubernetes.io/os': 'linux' },
              tolerations: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }],
              affinity: {
                // On the masters, as the seed ran it, and one per node where it can.
                nodeAffinity: {
                  preferredDuringSchedulingIgnoredDuringExecution: [
                    {
                      weight: 100,
                      preference: {
                        matchExpressions: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists' }],
                      },
                    },
                  ],
                },
                podAntiAffinity: {
                  preferredDuringSchedulingIgnoredDuringExecution: [
                    {
                      weight: 100,
                      podAffinityTerm: {
                        labelSelector: { matchLabels: selector },
                        topologyKey: 'kubernetes.io/hostname',
                      },
                    },
                  ],
                },
              },
              containers: [
                {
                  name: 'headlamp',
                  image: imageRef(v.imageRepository, HEADLAMP_IMAGE),
                  imagePullPolicy: 'IfNotPresent',
                  args: ['-in-cluster', '-plugins-dir=/headlamp/plugins'],
                  ports: [{ name: 'http', containerPort: 4466, protocol: 'TCP' }],
                  readinessProbe: { httpGet: { path: '/', port: 'http' }, periodSeconds: 10 },
                  livenessProbe: { httpGet: { path: '/', port: 'http' }, initialDelaySeconds: 30, periodSeconds: 30 },
                  // The image chooses its (non-root) user; nothing here needs privileges.
                  securityContext: {
                    allowPrivilegeEscalation: false,
                    capabilities: { drop: ['ALL'] },
                    seccompProfile: { type: 'RuntimeDefault' },
                  },
                },
              ],
            },
          },
        },
      },
    ];
    return objects;
  },
};
