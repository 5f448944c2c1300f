// setupEtcdCluster: the external etcd cluster with TLS, as kubeadm's "external etcd" guide builds it. The runbook
// (CA → members → health gate; src/plan/etcd.ts planEtcdSetupRunbook) is planned once and run by the executor; this
// file only turns its step results into the report.
import { ApplicationFailure } from '@temporalio/workflow';
import type { ConfigureEtcdResult, EtcdHealthGate, EtcdInstallResult, EtcdRunningResult } from '../activities/etcd.js';
import type { HostCertificatesResult } from '../activities/pki.js';
import type { EnsuredCa } from '../activities/pki-store.js';
import { KubeadmHaError } from '../errors.js';
import { planEtcdSetupRunbook, type EtcdSetupReport, type SetupEtcdInput } from '../plan/etcd.js';
import { ONCE, type Step } from '../plan/runbook.js';
import { acceptInput } from './input.js';
import { resultOf, runRunbook } from './runbook.js';

export type { SetupEtcdInput } from '../plan/etcd.js';

/** Progress messages per step, as a person reads them. */
function describe(s: Step, r: unknown): string | undefined {
  switch (s.id) {
    case 'ensureEtcdInstalled': {
      const x = r as EtcdInstallResult;
      return `etcd ${x.version}${x.installed ? ' installed' : ''}`;
    }
    case 'ensureHostCertificates': {
      const x = r as HostCertificatesResult;
      return x.issued.length
        ? `issued ${x.issued.length}`
        : x.changed.length
          ? `updated ${x.changed.length}`
          : 'unchanged';
    }
    case 'configureEtcd': {
      const x = r as ConfigureEtcdResult;
      return `${x.changed.length ? 'written' : 'unchanged'} (${x.serviceManager}, ${x.initialClusterState})`;
    }
    case 'ensureEtcdRunning': {
      const x = r as EtcdRunningResult;
      return x.action === 'none' ? 'running' : x.action;
    }
    case 'ensureEtcdHealthy': {
      const x = r as EtcdHealthGate;
      return `${x.health.members.length} members, ${x.health.probes} probes${x.restarted.length ? `, started again: ${x.restarted.join(', ')}` : ''}`;
    }
    default:
      return undefined;
  }
}

function plan(input: SetupEtcdInput): ReturnType<typeof planEtcdSetupRunbook> {
  try {
    return planEtcdSetupRunbook(input);
  } catch (err) {
    // A plain Error thrown in a workflow fails the workflow *task*, which Temporal retries forever; bad input
    // must end the run instead.
    if (err instanceof KubeadmHaError) throw ApplicationFailure.nonRetryable(err.message, err.type);
    throw err;
  }
}

export async function setupEtcdCluster(raw: SetupEtcdInput): Promise<EtcdSetupReport> {
  const input = acceptInput('setupEtcdCluster', raw);
  const { plan: p, runbook } = plan(input);
  const run = await runRunbook(runbook, { describe });

  const ca = resultOf<EnsuredCa>(run, ONCE, 'ensureEtcdCa')!;
  const gate = resultOf<EtcdHealthGate>(run, ONCE, 'ensureEtcdHealthy')!;
  const hosts = p.pki.map(({ host: name }) => {
    const certificates = resultOf<HostCertificatesResult>(run, name, 'ensureHostCertificates');
    const install = resultOf<EtcdInstallResult>(run, name, 'ensureEtcdInstalled');
    const config = resultOf<ConfigureEtcdResult>(run, name, 'configureEtcd');
    const service = resultOf<EtcdRunningResult>(run, name, 'ensureEtcdRunning');
    return {
      name,
      certificatesChanged: certificates?.changed ?? [],
      certificatesIssued: certificates?.issued ?? [],
      ...(install && { etcdVersion: install.version, installed: install.installed }),
      ...(config && { configChanged: config.changed, serviceManager: config.serviceManager }),
      ...(service && { service: service.action }),
    };
  });
  const changed =
    ca.created ||
    gate.restarted.length > 0 ||
    hosts.some(
      (h) =>
        h.certificatesChanged.length > 0 ||
        h.installed ||
        (h.configChanged?.length ?? 0) > 0 ||
        (h.service ?? 'none') !== 'none',
    );
  return {
    cluster: p.cluster,
    version: p.version,
    ca: {
      commonName: ca.commonName,
      sha256Fingerprint: ca.sha256Fingerprint,
      notAfter: ca.notAfter,
      created: ca.created,
    },
    clusterId: gate.health.clusterId,
    members: gate.health.members,
    endpoints: p.endpoints,
    hosts,
    restartedByHealthGate: gate.restarted,
    healthProbes: gate.health.probes,
    changed,
    decisions: run.gates,
  };
}
