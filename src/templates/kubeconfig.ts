// A kubeconfig with one cluster, one user (an embedded client certificate and key, or a bearer token) and one
// context, as `kubeadm kubeconfig user` writes it. Pure: the caller decides where the text goes (a 0600 file, never
// history).
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

/** The same, with a bearer token instead of a client certificate (the dashboard's admin-user). */
export interface TokenKubeconfigSettings {
  cluster: string;
  server: string;
  caPem: string;
  user: string;
  token: string;
}

const b64 = (pem: string): string => Buffer.from(pem, 'utf8').toString('base64');

export function renderKubeconfig(s: KubeconfigSettings | TokenKubeconfigSettings): string {
  const context = `${s.user}@${s.cluster}`;
  const credential =
    'token' in s ? { token: s.token } : { 'client-certificate-data': b64(s.certPem), 'client-key-data': b64(s.keyPem) };
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: s.cluster, cluster: { server: s.server, 'certificate-authority-data': b64(s.caPem) } }],
    users: [{ name: s.user, user: credential }],
    contexts: [{ name: context, context: { cluster: s.cluster, user: s.user } }],
    'current-context': context,
    preferences: {},
  });
}
