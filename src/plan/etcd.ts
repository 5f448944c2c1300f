// The external etcd cluster as a plan: which hosts run a member, with which URLs and TLS files, which hosts get the
// etcd PKI, and the per-host steps the workflow runs. Pure and workflow-safe: the same function feeds
// `kubeadm2ha etcd setup --dry-run` and the setupEtcdCluster workflow.
//
// Layout after kubeadm's "external etcd" guide: member certificates in /etc/kubernetes/pki/etcd, data in
// /var/lib/etcd, clients on 2379 and peers on 2380, TLS with client-certificate auth on both.
import { InvalidInputError } from '../errors.js';
import type { Host, Inventory } from '../inventory/schema.js';
import { etcdCa, etcdHealthcheckClient, etcdPeer, etcdServer } from '../pki/layout.js';
import { planEtcdPki, type CaPlan, type HostPkiPlan } from '../pki/plan.js';
import { etcdHosts, targetOf } from './topology.js';
import type { HostPlan, HostTarget } from './types.js';

export const ETCD_CLIENT_PORT = 2379;
export const ETCD_PEER_PORT = 2380;
export const ETCD_DATA_DIR = '/var/lib/etcd';
export const ETCD_CONFIG_PATH = '/etc/etcd/etcd.conf.yml';
export const ETCD_SERVICE = 'etcd';

export type EtcdStepId = 'certificates' | 'install' | 'config' | 'service' | 'health';
export interface EtcdStep {
  id: EtcdStepId;
  title: string;
}

// The binary is checked first: it is read-only unless a mirror is configured, so a host without the pinned etcd
// fails the run before anything was written to it.
const memberSteps: EtcdStep[] = [
  { id: 'install', title: 'etcd binary at the pinned version' },
  { id: 'certificates', title: 'etcd certificates' },
  { id: 'config', title: 'etcd configuration and service' },
  { id: 'service', title: 'etcd running' },
  { id: 'health', title: 'member healthy in the cluster' },
];
// Masters that are not members still need etcd/ca.crt and apiserver-etcd-client to reach the cluster.
const clientSteps: EtcdStep[] = [{ id: 'certificates', title: 'etcd client certificate' }];

/** TLS files of a member, at kubeadm's paths. */
export interface EtcdTlsFiles {
  trustedCaFile: string;
  certFile: string;
  keyFile: string;
  peerTrustedCaFile: string;
  peerCertFile: string;
  peerKeyFile: string;
}

/** Everything in a member's configuration that does not depend on the host's current state. */
export interface EtcdMemberConfig {
  name: string;
  dataDir: string;
  listenClientUrls: string[];
  advertiseClientUrls: string[];
  listenPeerUrls: string[];
  initialAdvertisePeerUrls: string[];
  initialCluster: string;
  initialClusterToken: string;
  tls: EtcdTlsFiles;
}

export interface EtcdMemberPlan {
  target: HostTarget;
  clientUrl: string;
  peerUrl: string;
  config: EtcdMemberConfig;
}

/** The client identity the health gate uses on a member: kubeadm's etcd/healthcheck-client. */
export interface EtcdClientTls {
  caFile: string;
  certFile: string;
  keyFile: string;
}

export interface EtcdSetupPlan {
  cluster: string;
  kubernetesVersion: string;
  /** Pinned etcd version (cluster.etcd.version). */
  version: string;
  /** Package mirror; without one a missing or wrong etcd is an error, never an install from elsewhere. */
  mirror?: string;
  ca: CaPlan;
  members: EtcdMemberPlan[];
  /** Every host that gets etcd PKI: the members, plus masters (apiserver-etcd-client). */
  pki: HostPkiPlan[];
  /** Client URLs of all members, in inventory order. */
  endpoints: string[];
  healthcheckClient: EtcdClientTls;
  /** Steps per host, for progress and dry runs. */
  hosts: HostPlan<EtcdStep>[];
}

/** A member as `etcdctl member list` reports it. */
export interface EtcdMember {
  /** Member id in hex, as etcdctl's table output and etcd's logs print it. */
  id: string;
  /** Empty for a member that was added but has not started yet. */
  name: string;
  peerUrls: string[];
  clientUrls: string[];
}

export interface EtcdHostReport {
  name: string;
  /** Remote files written by the certificates step (empty on a rerun). */
  certificatesChanged: string[];
  certificatesIssued: { path: string; reasons: string[] }[];
  etcdVersion?: string;
  installed?: boolean;
  configChanged?: string[];
  serviceManager?: 'systemd' | 'supervisor';
  service?: 'none' | 'started' | 'restarted';
}

/** What setupEtcdCluster returns: fingerprints and ids only, nothing secret. */
export interface EtcdSetupReport {
  cluster: string;
  version: string;
  ca: { commonName: string; sha256Fingerprint: string; notAfter: string; created: boolean };
  /** Hex, like the member ids. */
  clusterId: string;
  members: EtcdMember[];
  endpoints: string[];
  hosts: EtcdHostReport[];
  /** Members the health gate found stopped and the workflow started again. */
  restartedByHealthGate: string[];
  healthProbes: number;
  /** False when the run found everything as planned and touched nothing. */
  changed: boolean;
}

