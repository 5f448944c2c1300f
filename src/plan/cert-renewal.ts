// Renewing the external etcd members' certificates as a plan: which member goes in which order, which of its
// certificates are re-issued, and what the health gate asks. Pure and workflow-safe; built on the etcd setup plan
// so renewal issues exactly what setup would (names, SANs, key type, validity), only sooner.
import type { Inventory } from '../inventory/schema.js';
import type { HostPkiPlan } from './pki.js';
import { etcdCa, type LeafName } from '../pki/layout.js';
import type { CertSource } from './certs.js';
import { caFingerprintBinding, etcdHealthStep, planEtcdSetup, type EtcdClientTls } from './etcd.js';
import type { GateRecord } from './gates.js';
import { runbookFor, step, type OnFailure, type Runbook } from './runbook.js';
import type { HostTarget } from './types.js';

/** A member's own certificates. apiserver-etcd-client belongs to the apiserver, which etcd restarts do not reload. */
export const memberLeaves: readonly LeafName[] = ['etcd-server', 'etcd-peer', 'etcd-healthcheck-client'];

/**
 * "Renew whatever is there": needsRenewal replaces a certificate with fewer days left than minDaysLeft, and no
 * certificate has this many (2700 years).
 */
export const FORCE_RENEWAL_DAYS = 1_000_000;

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
}

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
  /** A step that fails for good: wait for `kubeadm2ha decide` (default), or stop the run at once. */
  onFailure?: OnFailure;
}

/** Only the etcd directory: what renewal compares and reports. */
export const etcdPkiSource: CertSource = {
  kind: 'cert',
  dir: '/etc/kubernetes/pki/etcd',
  names: ['*.crt'],
  recursive: false,
};

/**
 * renewEtcdCertificates' runbook: the CA in the operator's store (read, never created) → every member's etcd/ca.crt
 * is that CA (else stop: certificates from another CA would split the cluster) → health gate on all members → one
 * member at a time: the pinned binary (read-only), its server, peer and healthcheck-client certificates, restart,
 * health gate on all members, read back. A failed gate stops before the next member, so at most one member is ever
 * between old and new. Members are never skipped.
 */
export function planEtcdRenewalRunbook(input: RenewEtcdInput): { plan: EtcdRenewalPlan; runbook: Runbook } {
  const inv = input.inventory;
  const plan = planEtcdRenewal(inv);
  const setup = planEtcdSetup(inv);
  const timeout = input.healthTimeoutSeconds ?? 120;
  const read = (title: string) => step('readHostCertificates', title, 'quick', { sources: [etcdPkiSource] });
  const runbook = runbookFor('certs', 'etcd certificate renewal', inv, input.onFailure, [
    {
      id: 'ca',
      title: 'the etcd CA in the store',
      kind: 'once',
      steps: [step('readStoredCa', 'read the etcd CA', 'quick', { cluster: plan.cluster, name: 'etcd-ca' })],
    },
    {
      id: 'check',
      title: 'checking the CA on every member',
      kind: 'hosts',
      rollout: { kind: 'parallel' },
      hosts: plan.members.map((m) => ({
        target: m.target,
        maySkip: false,
        steps: [
          read('certificates before renewal'),
          step(
            'checkHostCa',
            'etcd/ca.crt is the CA in the store',
            'quick',
            { caPath: etcdCa.certPath },
            {
              bind: {
                certificates: { from: 'readHostCertificates', field: 'certificates' },
                ca: { from: 'readStoredCa', field: '' },
              },
            },
          ),
        ],
      })),
    },
    {
      id: 'health-before',
      title: 'health gate before renewal',
      kind: 'once',
      steps: [etcdHealthStep(setup, inv.ssh, timeout, 1)],
    },
    {
      id: 'renew',
      title: 'renewing one member at a time',
      kind: 'hosts',
      // One member at a time: three members lose quorum if two restart together.
      rollout: { kind: 'serial' },
      hosts: plan.members.map((m) => ({
        target: m.target,
        maySkip: false,
        steps: [
          // Read-only without a mirror: the binary the service runs, at the pinned version (or a clear error).
          step('ensureEtcdInstalled', 'etcd binary at the pinned version', 'install', { version: plan.version }),
          step(
            'ensureHostCertificates',
            'issue and write new member certificates',
            'hostStep',
            { cluster: plan.cluster, plan: m.pki },
            {
              bind: caFingerprintBinding(setup, 'readStoredCa'),
            },
          ),
          step(
            'ensureEtcdRunning',
            'restart etcd',
            'hostStep',
            { restartIfRunning: true },
            {
              bind: { binary: { from: 'ensureEtcdInstalled', field: 'binary' } },
            },
          ),
          etcdHealthStep(setup, inv.ssh, timeout, 1),
          read('certificates after renewal'),
        ],
      })),
    },
  ]);
  return { plan, runbook };
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
  /** Decisions and approvals taken during the run. */
  decisions: GateRecord[];
}
