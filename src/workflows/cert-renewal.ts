// renewEtcdCertificates: new certificates for every external etcd member, one member at a time, the cluster
// keeping quorum throughout. Runbook: plan → the CA in the operator's store (read, never created) → every member's
// etcd/ca.crt is that CA (else stop: certificates from another CA would split the cluster) → health gate on all
// members → for each member in turn: issue and write its server, peer and healthcheck-client certificates, restart
// its etcd, health gate on all members → report. Any gate that fails stops the run before the next member, so at
// most one member is ever between old and new.
//
// Reuses the etcd workflow's activities (ensureHostCertificates, ensureEtcdInstalled, ensureEtcdRunning,
// waitEtcdHealthy): renewal writes exactly what setup writes, through the same code.
import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { EtcdHealth } from '../activities/etcd.js';
import type { Activities } from '../activities/index.js';
import { FailureType, KubeadmHaError } from '../errors.js';
import {
  planEtcdRenewal,
  type EtcdRenewalPlan,
  type EtcdRenewalReport,
  type RenewEtcdInput,
  type RenewedMember,
} from '../plan/cert-renewal.js';
import type { CertFact, CertSource } from '../plan/certs.js';
import type { HostContext } from '../plan/types.js';
import { failureMessage } from './failure-info.js';
import { acceptInput } from './input.js';
import { beginOperation } from './operation.js';

const retry = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: 5 };
const local = proxyActivities<Activities>({ startToCloseTimeout: '1 minute', retry: { ...retry, maximumAttempts: 3 } });
const hostStep = proxyActivities<Activities>({ startToCloseTimeout: '2 minutes', retry });

/** Only the etcd directory: what renewal compares and reports. */
const etcdPkiSource: CertSource = { kind: 'cert', dir: '/etc/kubernetes/pki/etcd', names: ['*.crt'], recursive: false };

function plan(input: RenewEtcdInput): EtcdRenewalPlan {
  try {
    return planEtcdRenewal(input.inventory);
  } catch (err) {
    // A plain Error would fail the workflow task, which Temporal retries forever; bad input ends the run.
    if (err instanceof KubeadmHaError) throw ApplicationFailure.nonRetryable(err.message, err.type);
    throw err;
  }
}

const describeUnhealthy = (h: EtcdHealth): string =>
  h.unhealthy.map((u) => `${u.name} (${u.endpoint ? `${u.endpoint}: ` : ''}${u.error})`).join(', ') ||
  `down: ${h.down.join(', ')}`;

export async function renewEtcdCertificates(raw: RenewEtcdInput): Promise<EtcdRenewalReport> {
  const input = acceptInput('renewEtcdCertificates', raw);
  const p = plan(input);
  const healthTimeoutSeconds = input.healthTimeoutSeconds ?? 120;
  const progress = beginOperation('certs', 'etcd certificate renewal', p);
  const ctx = (target: HostContext['target']): HostContext => ({ target, ssh: input.inventory.ssh });
  const gate = proxyActivities<Activities>({
    startToCloseTimeout: `${healthTimeoutSeconds + 60} seconds`,
    heartbeatTimeout: '30 seconds',
    retry: { ...retry, maximumAttempts: 3 },
  });
  const members = p.members.map((m) => ({ host: ctx(m.target), plan: { clientUrl: m.clientUrl, peerUrl: m.peerUrl } }));
  const healthGate = async (when: string): Promise<EtcdHealth> => {
    const h = await gate.waitEtcdHealthy({ members, tls: p.healthcheckClient, timeoutSeconds: healthTimeoutSeconds });
    if (!h.healthy) {
      throw ApplicationFailure.nonRetryable(`etcd is not healthy ${when}: ${describeUnhealthy(h)}`, 'EtcdUnhealthy');
    }
    return h;
  };
  const readEtcdCerts = async (target: HostContext['target']): Promise<Map<string, CertFact>> => {
    const r = await hostStep.readHostCertificates({ host: ctx(target), sources: [etcdPkiSource] });
    return new Map(r.certificates.map((c) => [c.path, c]));
  };

  progress.phase('checking the CA');
  const ca = await local.readStoredCa({ cluster: p.cluster, name: 'etcd-ca' });
  const before = new Map<string, Map<string, CertFact>>();
  for (const m of p.members) {
    const certs = await readEtcdCerts(m.target);
    before.set(m.target.name, certs);
    const onHost = certs.get(m.pki.caCertificates[0]?.certPath ?? '')?.sha256Fingerprint;
    if (onHost !== ca.sha256Fingerprint) {
      throw ApplicationFailure.nonRetryable(
        `${m.target.name}: ${m.pki.caCertificates[0]?.certPath} ${onHost ? `is another CA (${onHost})` : 'is missing'}, ` +
          `not the etcd CA in ${ca.storeDir} (${ca.sha256Fingerprint}); nothing was changed`,
        FailureType.InvalidInput,
      );
    }
  }

  progress.phase('health gate before renewal');
  await healthGate('before renewal; nothing was changed');

  const renewed: RenewedMember[] = [];
  for (const m of p.members) {
    const name = m.target.name;
    const host = ctx(m.target);
    progress.phase(`renewing ${name}`);
    let step: 'certificates' | 'restart' | 'health' = 'certificates';
    try {
      progress.set(name, 'certificates', 'running');
      // Read-only without a mirror: the binary the service runs, at the pinned version (or a clear error).
      const { binary } = await hostStep.ensureEtcdInstalled({ host, version: p.version });
      const written = await hostStep.ensureHostCertificates({
        host,
        cluster: p.cluster,
        plan: m.pki,
        caFingerprints: { 'etcd-ca': ca.sha256Fingerprint },
      });
      const writtenAt = new Date(Date.now()).toISOString();
      progress.set(name, 'certificates', 'done', `issued ${written.issued.length}`);

      step = 'restart';
      progress.set(name, 'restart', 'running');
      const restart = await hostStep.ensureEtcdRunning({ host, binary, restartIfRunning: true });
      progress.set(name, 'restart', 'done', restart.action);

      step = 'health';
      progress.set(name, 'health', 'running');
      const health = await healthGate(`after renewing ${name}; the members after it were not touched`);
      progress.set(name, 'health', 'done', `${health.probes} probes`);

      const after = await readEtcdCerts(m.target);
      renewed.push({
        host: name,
        renewed: written.issued.map((i) => {
          const previous = before.get(name)?.get(i.path)?.notAfter;
          return {
            path: i.path,
            ...(previous !== undefined && { previousNotAfter: previous }),
            notAfter: after.get(i.path)?.notAfter ?? '',
          };
        }),
        restart: restart.action,
        writtenAt,
        healthyAt: new Date(Date.now()).toISOString(),
        healthProbes: health.probes,
      });
    } catch (err) {
      progress.set(name, step, 'failed', failureMessage(err));
      for (const rest of p.members.slice(p.members.indexOf(m) + 1)) {
        progress.skipRemaining(rest.target.name, `stopped after ${name}`);
      }
      throw err;
    }
  }

  progress.finish();
  return { cluster: p.cluster, caFingerprint: ca.sha256Fingerprint, members: renewed, ok: true };
}
