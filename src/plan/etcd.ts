// The external etcd cluster as a plan: which hosts run a member, with which URLs and TLS files, which hosts get the
// etcd PKI, and the runbook the workflow runs. Pure and workflow-safe: the same function feeds
// `kubeadm2ha etcd setup --dry-run` (it prints the runbook) and the setupEtcdCluster workflow (it executes it).
//
// Layout after kubeadm's "external etcd" guide: member certificates in /etc/kubernetes/pki/etcd, data in
// /var/lib/etcd, clients on 2379 and peers on 2380, TLS with client-certificate auth on both.
import type { ReadSetupFactsInput, SetupFacts, SetupFactsHost } from '../activities/setup-facts.js';
import { InvalidInputError } from '../errors.js';
import type { Host, Inventory, SshSettings } from '../inventory/schema.js';
import { etcdCa, etcdHealthcheckClient, etcdPeer, etcdServer } from '../pki/layout.js';
import { etcdCaRequest } from './etcd-ca.js';
import { planEtcdPki, type CaPlan, type HostPkiPlan } from './pki.js';
import type { GateRecord } from './gates.js';
import {
  ONCE,
  runbookFor,
  step,
  type HostRun,
  type OnFailure,
  type Phase,
  type Runbook,
  type Step,
} from './runbook.js';
import { etcdHosts, masters, targetOf } from './topology.js';
import type { HostTarget } from './types.js';

export const ETCD_CLIENT_PORT = 2379;
export const ETCD_PEER_PORT = 2380;
export const ETCD_DATA_DIR = '/var/lib/etcd';
export const ETCD_CONFIG_PATH = '/etc/etcd/etcd.conf.yml';
export const ETCD_SERVICE = 'etcd';

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
  /** Its data dir was empty and the cluster knew it started (replaced: removed and added again) or not at all. */
  rejoined?: 'added' | 'replaced';
  /** The facts showed this host done (a healthy member at the pinned version, or a master with its client
   * certificate): no step ran on it. */
  alreadyDone?: true;
}

/** What setupEtcdCluster returns: fingerprints and ids only, nothing secret. */
export interface EtcdSetupReport {
  cluster: string;
  version: string;
  /** Absent when the facts showed every host done: the CA step was not planned. */
  ca?: { commonName: string; sha256Fingerprint: string; notAfter: string; created: boolean };
  /** Hex, like the member ids; absent when the health gate was not planned (every host done by the facts). */
  clusterId?: string;
  /** As the health gate saw them; empty when it was not planned. */
  members: EtcdMember[];
  endpoints: string[];
  hosts: EtcdHostReport[];
  /** Members the health gate found stopped and the workflow started again. */
  restartedByHealthGate: string[];
  /** Members removed because the inventory no longer has them (scale-in), in order. */
  removed?: string[];
  healthProbes: number;
  /** False when the run found everything as planned and touched nothing. */
  changed: boolean;
  /** Steps the run planned and ran (0: the facts showed everything done). */
  stepsRun: number;
  /** Decisions and approvals taken during the run: who, when, why. */
  decisions: GateRecord[];
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
  };
}

/** The plan's facts for `--dry-run` without --json; the runbook's lines follow. */
export function describeEtcdPlan(plan: EtcdSetupPlan): string[] {
  return [
    `etcd ${plan.version} for cluster ${plan.cluster}: ${plan.members.length} member(s), CA "${plan.ca.commonName}" ` +
      `(${plan.ca.keyType}), ${plan.mirror ? `installs from ${plan.mirror} when missing` : 'no package mirror (etcd must be installed)'}`,
    `initial cluster: ${plan.members[0]?.config.initialCluster ?? ''}`,
    ...plan.pki.map((p) => `${p.host} certificates: ${p.certificates.map((c) => c.certPath).join(', ')}`),
  ];
}

