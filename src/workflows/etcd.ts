// setupEtcdCluster: the external etcd cluster with TLS, as kubeadm's "external etcd" guide builds it. The runbook
// (CA → members → health gate; src/plan/etcd.ts planEtcdSetupRunbook) is planned once and run by the executor; this
// file only turns its step results into the report.
//
// Like setupCluster, it reads the hosts' facts first (readSetupFacts, read-only, one SSH round trip per host; the
// request is etcdFactsRequest) and plans HERE from its result: the facts are in history, so replay is deterministic,
// and a rerun plans only what is missing (nothing on a healthy cluster). Runs started before that replay without
// facts (patched(ETCD_SETUP_FACTS)).
import { ApplicationFailure, patched } from '@temporalio/workflow';
import type {
  ConfigureEtcdResult,
  EtcdHealthGate,
  EtcdInstallResult,
  EtcdMemberStarted,
  EtcdRunningResult,
  RemoveEtcdMemberResult,
  StopRemovedEtcdMemberResult,
} from '../activities/etcd.js';
import type { HostCertificatesResult } from '../activities/pki.js';
import type { EnsuredCa } from '../activities/pki-store.js';
import { KubeadmHaError } from '../errors.js';
import type { SetupFacts } from '../activities/setup-facts.js';
import { etcdFactsRequest, planEtcdSetupRunbook, type EtcdSetupReport, type SetupEtcdInput } from '../plan/etcd.js';
import { ONCE, type Step } from '../plan/runbook.js';
import { readActivities } from './activity-options.js';
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
      const rejoined = x.rejoined === 'replaced' ? ', data lost: removed and added again' : x.rejoined ? ', added' : '';
      return `${x.changed.length ? 'written' : 'unchanged'} (${x.serviceManager}, ${x.initialClusterState}${rejoined})`;
    }
    case 'ensureEtcdRunning': {
      const x = r as EtcdRunningResult;
      return x.action === 'none' ? 'running' : x.action;
    }
    case 'waitEtcdMemberStarted': {
      const x = r as EtcdMemberStarted;
      return `started as member ${x.id} of ${x.members}`;
    }
    case 'removeEtcdMember': {
      const x = r as RemoveEtcdMemberResult;
      return x.removed ? `removed, ${x.members} members left` : 'already gone';
    }
    case 'stopRemovedEtcdMember': {
      const x = r as StopRemovedEtcdMemberResult;
      return `${x.stopped ? 'stopped' : 'not running'}${x.dataDir ? `, data kept in ${x.dataDir}` : ''}`;
    }
    case 'ensureEtcdHealthy': {
      const x = r as EtcdHealthGate;
      return `${x.health.members.length} members, ${x.health.probes} probes${x.restarted.length ? `, started again: ${x.restarted.join(', ')}` : ''}`;
    }
    default:
      return undefined;
  }
}

/** patched() id: etcd setup reads the hosts' facts before it plans. */
export const ETCD_SETUP_FACTS = 'etcd-setup-facts';

/** patched() id: members joining a running cluster go one at a time in a serial phase (etcd setup and setup). */
export const ETCD_JOIN_PHASE = 'etcd-join-phase';

/** patched() id: members the inventory no longer has are removed (scale-in; etcd setup and setup). */
export const ETCD_MEMBER_REMOVAL = 'etcd-member-removal';

/** Runs a planner; bad input (KubeadmHaError) ends the run as a non-retryable failure with its message. */
export function invalid<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    // A plain Error thrown in a workflow fails the workflow *task*, which Temporal retries forever; bad input
    // must end the run instead.
    if (err instanceof KubeadmHaError) throw ApplicationFailure.nonRetryable(err.message, err.type);
    throw err;
  }
}

export async function setupEtcdCluster(raw: SetupEtcdInput): Promise<EtcdSetupReport> {
  const input = acceptInput('setupEtcdCluster', raw);
  // --replace-ca plans every step whatever the hosts show: no facts to read.
  let facts: SetupFacts | undefined;
  let joinPhase = true;
  let removal = true;
  if (patched(ETCD_SETUP_FACTS) && !input.replaceCa) {
    const request = invalid(() => etcdFactsRequest(input.inventory));
    facts = await readActivities.readSetupFacts(request);
    joinPhase = patched(ETCD_JOIN_PHASE);
    removal = patched(ETCD_MEMBER_REMOVAL);
  }
  const { plan: p, runbook } = invalid(() => planEtcdSetupRunbook(input, facts, { joinPhase, removal }));
  const run = await runRunbook(runbook, { describe });

  const ca = resultOf<EnsuredCa>(run, ONCE, 'ensureEtcdCa');
  const gate = resultOf<EtcdHealthGate>(run, ONCE, 'ensureEtcdHealthy');
  const done = new Set((runbook.alreadyDone ?? []).map((d) => d.host));
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
      ...(config?.rejoined && { rejoined: config.rejoined }),
      ...(service && { service: service.action }),
      ...(done.has(name) && { alreadyDone: true as const }),
    };
  });
  const removed = runbook.phases
    .flatMap((ph) => (ph.kind === 'hosts' && ph.id === 'remove' ? ph.hosts.map((h) => h.target.name) : []))
    .filter((name) => resultOf<RemoveEtcdMemberResult>(run, name, 'removeEtcdMember')?.removed);
  const changed =
    removed.length > 0 ||
    ca?.created === true ||
    (gate?.restarted.length ?? 0) > 0 ||
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
    ...(ca && {
      ca: {
        commonName: ca.commonName,
        sha256Fingerprint: ca.sha256Fingerprint,
        notAfter: ca.notAfter,
        created: ca.created,
      },
    }),
    ...(gate && { clusterId: gate.health.clusterId }),
    members: gate?.health.members ?? [],
    endpoints: p.endpoints,
    hosts,
    restartedByHealthGate: gate?.restarted ?? [],
    healthProbes: gate?.health.probes ?? 0,
    ...(removed.length > 0 && { removed }),
    changed,
    stepsRun: run.steps.length,
    decisions: run.gates,
  };
}