const isIpv4 = (a: string): boolean => /^\d{1,3}(\.\d{1,3}){3}$/.test(a);
const url = (host: string, port: number): string => `https://${host}:${port}`;

function memberConfig(h: Host, initialCluster: string, token: string): EtcdMemberConfig {
  // etcd can only listen on IP addresses. A member known by a DNS name listens on every address and advertises
  // the name, which its certificate carries as a SAN (etcdHostSans).
  const ip = isIpv4(h.address);
  return {
    name: h.name,
    dataDir: ETCD_DATA_DIR,
    // Loopback too, so local clients (the health gate, kubeadm's stacked-style checks) need no routable address.
    listenClientUrls: ip
      ? [url(h.address, ETCD_CLIENT_PORT), url('127.0.0.1', ETCD_CLIENT_PORT)]
      : [url('0.0.0.0', ETCD_CLIENT_PORT)],
    advertiseClientUrls: [url(h.address, ETCD_CLIENT_PORT)],
    listenPeerUrls: [url(ip ? h.address : '0.0.0.0', ETCD_PEER_PORT)],
    initialAdvertisePeerUrls: [url(h.address, ETCD_PEER_PORT)],
    initialCluster,
    initialClusterToken: token,
    tls: {
      trustedCaFile: etcdCa.certPath,
      certFile: etcdServer.certPath,
      keyFile: etcdServer.keyPath,
      peerTrustedCaFile: etcdCa.certPath,
      peerCertFile: etcdPeer.certPath,
      peerKeyFile: etcdPeer.keyPath,
    },
  };
}

export function planEtcdSetup(inv: Inventory): EtcdSetupPlan {
  if (inv.cluster.etcd.mode !== 'external') {
    throw new InvalidInputError(
      'cluster.etcd.mode is "stacked": kubeadm runs etcd on the masters, there is no external etcd cluster to set up',
    );
  }
  const members = etcdHosts(inv);
  if (members.length === 0) {
    throw new InvalidInputError('external etcd needs at least one host with the "etcd" role');
  }
  const initialCluster = members.map((h) => `${h.name}=${url(h.address, ETCD_PEER_PORT)}`).join(',');
  // The token keeps members of two clusters built from similar inventories from joining each other.
  const token = `${inv.cluster.name}-etcd`;
  const pki = planEtcdPki(inv);
  const memberNames = new Set(members.map((h) => h.name));
  const byName = new Map(inv.hosts.map((h) => [h.name, h]));
  return {
    cluster: inv.cluster.name,
    kubernetesVersion: inv.cluster.kubernetesVersion,
    version: inv.cluster.etcd.version,
    ...(inv.cluster.packages.mirror !== undefined && { mirror: inv.cluster.packages.mirror }),
    ca: pki.ca,
    members: members.map((h) => ({
      target: targetOf(h),
      clientUrl: url(h.address, ETCD_CLIENT_PORT),
      peerUrl: url(h.address, ETCD_PEER_PORT),
      config: memberConfig(h, initialCluster, token),
    })),
    pki: pki.hosts,
    endpoints: members.map((h) => url(h.address, ETCD_CLIENT_PORT)),
    healthcheckClient: {
      caFile: etcdCa.certPath,
      certFile: etcdHealthcheckClient.certPath,
      keyFile: etcdHealthcheckClient.keyPath,
    },
    hosts: pki.hosts.map((p) => {
      const host = byName.get(p.host);
      // planEtcdPki only lists inventory hosts; reaching this is a bug.
      if (!host) throw new Error(`etcd PKI plan names unknown host ${p.host}`);
      return { target: targetOf(host), steps: memberNames.has(p.host) ? memberSteps : clientSteps };
    }),
  };
}

/** One line per host, for `--dry-run` without --json. */
export function describeEtcdPlan(plan: EtcdSetupPlan): string[] {
  const lines = [
    `etcd ${plan.version} for cluster ${plan.cluster}: ${plan.members.length} member(s), CA "${plan.ca.commonName}" ` +
      `(${plan.ca.keyType}), ${plan.mirror ? `installs from ${plan.mirror} when missing` : 'no package mirror (etcd must be installed)'}`,
    `initial cluster: ${plan.members[0]?.config.initialCluster ?? ''}`,
  ];
  for (const h of plan.hosts) {
    const certs = plan.pki.find((p) => p.host === h.target.name)?.certificates.map((c) => c.certPath) ?? [];
    lines.push(
      `${h.target.name} (${h.target.address}): ${h.steps.map((s) => s.id).join(', ')}; certificates: ${certs.join(', ')}`,
    );
  }
  return lines;
}
