// setupEtcdCluster: the external etcd cluster with TLS, as kubeadm's "external etcd" guide builds it.
// Runbook: plan → etcd CA on the worker's machine (once; only its fingerprint comes back) → per host, in parallel:
// for members the pinned binary first (read-only without a mirror, so a wrong host fails before anything is
// written), then certificates, config + service definition, running → health gate on all
// members (every endpoint healthy over TLS and every planned member started in `member list`). A member whose
// daemon dies before the gate passes is started again and the gate rerun, a bounded number of times.
// Rerunning on a healthy cluster changes nothing: certificates, config and service definition compare equal, and
// a member is restarted only when something it reads changed in this run.
import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { ConfigureEtcdResult, EtcdHealth, EtcdInstallResult, EtcdRunningResult } from '../activities/etcd.js';
import type { HostCertificatesResult } from '../activities/pki.js';
import { FailureType, KubeadmHaError } from '../errors.js';
import type { Inventory } from '../inventory/schema.js';
import { planEtcdSetup, type EtcdSetupPlan, type EtcdSetupReport, type EtcdStepId } from '../plan/etcd.js';
import type { HostContext } from '../plan/types.js';
import { forEachLimited } from './concurrency.js';
import { failureMessage } from './failure-info.js';
import { acceptInput } from './input.js';
import { beginOperation } from './operation.js';

export interface SetupEtcdInput {
  inventory: Inventory;
  /** How long the health gate waits for all members per round. Default 120 s. */
  healthTimeoutSeconds?: number;
}

// Transient trouble (a dropped SSH connection, a busy dpkg lock, a timeout) is retried; errors the activities
// classify as non-retryable (bad input, unsuitable host, host key problems) fail at once.
const retry = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: 5 };

const local = proxyActivities<Activities>({ startToCloseTimeout: '1 minute', retry: { ...retry, maximumAttempts: 3 } });
const hostStep = proxyActivities<Activities>({ startToCloseTimeout: '2 minutes', retry });
const install = proxyActivities<Activities>({
  startToCloseTimeout: '20 minutes',
  heartbeatTimeout: '1 minute',
  retry: { ...retry, maximumAttempts: 3 },
});

/** Rounds of "gate, start what is down, gate again" before giving up. */
const HEALTH_ROUNDS = 4;

function plan(inventory: Inventory): EtcdSetupPlan {
  try {
    return planEtcdSetup(inventory);
  } catch (err) {
    // A plain Error thrown in a workflow fails the workflow *task*, which Temporal retries forever; bad input
    // must end the run instead.
    if (err instanceof KubeadmHaError) throw ApplicationFailure.nonRetryable(err.message, err.type);
    throw err;
  }
}

const describeUnhealthy = (h: EtcdHealth): string =>
  h.unhealthy.map((u) => `${u.name} (${u.endpoint ? `${u.endpoint}: ` : ''}${u.error})`).join(', ');

interface HostOutcome {
  certificates?: HostCertificatesResult;
  install?: EtcdInstallResult;
  config?: ConfigureEtcdResult;
  service?: EtcdRunningResult;
  error?: string;
}

