// In plan/, not pki/: it reads the inventory's topology, and pki/ (keys and certificates) imports nothing from plan/.
// From inventory to "which CA, key and certificate each host needs, with which names, key type and validity".
// Pure and workflow-safe like pki/layout.ts: a workflow can show this plan (dry run) and hand one host's part to an
// activity, which issues, compares (needsRenewal) and writes.
import type { Host, Inventory } from '../inventory/schema.js';
import { etcdHosts, masters } from './topology.js';
import type { KeyType } from '../pki/keys.js';
import {
  apiserverEtcdClient,
  certificateAuthorities,
  etcdCa,
  etcdHealthcheckClient,
  etcdPeer,
  etcdServer,
  serviceAccountKeyFiles,
  type CaFile,
  type LeafFile,
} from '../pki/layout.js';

export interface CaPlan extends CaFile {
  keyType: KeyType;
  validityDays: number;
  /** Always 0: a CA is replaced only once it has expired. Rotating a CA re-keys every certificate and every
   * kubeconfig in the cluster; that is a deliberate operation of its own, never a side effect of a rerun. */
  minDaysLeft: number;
}

export interface CertificatePlan extends Omit<LeafFile, 'commonName'> {
  commonName: string;
  keyType: KeyType;
  validityDays: number;
  minDaysLeft: number;
  dnsNames: string[];
  ipAddresses: string[];
}

export interface HostPkiPlan {
  host: string;
  /** CA certificates (never keys) to place on the host, so its services can verify peers and clients. */
  caCertificates: CaFile[];
  certificates: CertificatePlan[];
}

export interface ClusterCaPlan {
  cas: CaPlan[];
  serviceAccount: typeof serviceAccountKeyFiles & { keyType: KeyType };
}

export interface EtcdPkiPlan {
  ca: CaPlan;
  hosts: HostPkiPlan[];
}

const caPlan = (ca: CaFile, inv: Inventory): CaPlan => ({
  ...ca,
  keyType: inv.cluster.pki.keyType,
  validityDays: inv.cluster.pki.caValidityDays,
  minDaysLeft: 0,
});

/** Renew leaves with less than a third of their life (at most 30 days) left. A fixed 30 days would renew a
 * 30-day certificate on every run, and a rerun must change nothing. */
export const leafMinDaysLeft = (validityDays: number): number => Math.min(30, Math.floor(validityDays / 3));

export function planClusterCas(inv: Inventory): ClusterCaPlan {
  return {
    cas: certificateAuthorities.map((ca) => caPlan(ca, inv)),
    serviceAccount: { ...serviceAccountKeyFiles, keyType: inv.cluster.pki.keyType },
  };
}

// The schema allows an IPv4 address or a DNS name in `address`; anything else than a dotted quad is a name.
const isIpv4 = (a: string): boolean => /^\d{1,3}(\.\d{1,3}){3}$/.test(a);

/** The names an etcd member is reached by, as kubeadm's GetEtcdAltNames lists them. */
export function etcdHostSans(h: Host): { dnsNames: string[]; ipAddresses: string[] } {
  const dnsNames = [h.name, 'localhost'];
  const ipAddresses = ['127.0.0.1', '::1'];
  if (isIpv4(h.address)) ipAddresses.unshift(h.address);
  else if (h.address !== h.name) dnsNames.splice(1, 0, h.address);
  return { dnsNames, ipAddresses };
}

function certificatePlan(leaf: LeafFile, h: Host, inv: Inventory): CertificatePlan {
  const { certValidityDays } = inv.cluster.pki;
  return {
    ...leaf,
    commonName: typeof leaf.commonName === 'string' ? leaf.commonName : h.name,
    keyType: inv.cluster.pki.keyType,
    validityDays: certValidityDays,
    minDaysLeft: leafMinDaysLeft(certValidityDays),
    ...(leaf.hostSans ? etcdHostSans(h) : { dnsNames: [], ipAddresses: [] }),
  };
}

/**
 * etcd members get etcd/server, etcd/peer and etcd/healthcheck-client; masters get apiserver-etcd-client (the
 * apiserver's identity towards etcd). Every one of them gets etcd/ca.crt. With stacked etcd the masters are the
 * members, so they get all four. Each host gets its own certificates, so hosts can be renewed independently.
 */
export function planEtcdPki(inv: Inventory): EtcdPkiPlan {
  const members = new Set(etcdHosts(inv).map((h) => h.name));
  const apiservers = new Set(masters(inv).map((h) => h.name));
  const hosts: HostPkiPlan[] = [];
  for (const h of inv.hosts) {
    const leaves = [
      ...(members.has(h.name) ? [etcdServer, etcdPeer, etcdHealthcheckClient] : []),
      ...(apiservers.has(h.name) ? [apiserverEtcdClient] : []),
    ];
    if (leaves.length === 0) continue;
    hosts.push({ host: h.name, caCertificates: [etcdCa], certificates: leaves.map((l) => certificatePlan(l, h, inv)) });
  }
  return { ca: caPlan(etcdCa, inv), hosts };
}
