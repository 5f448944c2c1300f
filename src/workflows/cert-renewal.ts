// renewEtcdCertificates: new certificates for every external etcd member, one member at a time, the cluster keeping
// quorum throughout. The runbook (src/plan/cert-renewal.ts planEtcdRenewalRunbook) reuses the etcd setup's
// activities, so renewal writes exactly what setup writes, through the same code; this file turns the run's step
// results into the report.
import { ApplicationFailure } from '@temporalio/workflow';
import type { StoredCa } from '../activities/cert-renewal.js';
import type { EtcdRunningResult } from '../activities/etcd.js';
import type { HostCertificatesResult } from '../activities/pki.js';
import { KubeadmHaError } from '../errors.js';
import {
  planEtcdRenewalRunbook,
  type EtcdRenewalReport,
  type RenewEtcdInput,
  type RenewedMember,
} from '../plan/cert-renewal.js';
import type { HostCertificates } from '../plan/certs.js';
import { ONCE } from '../plan/runbook.js';
import { acceptInput } from './input.js';
import { outcomeOf, resultOf, runRunbook } from './runbook.js';

function plan(input: RenewEtcdInput): ReturnType<typeof planEtcdRenewalRunbook> {
  try {
    return planEtcdRenewalRunbook(input);
  } catch (err) {
    // A plain Error would fail the workflow task, which Temporal retries forever; bad input ends the run.
    if (err instanceof KubeadmHaError) throw ApplicationFailure.nonRetryable(err.message, err.type);
    throw err;
  }
}

export async function renewEtcdCertificates(raw: RenewEtcdInput): Promise<EtcdRenewalReport> {
  const input = acceptInput('renewEtcdCertificates', raw);
  const { plan: p, runbook } = plan(input);
  const run = await runRunbook(runbook);
  const ca = resultOf<StoredCa>(run, ONCE, 'readStoredCa')!;
  const notAfter = (host: string, phase: string) =>
    new Map(
      (resultOf<HostCertificates>(run, host, 'readHostCertificates', phase)?.certificates ?? []).map((c) => [
        c.path,
        c.notAfter,
      ]),
    );
  const members = p.members.map(({ target: { name } }): RenewedMember => {
    const before = notAfter(name, 'check');
    const after = notAfter(name, 'renew');
    const written = outcomeOf(run, name, 'ensureHostCertificates', 'renew');
    const healthy = outcomeOf(run, name, 'ensureEtcdHealthy', 'renew');
    const health = healthy?.result as { health: { probes: number } } | undefined;
    return {
      host: name,
      renewed: ((written?.result as HostCertificatesResult | undefined)?.issued ?? []).map((i) => {
        const previous = before.get(i.path);
        return {
          path: i.path,
          ...(previous !== undefined && { previousNotAfter: previous }),
          notAfter: after.get(i.path) ?? '',
        };
      }),
      restart: resultOf<EtcdRunningResult>(run, name, 'ensureEtcdRunning', 'renew')?.action ?? 'none',
      writtenAt: written?.at ?? '',
      healthyAt: healthy?.at ?? '',
      healthProbes: health?.health.probes ?? 0,
    };
  });
  return { cluster: p.cluster, caFingerprint: ca.sha256Fingerprint, members, ok: true, decisions: run.gates };
}