export interface SetupEtcdInput {
  inventory: Inventory;
  /** How long the health gate waits for all members per round. Default 120 s. */
  healthTimeoutSeconds?: number;
  /** A step that fails for good: wait for `kubeadm2ha decide` (default), or stop the run at once. */
  onFailure?: OnFailure;
  /** Give the cluster this worker's (or a new) CA even though its hosts trust another one (`--replace-ca`). Plans
   * every step whatever the facts say: every certificate is issued again. */
  replaceCa?: boolean;
  /** Members the inventory no longer has are removed without waiting for `kubeadm2ha approve` (`--yes`). */
  approveRemoval?: boolean;
}

/** The facts fields a host of the etcd cluster is read with: its member's client URL, or (a master) its client
 * certificate. Shared by the cluster setup's facts request and the etcd setup's own. */
export function etcdFactsFields(
  inv: Inventory,
  plan: Pick<EtcdSetupPlan, 'members'> = planEtcdSetup(inv),
): (h: Host) => Pick<SetupFactsHost, 'etcdMember' | 'etcdClient'> {
  const members = new Map(plan.members.map((m) => [m.target.name, m.clientUrl]));
  const isMaster = new Set(masters(inv).map((m) => m.name));
  return (h) => ({
    ...(members.has(h.name) && { etcdMember: { clientUrl: members.get(h.name)! } }),
    ...(isMaster.has(h.name) && { etcdClient: true }),
  });
}

/** What `etcd setup` reads before it plans (readSetupFacts, read-only, one SSH round trip per host): the etcd
 * facts of every host that gets etcd PKI, and no cluster view (no primary: nothing is asked of the API). */
export function etcdFactsRequest(inv: Inventory): ReadSetupFactsInput {
  const plan = planEtcdSetup(inv);
  const fields = etcdFactsFields(inv, plan);
  const byName = new Map(inv.hosts.map((h) => [h.name, h]));
  return {
    cluster: plan.cluster,
    hosts: plan.pki.flatMap(({ host: name }) => {
      const h = byName.get(name);
      return h ? [{ host: { target: targetOf(h), ssh: inv.ssh }, ...fields(h) }] : [];
    }),
  };
}

/** Hosts the facts show done: a member whose pinned etcd runs healthy on its data, or a master (not a member)
 * with its etcd client certificate. An unreachable host is never done. */
export function etcdDoneHosts(inv: Inventory, facts: SetupFacts | undefined): Set<string> {
  const done = new Set<string>();
  for (const f of facts?.hosts ?? []) {
    if (f.unreachable) continue;
    const e = f.etcd;
    if (
      e ? e.version === inv.cluster.etcd.version && e.etcdctl && e.member && e.running && e.healthy : f.etcdClientCert
    )
      done.add(f.name);
  }
  return done;
}

/**
 * Members that must join a running cluster: the facts show their data dir empty (a host new to the inventory, or
 * one that lost its data) while another planned member answers healthy on its data. They are added one at a time
 * (configureEtcd: `member add`, then start as existing) and each must run as a started member before the next one
 * is added: two added members that have not started would leave a 3-member cluster at 3 of 5, one more failure
 * from losing quorum, and etcd (strict reconfig check) refuses an add that leaves too few started members.
 * Without facts, or with no healthy member (a new cluster), none: the members start together.
 */
export function etcdJoiningHosts(inv: Inventory, facts: SetupFacts | undefined): Set<string> {
  const members = new Set(etcdHosts(inv).map((h) => h.name));
  const read = (facts?.hosts ?? []).filter((f) => members.has(f.name) && !f.unreachable);
  const running = read.some((f) => f.etcd?.member && f.etcd.running && f.etcd.healthy);
  return new Set(running ? read.filter((f) => f.etcd && !f.etcd.member).map((f) => f.name) : []);
}

export interface PlanOptions {
  /**
   * False for runs that read facts before the serial join phase existed (the workflows' patched(ETCD_JOIN_PHASE)):
   * they planned joining members in the parallel phase, and replaying them must plan the same. Default true.
   */
  joinPhase?: boolean;
  /** False for runs that read facts before scale-in existed (patched(ETCD_MEMBER_REMOVAL)). Default true. */
  removal?: boolean;
  /** The caller moves the API servers off the removed members first (setup's apiserver-etcd phase): scale-in is
   * planned even where a master runs a control plane. `etcd setup` alone refuses that case. */
  apiServersFollow?: boolean;
}

