// A kubeconfig with one cluster, one user (an embedded client certificate and key) and one context, as
// `kubeadm kubeconfig user` writes it. Pure: the caller decides where the text goes (a 0600 file, never history).
import { stringify } from 'yaml';

export interface KubeconfigSettings {
  cluster: string;
  /** https://host:port of the API (the VIP or the load balancer). */
  server: string;
  caPem: string;
  user: string;
  certPem: string;
  keyPem: string;
}

const b64 = (pem: string): string => Buffer.from(pem, 'utf8').toString('base64');

export function renderKubeconfig(s: KubeconfigSettings): string {
  const context = `${s.user}@${s.cluster}`;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: s.cluster, cluster: { server: s.server, 'certificate-authority-data': b64(s.caPem) } }],
    users: [{ name: s.user, user: { 'client-certificate-data': b64(s.certPem), 'client-key-data': b64(s.keyPem) } }],
    contexts: [{ name: context, context: { cluster: s.cluster, user: s.user } }],
    'current-context': context,
    preferences: {},
  });
}