export async function setupEtcdCluster(input: SetupEtcdInput): Promise<EtcdSetupReport> {
  const { inventory, healthTimeoutSeconds = 120 } = acceptInput('setupEtcdCluster', input);
  const p = plan(inventory);
  const progress = beginOperation('etcd', 'etcd setup', p);
  const ctx = (name: string): HostContext => {
    const target = p.hosts.find((h) => h.target.name === name)?.target;
    if (!target) throw ApplicationFailure.nonRetryable(`no plan for host ${name}`, FailureType.InvalidInput);
    return { target, ssh: inventory.ssh };
  };

  progress.phase('etcd CA');
  const ca = await local.ensureEtcdCa({ cluster: p.cluster, ca: p.ca });

  progress.phase('members: certificates, binary, configuration, service');
  const outcomes = new Map<string, HostOutcome>();
  const binaries = new Map<string, string>();
  await forEachLimited(p.hosts, inventory.ssh.maxConcurrency, async ({ target }) => {
    const out: HostOutcome = {};
    outcomes.set(target.name, out);
    const member = p.members.find((m) => m.target.name === target.name);
    const host = ctx(target.name);
    let step: EtcdStepId = member ? 'install' : 'certificates';
    const run = async <T>(id: EtcdStepId, fn: () => Promise<T>, message: (r: T) => string): Promise<T> => {
      step = id;
      progress.set(target.name, id, 'running');
      const r = await fn();
      progress.set(target.name, id, 'done', message(r));
      return r;
    };
    try {
      if (member) {
        out.install = await run(
          'install',
          () =>
            install.ensureEtcdInstalled({
              host,
              version: p.version,
              ...(p.mirror !== undefined && { mirror: p.mirror }),
            }),
          (r) => `etcd ${r.version}${r.installed ? ' installed' : ''}`,
        );
        binaries.set(target.name, out.install.binary);
      }
      const pkiPlan = p.pki.find((x) => x.host === target.name);
      if (!pkiPlan) throw ApplicationFailure.nonRetryable(`no PKI plan for ${target.name}`, FailureType.InvalidInput);
      out.certificates = await run(
        'certificates',
        () =>
          hostStep.ensureHostCertificates({
            host,
            cluster: p.cluster,
            plan: pkiPlan,
            caFingerprints: { [ca.name]: ca.sha256Fingerprint },
          }),
        (r) =>
          r.issued.length
            ? `issued ${r.issued.length}`
            : r.changed.length
              ? `updated ${r.changed.length}`
              : 'unchanged',
      );
      if (!member || !out.install) return;
      const binary = out.install.binary;
      out.config = await run(
        'config',
        () => hostStep.configureEtcd({ host, member: member.config, binary }),
        (r) => `${r.changed.length ? 'written' : 'unchanged'} (${r.serviceManager}, ${r.initialClusterState})`,
      );
      const changedInputs =
        out.certificates.changed.length + out.config.changed.length + (out.install.installed ? 1 : 0);
      out.service = await run(
        'service',
        () => hostStep.ensureEtcdRunning({ host, binary, restartIfRunning: changedInputs > 0 }),
        (r) => (r.action === 'none' ? 'running' : r.action),
      );
    } catch (err) {
      out.error = failureMessage(err);
      progress.set(target.name, step, 'failed', out.error);
      progress.skipRemaining(target.name, `${step} failed`);
    }
  });

  const failed = [...outcomes].filter(([, o]) => o.error !== undefined);
  if (failed.length > 0) {
    throw ApplicationFailure.nonRetryable(
      `etcd setup failed on ${failed.map(([h, o]) => (o.error?.startsWith(`${h}: `) ? o.error : `${h}: ${o.error}`)).join('; ')}`,
      'EtcdSetupFailed',
    );
  }

  progress.phase('health gate');
  const members = p.members.map((m) => ({
    host: ctx(m.target.name),
    plan: { clientUrl: m.clientUrl, peerUrl: m.peerUrl },
  }));
  for (const m of p.members) progress.set(m.target.name, 'health', 'running');
  const gate = proxyActivities<Activities>({
    startToCloseTimeout: `${healthTimeoutSeconds + 60} seconds`,
    heartbeatTimeout: '30 seconds',
    retry: { ...retry, maximumAttempts: 3 },
  });
  const restarted: string[] = [];
  let health: EtcdHealth | undefined;
  for (let round = 1; round <= HEALTH_ROUNDS; round++) {
    health = await gate.waitEtcdHealthy({ members, tls: p.healthcheckClient, timeoutSeconds: healthTimeoutSeconds });
    if (health.healthy || health.down.length === 0) break;
    // Members whose daemon died (crash, OOM kill, someone's `kill`): start them and look again.
    for (const name of health.down) {
      progress.set(name, 'service', 'running', `not running (round ${round}); starting`);
      const r = await hostStep.ensureEtcdRunning({
        host: ctx(name),
        binary: binaries.get(name) ?? '',
        restartIfRunning: false,
      });
      restarted.push(name);
      progress.set(name, 'service', 'done', `${r.action} again after it stopped`);
    }
  }
  if (!health?.healthy) {
    const why = health ? describeUnhealthy(health) : 'no probe ran';
    for (const u of health?.unhealthy ?? []) progress.set(u.name, 'health', 'failed', u.error);
    throw ApplicationFailure.nonRetryable(
      `etcd is not healthy after ${healthTimeoutSeconds} s: ${why}`,
      'EtcdUnhealthy',
    );
  }
  for (const m of health.members) progress.set(m.name, 'health', 'done', `member ${m.id}`);

  progress.finish();
  const hosts = p.hosts.map(({ target }) => {
    const o = outcomes.get(target.name) ?? {};
    return {
      name: target.name,
      certificatesChanged: o.certificates?.changed ?? [],
      certificatesIssued: o.certificates?.issued ?? [],
      ...(o.install && { etcdVersion: o.install.version, installed: o.install.installed }),
      ...(o.config && { configChanged: o.config.changed, serviceManager: o.config.serviceManager }),
      ...(o.service && { service: o.service.action }),
    };
  });
  const changed =
    ca.created ||
    restarted.length > 0 ||
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
    clusterId: health.clusterId,
    members: health.members,
    endpoints: p.endpoints,
    hosts,
    restartedByHealthGate: restarted,
    healthProbes: health.probes,
    changed,
  };
}