/** A member the cluster lists and the inventory's etcd group does not have, and the host it runs on. */
export interface EtcdRemoval {
  member: EtcdMember;
  target: HostTarget;
}

/**
 * Members to remove (scale-in): those a healthy member's `member list` (in the facts) shows whose peer URL is no
 * planned member's. Their hosts may have left the inventory or changed address: a host is the inventory's of that
 * name only at the peer URL's address, else it is reached at that address with the inventory's SSH settings; a
 * leaving member named like a planned one is refused. Refuses (naming the members) a removal that would leave the remaining set without
 * quorum: the planned members healthy now, plus those joining in this run (the join phase gates them first), must be
 * a majority of the members left. With that, removing them one at a time never drops below quorum on the way.
 */
export function etcdMembersToRemove(inv: Inventory, facts: SetupFacts | undefined): EtcdRemoval[] {
  const planned = etcdHosts(inv);
  const plannedPeers = new Set(planned.map((h) => url(h.address, ETCD_PEER_PORT)));
  const read = (facts?.hosts ?? []).filter((f) => !f.unreachable && planned.some((h) => h.name === f.name));
  const list = read.find((f) => f.etcd?.healthy && f.etcd.members)?.etcd?.members;
  if (!list) return [];
  // By name (etcd lists by id, which says nothing to a person): the dry run reads in a stable, predictable order.
  const extra = list
    .filter((m) => !m.peerUrls.some((u) => plannedPeers.has(u)))
    .sort((a, b) => (a.name || a.id).localeCompare(b.name || b.id));
  if (extra.length === 0) return [];
  const name = (m: EtcdMember) => m.name || `member-${m.id}`;
  // Not one listed member at an inventory peer URL: the inventory names the members otherwise (a name for an IP,
  // http for https), not a cluster to shrink to nothing.
  if (extra.length === list.length)
    throw new InvalidInputError(
      `no etcd member in \`member list\` has a peer URL of the inventory's: expected ` +
        `${planned.map((h) => `${h.name} ${url(h.address, ETCD_PEER_PORT)}`).join(', ')}; listed ` +
        `${list.map((m) => `${name(m)} ${m.peerUrls.join(' ') || '(no peer URL)'}`).join(', ')}; ` +
        "make the etcd hosts' addresses the ones the members were set up with",
    );
  const peerAddress = (m: EtcdMember) => /^https?:\/\/\[?([^\]/]+?)\]?:\d+/.exec(m.peerUrls[0] ?? '')?.[1] ?? '';
  // A leaving member named like a planned one (a host re-addressed under its name): its host is not the planned
  // member's, and stopping etcd there by name would stop the member we keep. A person sorts that out.
  const clash = extra.filter((m) => planned.some((h) => h.name === m.name));
  if (clash.length > 0)
    throw new InvalidInputError(
      `etcd member(s) ${clash.map((m) => `${name(m)} (id ${m.id}, ${m.peerUrls.join(' ')})`).join(', ')} ` +
        `share a name with the inventory's member(s) at ${clash
          .map((m) => url(planned.find((h) => h.name === m.name)!.address, ETCD_PEER_PORT))
          .join(', ')}: give the host its old address back, or remove the old member by hand ` +
        '(etcdctl member remove <id>) and stop etcd on its old host',
    );
  const listed = new Set(list.flatMap((m) => m.peerUrls));
  const healthy = new Set(read.filter((f) => f.etcd?.healthy).map((f) => f.name));
  const joining = etcdJoiningHosts(inv, facts);
  const remaining = planned.filter((h) => listed.has(url(h.address, ETCD_PEER_PORT)) || joining.has(h.name));
  const up = remaining.filter((h) => healthy.has(h.name) || joining.has(h.name));
  const quorum = Math.floor(remaining.length / 2) + 1;
  if (up.length < quorum) {
    const down = remaining.filter((h) => !up.includes(h)).map((h) => h.name);
    throw new InvalidInputError(
      `removing etcd member(s) ${extra.map(name).join(', ')} would leave ${remaining.length} member(s) ` +
        `(${remaining.map((h) => h.name).join(', ') || 'none'}) with ${up.length} healthy, below the quorum of ` +
        `${quorum}${down.length ? `; bring ${down.join(', ')} back first` : ''}`,
    );
  }
  const byName = new Map(inv.hosts.map((h) => [h.name, h]));
  return extra.map((m) => {
    // The inventory's host only when it is the one at the peer URL's address; else that address.
    const h = byName.get(m.name);
    const address = peerAddress(m);
    return { member: m, target: h?.address === address ? targetOf(h) : { name: name(m), address, roles: [] } };
  });
}

