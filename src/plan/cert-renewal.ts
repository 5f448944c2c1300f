// Renewing the external etcd members' certificates as a plan: which member goes in which order, which of its
// certificates are re-issued, and what the health gate asks. Pure and workflow-safe; built on the etcd setup plan
// so renewal issues exactly what setup would (names, SANs, key type, validity), only sooner.
import type { Inventory } from '../inventory/schema.js';
import type { HostPkiPlan } from '../pki/plan.js';
import type { LeafName } from '../pki/layout.js';
import { planEtcdSetup, type EtcdClientTls } from './etcd.js';
import type { HostPlan, HostTarget } from './types.js';

/** A member's own certificates. apiserver-etcd-client belongs to the apiserver, which etcd restarts do not reload. */
export const memberLeaves: readonly LeafName[] = ['etcd-server', 'etcd-peer', 'etcd-healthcheck-client'];

/**
 * "Renew whatever is there": needsRenewal replaces a certificate with fewer days left than minDaysLeft, and no
 * certificate has this many (2700 years).
 */
export const FORCE_RENEWAL_DAYS = 1_000_000;

export type RenewStepId = 'certificates' | 'restart' | 'health';

export interface RenewMemberPlan {
  target: HostTarget;
  clientUrl: string;
  peerUrl: string;
  /** The member's leaves only, each forced to renew. */
  pki: HostPkiPlan;
}

export interface EtcdRenewalPlan {
  cluster: string;
  kubernetesVersion: string;
  version: string;
  /** In inventory order: renewed one at a time, the cluster keeping quorum throughout. */
  members: RenewMemberPlan[];
  healthcheckClient: EtcdClientTls;
  hosts: HostPlan<{ id: RenewStepId; title: string }>[];
}

const steps: { id: RenewStepId; title: string }[] = [
  { id: 'certificates', title: 'issue and write new member certificates' },
  { id: 'restart', title: 'restart etcd' },
  { id: 'health', title: 'all members healthy' },
];

export function planEtcdRenewal(inv: Inventory): EtcdRenewalPlan {
  const setup = planEtcdSetup(inv);
  const members = setup.members.map((m): RenewMemberPlan => {
    const pki = setup.pki.find((p) => p.host === m.target.name);
    // planEtcdSetup gives every member a PKI plan; reaching this is a bug.
    if (!pki) throw new Error(`etcd plan has no certificates for member ${m.target.name}`);
    return {
      target: m.target,
      clientUrl: m.clientUrl,
      peerUrl: m.peerUrl,
      pki: {
        ...pki,
        certificates: pki.certificates
          .filter((c) => memberLeaves.includes(c.name))
          .map((c) => ({ ...c, minDaysLeft: FORCE_RENEWAL_DAYS })),
      },
    };
  });
  return {
    cluster: setup.cluster,
    kubernetesVersion: setup.kubernetesVersion,
    version: setup.version,
    members,
    healthcheckClient: setup.healthcheckClient,
    hosts: members.map((m) => ({ target: m.target, steps })),
  };
}

export function describeEtcdRenewal(plan: EtcdRenewalPlan): string[] {
  return [
    `renew the etcd member certificates of ${plan.cluster}, one member at a time; all ${plan.members.length} members ` +
      `must be healthy (etcdctl endpoint health over TLS) before the first and after each one`,
    ...plan.members.map(
      (m, i) =>
        `${i + 1}. ${m.target.name} (${m.clientUrl}): ${m.pki.certificates.map((c) => c.certPath).join(', ')}; ` +
        `restart etcd; wait healthy`,
    ),
  ];
}

export interface RenewEtcdInput {
  inventory: Inventory;
  /** How long each health gate waits for all members. Default 120 s. */
  healthTimeoutSeconds?: number;
}

export interface RenewedMember {
  host: string;
  /** Certificates re-issued, with the notAfter they had before. */
  renewed: { path: string; previousNotAfter?: string; notAfter: string }[];
  restart: string;
  /** Workflow time the member's certificates were written, and when all members were healthy again. */
  writtenAt: string;
  healthyAt: string;
  healthProbes: number;
}

export interface EtcdRenewalReport {
  cluster: string;
  caFingerprint: string;
  members: RenewedMember[];
  ok: boolean;
}
