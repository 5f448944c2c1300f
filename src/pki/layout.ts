// The kubeadm PKI layout as data: which files live under /etc/kubernetes/pki, what kubeadm names their subjects,
// and what they are used for (after kubeadm's certlist.go and constants.go). Only the CAs, the service-account
// keys and the etcd family are here; kubeadm itself makes the apiserver, kubelet-client and front-proxy-client
// leaves from the CAs we place.
//
// Pure data with type-only imports, so workflow and planner code may import it (no Node built-ins, no forge).
import type { CertificateUsage } from './issue.js';

export const PKI_DIR = '/etc/kubernetes/pki';
/** kubeadm writes certificates world-readable and keys for root only. */
export const CERT_MODE = 0o644;
export const KEY_MODE = 0o600;

/** kubeadm's group for its own privileged clients; etcd does not use it, the apiserver's authorizer does. */
export const MASTERS_GROUP = 'system:masters';

export type CaName = 'ca' | 'front-proxy-ca' | 'etcd-ca';

export interface CaFile {
  name: CaName;
  commonName: string;
  certPath: string;
  keyPath: string;
}

const caFile = (name: CaName, baseName: string, commonName: string): CaFile => ({
  name,
  commonName,
  certPath: `${PKI_DIR}/${baseName}.crt`,
  keyPath: `${PKI_DIR}/${baseName}.key`,
});

export const clusterCa = caFile('ca', 'ca', 'kubernetes');
export const frontProxyCa = caFile('front-proxy-ca', 'front-proxy-ca', 'front-proxy-ca');
export const etcdCa = caFile('etcd-ca', 'etcd/ca', 'etcd-ca');
export const certificateAuthorities: readonly CaFile[] = [clusterCa, frontProxyCa, etcdCa];

export const serviceAccountKeyFiles = { privateKeyPath: `${PKI_DIR}/sa.key`, publicKeyPath: `${PKI_DIR}/sa.pub` } as const;

export type LeafName = 'etcd-server' | 'etcd-peer' | 'etcd-healthcheck-client' | 'apiserver-etcd-client';

export interface LeafFile {
  name: LeafName;
  ca: CaName;
  /** A fixed CN, or the node's name (kubeadm's setCommonNameToNodeName for etcd server and peer). */
  commonName: string | { nodeName: true };
  organization?: string;
  usages: CertificateUsage;
  /** Carries the host's names (hostname, address, localhost, loopback IPs) as SANs. */
  hostSans: boolean;
  certPath: string;
  keyPath: string;
}

const leafFile = (f: Omit<LeafFile, 'certPath' | 'keyPath'>, baseName: string): LeafFile => ({
  ...f,
  certPath: `${PKI_DIR}/${baseName}.crt`,
  keyPath: `${PKI_DIR}/${baseName}.key`,
});

// etcd ≥ 3.2 also dials itself with its server certificate, so kubeadm gives it clientAuth too ('peer' usages).
export const etcdServer = leafFile(
  { name: 'etcd-server', ca: 'etcd-ca', commonName: { nodeName: true }, usages: 'peer', hostSans: true },
  'etcd/server',
);
export const etcdPeer = leafFile(
  { name: 'etcd-peer', ca: 'etcd-ca', commonName: { nodeName: true }, usages: 'peer', hostSans: true },
  'etcd/peer',
);
export const etcdHealthcheckClient = leafFile(
  {
    name: 'etcd-healthcheck-client',
    ca: 'etcd-ca',
    commonName: 'kube-etcd-healthcheck-client',
    organization: MASTERS_GROUP,
    usages: 'client',
    hostSans: false,
  },
  'etcd/healthcheck-client',
);
export const apiserverEtcdClient = leafFile(
  {
    name: 'apiserver-etcd-client',
    ca: 'etcd-ca',
    commonName: 'kube-apiserver-etcd-client',
    organization: MASTERS_GROUP,
    usages: 'client',
    hostSans: false,
  },
  'apiserver-etcd-client',
);
export const etcdLeaves: readonly LeafFile[] = [etcdServer, etcdPeer, etcdHealthcheckClient, apiserverEtcdClient];