/** The scale-in phase: after the health gate, one member at a time, after `kubeadm2ha approve` unless approved. */
export function etcdRemovalPhase(
  inv: Inventory,
  plan: EtcdSetupPlan,
  removals: EtcdRemoval[],
  facts: SetupFacts | undefined,
  approved: boolean,
  timeoutSeconds: number,
): Phase {
  // etcdctl runs on a planned member that answered healthy (it has the healthcheck client), never a leaving one.
  const healthy = new Set((facts?.hosts ?? []).filter((f) => f.etcd?.healthy).map((f) => f.name));
  const via = plan.members.find((m) => healthy.has(m.target.name)) ?? plan.members[0]!;
  return {
    id: 'remove',
    title: 'members no longer in the inventory, one at a time: member remove, etcd stopped, data kept',
    kind: 'hosts',
    rollout: { kind: 'serial' },
    ...(!approved && { approval: { scope: 'phase' as const } }),
    hosts: removals.map((r) => ({
      target: r.target,
      // Leaving anyway: a host that cannot be reached (often why it leaves) may be skipped at the decision.
      maySkip: true,
      steps: [
        // hostStep, not quick: member list, health and remove take up to 30 s each over SSH, and a refused remove
        // is retried for 30 s more; a minute's start-to-close would cut that and retry it from the start.
        step('removeEtcdMember', `member remove ${r.member.name || r.member.id}, quorum checked first`, 'hostStep', {
          via: { target: via.target, ssh: inv.ssh },
          member: { id: r.member.id, name: r.member.name, peerUrls: r.member.peerUrls },
          endpoints: plan.endpoints,
          tls: plan.healthcheckClient,
        }),
        step('stopRemovedEtcdMember', 'etcd stopped and disabled, its data dir and config renamed (kept)', 'hostStep', {
          memberId: r.member.id,
          peerUrls: r.member.peerUrls,
        }),
        etcdHealthStep(plan, inv.ssh, timeoutSeconds, HEALTH_ROUNDS),
      ],
    })),
  };
}

/** Rounds of "gate, start what is down, gate again" before the health gate gives up. */
export const HEALTH_ROUNDS = 4;

/** The members' health gate as a runbook step (setup: with restarts; renewal: one round, nothing restarted). */
export function etcdHealthStep(plan: EtcdSetupPlan, ssh: SshSettings, timeoutSeconds: number, rounds: number): Step {
  return step(
    'ensureEtcdHealthy',
    'all members healthy over TLS and started in `member list`',
    'wait',
    {
      members: plan.members.map((m) => ({
        host: { target: m.target, ssh },
        plan: { clientUrl: m.clientUrl, peerUrl: m.peerUrl },
      })),
      tls: plan.healthcheckClient,
      timeoutSeconds,
      rounds,
    },
    { bind: { binaries: { fromEachHost: 'ensureEtcdInstalled', field: 'binary' } } },
  );
}

/** The fingerprint of the etcd CA from the CA step, as ensureHostCertificates takes it. */
export const caFingerprintBinding = (plan: Pick<EtcdSetupPlan, 'ca'>, from: 'ensureEtcdCa' | 'readStoredCa') => ({
  caFingerprints: { record: { [plan.ca.name]: { from, field: 'sha256Fingerprint' } } },
});

/**
 * setupEtcdCluster's runbook: the CA on the worker's machine (once; only its fingerprint comes back) → per host, in
 * parallel: for members the pinned binary first (read-only without a mirror, so a wrong host fails before anything
 * is written to it), then certificates, config + service definition, running → the health gate on all members.
 * Rerunning on a healthy cluster changes nothing: a member is restarted only when something it reads changed in
 * this run (the restart binding).
 *
 * Planned from facts (etcdFactsRequest, read by the workflow first and by `etcd setup --dry-run`): hosts the facts
 * show done (etcdDoneHosts) get no steps and are listed in alreadyDone (absent when none is); with any host left, the CA and the health
 * gate stay (the host's certificates need the CA, and the cluster must come out healthy); with none left the runbook
 * is empty. Without facts (undefined: `--no-facts`, runs started before facts) and with replaceCa, every step.
 *
 * Members that join a running cluster (etcdJoiningHosts: new in the inventory, or their data lost) are not in the
 * parallel phase but in a serial one after it, each ending when it runs as a started member (waitEtcdMemberStarted).
 */
export function planEtcdSetupRunbook(
  input: SetupEtcdInput,
  facts?: SetupFacts,
  o: PlanOptions = {},
): { plan: EtcdSetupPlan; runbook: Runbook } {
  const { inventory: inv } = input;
  const plan = planEtcdSetup(inv);
  const done = input.replaceCa ? new Set<string>() : etcdDoneHosts(inv, facts);
  const memberOf = new Map(plan.members.map((m) => [m.target.name, m]));
  const byName = new Map(inv.hosts.map((h) => [h.name, h]));
  const certificates = (pki: HostPkiPlan, title: string) =>
    step(
      'ensureHostCertificates',
      title,
      'hostStep',
      { cluster: plan.cluster, plan: pki },
      {
        bind: caFingerprintBinding(plan, 'ensureEtcdCa'),
      },
    );
  const joining = input.replaceCa || o.joinPhase === false ? new Set<string>() : etcdJoiningHosts(inv, facts);
  const timeoutSeconds = input.healthTimeoutSeconds ?? 120;
  const hostRun = (pki: HostPkiPlan): HostRun => {
    const host = byName.get(pki.host);
    // planEtcdPki only lists inventory hosts; reaching this is a bug.
    if (!host) throw new Error(`etcd PKI plan names unknown host ${pki.host}`);
    const member = memberOf.get(pki.host);
    // Masters that are not members still need etcd/ca.crt and apiserver-etcd-client to reach the cluster.
    if (!member)
      return { target: targetOf(host), maySkip: false, steps: [certificates(pki, 'etcd client certificate')] };
    const steps = [
      step('ensureEtcdInstalled', 'etcd binary at the pinned version', 'install', {
        version: plan.version,
        ...(plan.mirror !== undefined && { mirror: plan.mirror }),
      }),
      certificates(pki, 'etcd certificates'),
      step(
        'configureEtcd',
        'etcd configuration and service',
        'hostStep',
        {
          member: member.config,
          peers: {
            endpoints: plan.members.filter((m) => m !== member).map((m) => m.clientUrl),
            tls: plan.healthcheckClient,
          },
        },
        {
          bind: { binary: { from: 'ensureEtcdInstalled', field: 'binary' } },
        },
      ),
      step(
        'ensureEtcdRunning',
        'etcd running',
        'hostStep',
        {},
        {
          bind: {
            binary: { from: 'ensureEtcdInstalled', field: 'binary' },
            restartIfRunning: {
              anyOf: [
                { from: 'ensureHostCertificates', field: 'changed' },
                { from: 'configureEtcd', field: 'changed' },
                { from: 'ensureEtcdInstalled', field: 'installed' },
              ],
            },
          },
        },
      ),
    ];
    if (joining.has(pki.host)) {
      steps.push(
        step('waitEtcdMemberStarted', 'a started member of the cluster, healthy, before the next is added', 'wait', {
          member: { name: member.target.name, clientUrl: member.clientUrl, peerUrl: member.peerUrl },
          endpoints: plan.endpoints,
          tls: plan.healthcheckClient,
          timeoutSeconds,
        }),
      );
    }
    // A member left out would leave the cluster without its quorum member: never skipped.
    return { target: member.target, maySkip: false, steps };
  };
  const removals = input.replaceCa || o.removal === false ? [] : etcdMembersToRemove(inv, facts);
  // A master that could not be read may run an API server on the leaving members: counted as one.
  const masterNames = new Set(masters(inv).map((h) => h.name));
  const controlPlanes = (facts?.hosts ?? [])
    .filter((f) => f.controlPlane || (f.unreachable !== undefined && masterNames.has(f.name)))
    .map((f) => (f.unreachable !== undefined ? `${f.name} (not read)` : f.name));
  if (removals.length > 0 && controlPlanes.length > 0 && !o.apiServersFollow)
    throw new InvalidInputError(
      `etcd member(s) ${removals.map((r) => r.target.name).join(', ')} would be removed while the API servers on ` +
        `${controlPlanes.join(', ')} may still use them: run \`kubeadm2ha setup\`, which moves the API servers off ` +
        'them first',
    );
  const todo = plan.pki.filter((pki) => !done.has(pki.host));
  const hosts = todo.filter((pki) => !joining.has(pki.host)).map(hostRun);
  const joiners = todo.filter((pki) => joining.has(pki.host)).map(hostRun);
  const alreadyDone = plan.pki
    .filter((pki) => done.has(pki.host))
    .map((pki) => ({
      host: pki.host,
      steps: memberOf.has(pki.host)
        ? ['ensureEtcdInstalled', 'ensureHostCertificates', 'configureEtcd', 'ensureEtcdRunning']
        : ['ensureHostCertificates'],
    }));
  const runbook = runbookFor('etcd', 'etcd setup', inv, input.onFailure, [
    {
      id: 'ca',
      title: 'etcd CA',
      kind: 'once',
      steps: [
        step('ensureEtcdCa', "etcd CA in the operator's store", 'quick', etcdCaRequest(plan, inv, input.replaceCa)),
      ],
    },
    // Without members to join, always there (also empty): the runbook without facts is the one it always was.
    ...(hosts.length > 0 || joiners.length === 0
      ? [
          {
            id: 'members',
            title: 'members: binary, certificates, configuration, service',
            kind: 'hosts' as const,
            rollout: { kind: 'parallel' as const },
            hosts,
          },
        ]
      : []),
    ...(joiners.length > 0
      ? [
          {
            id: 'join',
            title: 'new members, one at a time: member add, start as existing, started before the next',
            kind: 'hosts' as const,
            rollout: { kind: 'serial' as const },
            hosts: joiners,
          },
        ]
      : []),
    {
      id: 'health',
      title: 'health gate',
      kind: 'once',
      steps: [etcdHealthStep(plan, inv.ssh, timeoutSeconds, HEALTH_ROUNDS)],
    },
  ]);
  if (!facts || input.replaceCa) return { plan, runbook };
  if (hosts.length === 0 && joiners.length === 0) {
    runbook.phases = [];
    alreadyDone.push({ host: ONCE, steps: ['ensureEtcdCa', 'ensureEtcdHealthy'] });
  }
  if (removals.length > 0)
    runbook.phases.push(etcdRemovalPhase(inv, plan, removals, facts, input.approveRemoval === true, timeoutSeconds));
  // Listed only when something was left out, so facts that show nothing done plan the very runbook no facts do.
  return { plan, runbook: alreadyDone.length > 0 ? { ...runbook, alreadyDone } : runbook };
}
