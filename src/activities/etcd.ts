// External etcd activities, one concern each: the pinned binary (ensureEtcdInstalled), the member's configuration
// and service definition (configureEtcd), the daemon running (ensureEtcdRunning), and the health gate
// (waitEtcdHealthy). All idempotent: a rerun on a healthy cluster reads and compares, and writes nothing.
import { CommandFailedError, FailureType, KubeadmHaError } from '../errors.js';
import {
  ETCD_CONFIG_PATH,
  ETCD_DATA_DIR,
  ETCD_SERVICE,
  type EtcdClientTls,
  type EtcdMemberConfig,
  type EtcdMemberPlan,
} from '../plan/etcd.js';
import { pickVersion } from '../plan/package-version.js';
import type { HostContext } from '../plan/types.js';
import { quote, type HostSession } from '../ssh/index.js';
import { heartbeat, pause } from './activity-context.js';

import type { ActivityDeps } from './deps.js';
import {
  advertisedPeerUrlsOf,
  chooseInitialClusterState,
  initialClusterStateOf,
  keptInitialCluster,
  renderEtcdConfig,
  type InitialClusterState,
} from './etcd-config.js';
import {
  emptyMemberAction,
  etcdctlArgv,
  joinInitialCluster,
  membersNotStarted,
  parseEndpointHealth,
  parseMemberList,
  type EndpointHealth,
  type EtcdMember,
} from './etcdctl.js';
import { withFailures } from './failures.js';
import { parseKeyValues } from './key-values.js';
import { aptInstall } from './host-config.js';
import {
  detectServiceManager,
  ensureService,
  logFilePath,
  type EnsureAction,
  type ServiceManagerKind,
  type ServiceSpec,
} from './services/index.js';

// Moved to plan/ (the upgrade planner names package versions too); kept exported here for existing callers.
export { pickVersion };

export interface EnsureEtcdInstalledInput {
  host: HostContext;
  version: string;
  mirror?: string;
}

export interface EtcdInstallResult {
  host: string;
  version: string;
  /** Absolute path of the etcd binary the service runs. */
  binary: string;
  /** True when this call installed or changed the package. */
  installed: boolean;
}

export interface ConfigureEtcdInput {
  host: HostContext;
  member: EtcdMemberConfig;
  binary: string;
  /** The other members' client URLs and the client identity to ask them with (this host's healthcheck client):
   * a member whose data dir is empty asks the cluster whether it is new or lost its data (emptyMemberAction).
   * Absent (runs planned before it) or empty: an empty data dir always starts a new cluster. */
  peers?: { endpoints: string[]; tls: EtcdClientTls };
}

export interface ConfigureEtcdResult {
  host: string;
  changed: string[];
  initialClusterState: InitialClusterState;
  serviceManager: ServiceManagerKind;
  /** The data dir was empty and the cluster knew this member started (replaced: removed and added again), or not
   * at all (added). */
  rejoined?: 'added' | 'replaced';
}

export interface EnsureEtcdRunningInput {
  host: HostContext;
  binary: string;
  /** Restart a running member: its configuration or certificates changed in this run. */
  restartIfRunning: boolean;
}

export interface EtcdRunningResult {
  host: string;
  action: EnsureAction;
  serviceManager: ServiceManagerKind;
}

export interface WaitEtcdHealthyInput {
  members: { host: HostContext; plan: Pick<EtcdMemberPlan, 'clientUrl' | 'peerUrl'> }[];
  tls: EtcdClientTls;
  timeoutSeconds: number;
  /** Pause between probes. */
  intervalMs?: number;
}

export interface EtcdHealth {
  healthy: boolean;
  clusterId: string;
  members: EtcdMember[];
  /** Planned members whose endpoint did not answer healthy at the last probe, with etcdctl's reason. */
  unhealthy: { name: string; endpoint: string; error: string }[];
  /** Planned members whose daemon is not running: waiting longer cannot help, they need a start. */
  down: string[];
  probes: number;
  elapsedMs: number;
}

export interface WaitEtcdMemberStartedInput {
  host: HostContext;
  member: { name: string } & Pick<EtcdMemberPlan, 'clientUrl' | 'peerUrl'>;
  /** Every member's client URL: `member list` is asked there (from this host, with its healthcheck client). */
  endpoints: string[];
  tls: EtcdClientTls;
  timeoutSeconds: number;
  intervalMs?: number;
}

export interface EtcdMemberStarted {
  host: string;
  /** Its member id, hex. */
  id: string;
  /** Members of the cluster once it had started, this one included. */
  members: number;
  probes: number;
  elapsedMs: number;
}

export interface EnsureEtcdHealthyInput extends WaitEtcdHealthyInput {
  /** Rounds of "wait for health, start the members whose daemon is down, wait again" before giving up. */
  rounds: number;
  /** The binary each member's service runs (its install step's result), to start a member that died. */
  binaries: Record<string, string>;
}

export interface EtcdHealthGate {
  health: EtcdHealth;
  /** Members found stopped and started again, in order. */
  restarted: string[];
}

export interface RemoveEtcdMemberInput {
  /** The leaving member's host (named in errors; nothing runs there). */
  host: HostContext;
  /** A remaining member's host: etcdctl runs there with its healthcheck client. */
  via: HostContext;
  member: Pick<EtcdMember, 'id' | 'name' | 'peerUrls'>;
  /** The remaining members' client URLs (never the leaving one's: it is not talked through). */
  endpoints: string[];
  tls: EtcdClientTls;
}

export interface RemoveEtcdMemberResult {
  host: string;
  /** False when the cluster no longer listed it (an earlier attempt removed it). */
  removed: boolean;
  /** Members listed after the removal. */
  members: number;
}

export interface StopRemovedEtcdMemberInput {
  host: HostContext;
  memberId: string;
  /** The removed member's peer URLs: the host's etcd config must advertise one before anything is stopped. */
  peerUrls: string[];
}

export interface StopRemovedEtcdMemberResult {
  host: string;
  /** Where its data dir went (kept, never deleted); absent when there was none. */
  dataDir?: string;
  stopped: boolean;
}

/**
 * Is this host the removed member's? Its etcd config must advertise one of the member's peer URLs; a config already
 * set aside for this member id (an earlier attempt) means done. Else a message for a person (pure, unit-tested).
 */
export function removedHostProblem(
  config: string | undefined,
  keptConfig: boolean,
  member: { id: string; peerUrls: string[] },
): string | undefined {
  if (config === undefined)
    return keptConfig
      ? undefined
      : `no etcd config at ${ETCD_CONFIG_PATH} (nor ${ETCD_CONFIG_PATH}.removed-${member.id}): ` +
          `not the host of removed member ${member.id} (${member.peerUrls.join(' ')}); nothing stopped`;
  const advertised = advertisedPeerUrlsOf(config);
  if (advertised.some((u) => member.peerUrls.includes(u))) return undefined;
  return (
    `${ETCD_CONFIG_PATH} advertises ${advertised.join(' ') || 'no peer URL'}, not removed member ${member.id}'s ` +
    `${member.peerUrls.join(' ')}: another member runs here; nothing stopped`
  );
}

/**
 * May this member go? After its removal the members left (`list` minus it) must still have a quorum of healthy
 * ones; a message naming them when not (pure, unit-tested).
 */
export function removalQuorumProblem(
  list: EtcdMember[],
  leaving: string,
  health: EndpointHealth[],
): string | undefined {
  const left = list.filter((m) => m.id !== leaving);
  const ok = (m: EtcdMember) => m.clientUrls.some((u) => health.some((h) => h.endpoint === u && h.health));
  const up = left.filter(ok);
  const quorum = Math.floor(left.length / 2) + 1;
  if (up.length >= quorum) return undefined;
  const label = (m: EtcdMember) => m.name || m.id;
  return (
    `removing it would leave ${left.length} member(s) with ${up.length} healthy (${up.map(label).join(', ') || 'none'}), ` +
    `below the quorum of ${quorum}; not healthy: ${left
      .filter((m) => !ok(m))
      .map(label)
      .join(', ')}`
  );
}

/** A peer connection a member's etcd refused: the address it came from and the addresses its certificate names. */
export interface PeerRejection {
  from: string;
  certificateIps: string[];
  count: number;
}

/**
 * etcd's "rejected connection on peer endpoint" lines in a member's log (zap JSON, one object a line), one entry per
 * source address and certificate (pure, unit-tested). etcd checks that a peer connects from an address its
 * certificate names; a host whose connections leave from another address (a VIP whose prefix is longer than the
 * host's own address's adds a route with the VIP as source) is refused on every dial, and a member that can only be
 * reached that way never catches up.
 */
export function peerRejections(log: string): PeerRejection[] {
  const byKey = new Map<string, PeerRejection>();
  for (const line of log.split('\n')) {
    if (!line.includes('rejected connection on peer endpoint')) continue;
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line.slice(line.indexOf('{'))) as Record<string, unknown>;
    } catch {
      continue;
    }
    const remote = typeof entry['remote-addr'] === 'string' ? entry['remote-addr'] : '';
    const from = remote.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
    const ips = Array.isArray(entry['ip-addresses'])
      ? entry['ip-addresses'].filter((x): x is string => typeof x === 'string')
      : [];
    const key = `${from} ${ips.join(',')}`;
    const seen = byKey.get(key);
    if (seen) seen.count++;
    else byKey.set(key, { from, certificateIps: ips, count: 1 });
  }
  return [...byKey.values()];
}

/** For a person: which peer connections were refused and the likely reason, or '' for none. */
export function describePeerRejections(r: PeerRejection[]): string {
  if (!r.length) return '';
  const each = r
    .map(
      (x) =>
        `${x.count}× from ${x.from || '?'} with a certificate for ${x.certificateIps.filter((ip) => ip !== '127.0.0.1' && ip !== '::1').join(', ') || 'no address'}`,
    )
    .join('; ');
  return (
    `; its etcd refused peer connections (${each}): etcd accepts a peer only from an address its certificate names, ` +
    "so that host's connections leave from another address (a VIP whose vip.prefixLength is longer than the " +
    "host's own prefix makes the VIP their source)"
  );
}

const describeUnhealthy = (h: EtcdHealth): string =>
  h.unhealthy.map((u) => `${u.name} (${u.endpoint ? `${u.endpoint}: ` : ''}${u.error})`).join(', ') ||
  `down: ${h.down.join(', ')}`;

/** The service definition of a member: etcd reads everything else from its config file. */
export const etcdServiceSpec = (binary: string): ServiceSpec => ({
  name: ETCD_SERVICE,
  description: 'etcd key-value store (external etcd of a kubeadm2ha cluster)',
  documentation: 'https://etcd.io/docs/',
  command: [binary, '--config-file', ETCD_CONFIG_PATH],
  notify: true,
});

/** `etcd --version` says "etcd Version: 3.4.23"; anything else (missing binary, garbage) gives ''. */
export function parseEtcdVersion(text: string): string {
  return /^etcd Version: (\S+)/m.exec(text)?.[1] ?? '';
}

/** `apt-cache madison` lines ("etcd-server | 3.4.23-4+b4 | http://… bookworm/main amd64 Packages"). */
export function madisonEntries(text: string): { pkg: string; version: string }[] {
  return text.split('\n').flatMap((l) => {
    const [pkg, version] = l.split('|').map((x) => x.trim());
    return pkg && version ? [{ pkg, version }] : [];
  });
}

const probeScript = [
  'b=$(command -v etcd || true)',
  'echo "binary=$b"',
  'if [ -n "$b" ]; then "$b" --version 2>/dev/null | sed -n "s/^etcd Version: /version=/p"; fi',
  'echo "etcdctl=$(command -v etcdctl || true)"',
  'echo "apt=$(command -v apt-get || true)"',
].join('\n');

async function probeEtcd(
  session: HostSession,
): Promise<{ binary: string; version: string; etcdctl: string; apt: string }> {
  const f = parseKeyValues(
    (await session.run({ script: probeScript }, { action: 'etcd --version', timeoutMs: 30_000 })).stdout,
  );
  return {
    binary: f.get('binary') ?? '',
    version: f.get('version') ?? '',
    etcdctl: f.get('etcdctl') ?? '',
    apt: f.get('apt') ?? '',
  };
}

/**
 * How long `member add` is asked again while etcd refuses it for the moment. With its strict reconfiguration check
 * (on by default) etcd refuses an add unless every voting member has been connected to the one asked for the last
 * 5 s ("unhealthy cluster") and enough members have started ("not enough started members"): right after the
 * previous member started or a member was removed, for a few seconds. 30 s covers that on a loaded host; anything
 * longer is a real problem, and the step fails with etcd's words.
 */
const ADD_REFUSED_FOR_MS = 30_000;
const ADD_REFUSED = /unhealthy cluster|not enough started members/;

/** Runs `add` again (every 1 s, heartbeating) while etcd refuses it for the moment, up to `forMs`. */
async function untilAccepted<T>(add: () => Promise<T>, now: () => number, forMs: number): Promise<T> {
  const deadline = now() + forMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await add();
    } catch (err) {
      if (!(err instanceof CommandFailedError && ADD_REFUSED.test(err.stderrTail)) || now() >= deadline) throw err;
      heartbeat({ memberAdd: 'refused for now', attempt });
      await pause(1_000);
    }
  }
}

/**
 * A member about to start on an empty data dir: asks the other members (from its own host, with its healthcheck
 * client) what the cluster knows of it, and removes and adds it again when the cluster knew it started
 * (emptyMemberAction). Every branch is safe to run again: a retry after the remove finds it gone and only adds it.
 */
async function prepareEmptyMember(
  session: HostSession,
  member: EtcdMemberConfig,
  peers: NonNullable<ConfigureEtcdInput['peers']>,
  now: () => number,
): Promise<{ state: InitialClusterState; rejoined?: 'added' | 'replaced'; initialCluster?: string }> {
  const peerUrl = member.initialAdvertisePeerUrls[0] ?? '';
  const me = { name: member.name, peerUrl };
  const etcdctl = (command: string[], allowNonZero: boolean) =>
    session.run(etcdctlArgv(peers.tls, peers.endpoints, command, '3s'), {
      action: `etcdctl ${command.slice(0, 2).join(' ')}`,
      allowNonZero,
      timeoutMs: 30_000,
    });
  const listed = await etcdctl(['member', 'list'], true);
  const list = listed.code === 0 ? parseMemberList(listed.stdout) : undefined;
  const action = emptyMemberAction(list, { peerUrl, initialClusterToken: member.initialClusterToken });
  switch (action.kind) {
    case 'bootstrap':
      return { state: 'new' };
    case 'joining':
      // Added by an earlier attempt: it starts with the cluster's members as they are now.
      return { state: 'existing', initialCluster: joinInitialCluster(list!, me, member.initialCluster) };
    case 'replace':
      await etcdctl(['member', 'remove', action.id], false);
      break;
    case 'join':
      break;
  }
  // The add's answer lists the members with this one added: the initial-cluster it must start with.
  const added = await untilAccepted(
    () => etcdctl(['member', 'add', member.name, `--peer-urls=${peerUrl}`], false),
    now,
    ADD_REFUSED_FOR_MS,
  );
  const after = parseMemberList(added.stdout) ?? parseMemberList((await etcdctl(['member', 'list'], false)).stdout);
  return {
    state: 'existing',
    rejoined: action.kind === 'replace' ? 'replaced' : 'added',
    ...(after && { initialCluster: joinInitialCluster(after, me, member.initialCluster) }),
  };
}

const notSuitable = (host: string, message: string) => new KubeadmHaError(message, FailureType.HostNotSuitable, host);

export function createEtcdActivities(deps: ActivityDeps) {
  const base = {
    async ensureEtcdInstalled({ host, version, mirror }: EnsureEtcdInstalledInput): Promise<EtcdInstallResult> {
      return withFailures(async () => {
        const name = host.target.name;
        const session = deps.session(host);
        const before = await probeEtcd(session);
        if (before.version === version && before.etcdctl) {
          return { host: name, version, binary: before.binary, installed: false };
        }
        const need = `etcd ${version} is required but ${
          before.binary ? `etcd ${before.version || '(unknown version)'} is installed` : 'etcd is not installed'
        }${before.etcdctl ? '' : ' (and no etcdctl)'}`;
        if (!mirror) {
          throw notSuitable(
            name,
            `${need}; install etcd ${version} (Debian: etcd-server and etcd-client) or set cluster.packages.mirror`,
          );
        }
        if (!before.apt)
          throw notSuitable(name, `${need}, and installing etcd is only supported with apt (Debian/Ubuntu)`);

        // Only packages of exactly the pinned upstream version: a newer etcd from the mirror is a different cluster.
        const madison = await session.run(['apt-cache', 'madison', 'etcd-server', 'etcd-client'], {
          action: 'apt-cache madison etcd-server',
          timeoutMs: 60_000,
        });
        const offered = madisonEntries(madison.stdout);
        const versionsOf = (pkg: string) => offered.filter((e) => e.pkg === pkg).map((e) => e.version);
        const server = pickVersion(versionsOf('etcd-server'), version);
        const client = pickVersion(versionsOf('etcd-client'), version);
        if (!server || !client) {
          const list = offered.map((e) => `${e.pkg} ${e.version}`).join(', ') || 'none';
          throw notSuitable(
            name,
            `${need}; etcd-server/etcd-client ${version} are not available from the host's package sources ` +
              `(mirror ${mirror}); available: ${list}`,
          );
        }
        await aptInstall(session, [`etcd-server=${server}`, `etcd-client=${client}`]);
        const after = await probeEtcd(session);
        if (after.version !== version) {
          throw notSuitable(
            name,
            `installed etcd-server=${server} but etcd --version reports ${after.version || 'nothing'}`,
          );
        }
        return { host: name, version, binary: after.binary, installed: true };
      });
    },

    async configureEtcd({ host, member, binary, peers }: ConfigureEtcdInput): Promise<ConfigureEtcdResult> {
      return withFailures(async () => {
        const name = host.target.name;
        const session = deps.session(host);
        // One round trip: does the data dir hold a member, and what does our current file say? etcd 3.5 refuses a
        // data dir that is not 0700; 3.4 warns. Tightening the mode changes nothing for a running member.
        const marker = '--- kubeadm2ha: current config ---';
        const probe = await session.run(
          {
            script:
              `mkdir -p ${quote(member.dataDir)} && chmod 700 ${quote(member.dataDir)}; ` +
              `if [ -d ${quote(`${member.dataDir}/member`)} ]; then echo member=yes; fi; ` +
              `if [ -f ${quote(ETCD_CONFIG_PATH)} ]; then echo "mode=$(stat -c %a ${quote(ETCD_CONFIG_PATH)})"; ` +
              `echo ${quote(marker)}; cat ${quote(ETCD_CONFIG_PATH)}; fi`,
          },
          { action: 'inspect etcd data dir', timeoutMs: 30_000 },
        );
        const at = probe.stdout.indexOf(`${marker}\n`);
        const head = at < 0 ? probe.stdout : probe.stdout.slice(0, at);
        const current = at < 0 ? undefined : probe.stdout.slice(at + marker.length + 1);
        const hasData = /^member=yes$/m.test(head);
        let state = chooseInitialClusterState(hasData, initialClusterStateOf(current));
        let initialCluster = keptInitialCluster(hasData, current, member.initialCluster);
        let rejoined: ConfigureEtcdResult['rejoined'];
        if (!hasData && peers && peers.endpoints.length > 0) {
          const empty = await prepareEmptyMember(session, member, peers, () => deps.now());
          state = empty.state;
          rejoined = empty.rejoined;
          initialCluster = empty.initialCluster ?? initialCluster;
        }
        const wanted = renderEtcdConfig({ ...member, initialCluster }, state);
        const changed: string[] = [];
        // Compared here with what was just read, so an unchanged file costs no further round trip.
        if (current !== wanted || !/^mode=644$/m.test(head)) {
          const cfg = await session.putFile(ETCD_CONFIG_PATH, wanted, { mode: 0o644, timeoutMs: 30_000 });
          if (cfg.changed) changed.push(ETCD_CONFIG_PATH);
        }
        const manager = await detectServiceManager(session);
        const svc = await manager.install(etcdServiceSpec(binary));
        if (svc.changed) changed.push(`${manager.kind}:${ETCD_SERVICE}`);
        return {
          host: name,
          changed,
          initialClusterState: state,
          serviceManager: manager.kind,
          ...(rejoined && { rejoined }),
        };
      });
    },

    async ensureEtcdRunning({ host, binary, restartIfRunning }: EnsureEtcdRunningInput): Promise<EtcdRunningResult> {
      return withFailures(async () => {
        const session = deps.session(host);
        const manager = await detectServiceManager(session);
        const { action } = await ensureService(manager, etcdServiceSpec(binary), { restartIfRunning });
        return { host: host.target.name, action, serviceManager: manager.kind };
      });
    },

    /**
     * After a member joined a running cluster: waits until `member list` shows it started (it published its name)
     * and its own endpoint answers healthy, so the next member is added to a cluster with every member up. A member
     * whose daemon stopped fails at once (with where etcd's own log says why).
     */
    async waitEtcdMemberStarted({
      host,
      member,
      endpoints,
      tls,
      timeoutSeconds,
      intervalMs = 500,
    }: WaitEtcdMemberStartedInput): Promise<EtcdMemberStarted> {
      return withFailures(async () => {
        const session = deps.session(host);
        const started = deps.now();
        const deadline = started + timeoutSeconds * 1000;
        const etcdctl = (urls: string[], command: string[]) =>
          session.run(etcdctlArgv(tls, urls, command, '3s'), {
            action: `etcdctl ${command.join(' ')}`,
            allowNonZero: true,
            timeoutMs: 30_000,
          });
        // Which service manager runs etcd does not change while we wait: asked once, not on every probe.
        let manager: Awaited<ReturnType<typeof detectServiceManager>> | undefined;
        for (let probes = 1; ; probes++) {
          const list = parseMemberList((await etcdctl(endpoints, ['member', 'list'])).stdout);
          const entry = list?.members.find((m) => m.peerUrls.includes(member.peerUrl));
          let why = !list
            ? 'no member answered `member list`'
            : !entry
              ? 'not in `member list`'
              : entry.name !== member.name
                ? 'added, not started yet'
                : '';
          if (!why) {
            const health = parseEndpointHealth((await etcdctl([member.clientUrl], ['endpoint', 'health'])).stdout);
            const own = health?.find((e) => e.endpoint === member.clientUrl);
            if (own?.health)
              return {
                host: host.target.name,
                id: entry!.id,
                members: list!.members.length,
                probes,
                elapsedMs: deps.now() - started,
              };
            why = `started, not healthy yet${own?.error ? ` (${own.error})` : ''}`;
          }
          manager ??= await detectServiceManager(session);
          if (!(await manager.isActive(ETCD_SERVICE))) {
            throw new KubeadmHaError(
              `etcd stopped before it ran as a member (${why}); its log says why (${manager.kind === 'systemd' ? `journalctl -u ${ETCD_SERVICE}` : logFilePath(ETCD_SERVICE)})`,
              FailureType.EtcdUnhealthy,
              host.target.name,
            );
          }
          if (deps.now() >= deadline) {
            // Its own log may say why it cannot catch up: peers it refused. Only a diagnostic: if reading it fails
            // (connection lost, its timeout), the failure is still this EtcdUnhealthy one, not HostUnreachable.
            let logText = '';
            try {
              logText = (
                await session.run(
                  {
                    script:
                      manager.kind === 'systemd'
                        ? `journalctl -u ${quote(ETCD_SERVICE)} --no-pager -o cat -n 5000 2>/dev/null || true`
                        : `tail -n 5000 ${quote(logFilePath(ETCD_SERVICE))} 2>/dev/null || true`,
                  },
                  { action: 'read the etcd log', allowNonZero: true, timeoutMs: 30_000 },
                )
              ).stdout;
            } catch {
              logText = '';
            }
            throw new KubeadmHaError(
              `etcd member ${member.name} did not start within ${timeoutSeconds} s: ${why}${describePeerRejections(peerRejections(logText))}`,
              FailureType.EtcdUnhealthy,
              host.target.name,
            );
          }
          heartbeat({ probes, why });
          await pause(intervalMs);
        }
      });
    },

    /**
     * Scale-in, one member: from a remaining member, `member list` and every listed member's health, then `member
     * remove` only when the members left keep a healthy quorum (removalQuorumProblem); else a failure naming them,
     * for a person. Idempotent: a member already gone is not an error.
     */
    async removeEtcdMember({
      host,
      via,
      member,
      endpoints,
      tls,
    }: RemoveEtcdMemberInput): Promise<RemoveEtcdMemberResult> {
      return withFailures(async () => {
        const session = deps.session(via);
        const etcdctl = (urls: string[], command: string[], allowNonZero = false) =>
          session.run(etcdctlArgv(tls, urls, command, '5s'), {
            action: `etcdctl ${command.slice(0, 2).join(' ')}`,
            allowNonZero,
            timeoutMs: 30_000,
          });
        const list = parseMemberList((await etcdctl(endpoints, ['member', 'list'])).stdout);
        if (!list)
          throw new KubeadmHaError(
            '`member list` printed nothing readable',
            FailureType.EtcdUnhealthy,
            via.target.name,
          );
        const entry = list.members.find(
          (m) => m.id === member.id || m.peerUrls.some((u) => member.peerUrls.includes(u)),
        );
        if (!entry) return { host: host.target.name, removed: false, members: list.members.length };
        const urls = list.members.flatMap((m) => m.clientUrls);
        const health = urls.length
          ? parseEndpointHealth((await etcdctl(urls, ['endpoint', 'health'], true)).stdout)
          : [];
        const problem = removalQuorumProblem(list.members, entry.id, health ?? []);
        if (problem)
          throw new KubeadmHaError(
            `etcd member ${entry.name || entry.id} not removed: ${problem}`,
            FailureType.EtcdUnhealthy,
            host.target.name,
          );
        await untilAccepted(
          () => etcdctl(endpoints, ['member', 'remove', entry.id]),
          () => deps.now(),
          ADD_REFUSED_FOR_MS,
        );
        const after = parseMemberList((await etcdctl(endpoints, ['member', 'list'])).stdout);
        return { host: host.target.name, removed: true, members: after?.members.length ?? list.members.length - 1 };
      });
    },

    /**
     * A removed member's host: etcd stopped (and, under systemd, disabled), its data dir and config renamed with the
     * member id, never deleted: a start by mistake finds no config, and the data is there for an operator.
     */
    async stopRemovedEtcdMember({
      host,
      memberId,
      peerUrls,
    }: StopRemovedEtcdMemberInput): Promise<StopRemovedEtcdMemberResult> {
      return withFailures(async () => {
        const session = deps.session(host);
        const kept = `${ETCD_DATA_DIR}.removed-${memberId}`;
        const keptConfig = `${ETCD_CONFIG_PATH}.removed-${memberId}`;
        // Whose etcd is this? A host found by name may be another member's (re-addressed): check before stopping.
        const marker = '--- kubeadm2ha: current config ---';
        const probe = await session.run(
          {
            script:
              `if [ -f ${quote(keptConfig)} ]; then echo kept-config=yes; fi; ` +
              `if [ -f ${quote(ETCD_CONFIG_PATH)} ]; then echo ${quote(marker)}; cat ${quote(ETCD_CONFIG_PATH)}; fi`,
          },
          { action: 'read the etcd config', timeoutMs: 30_000 },
        );
        const at = probe.stdout.indexOf(`${marker}\n`);
        const config = at < 0 ? undefined : probe.stdout.slice(at + marker.length + 1);
        const problem = removedHostProblem(config, /^kept-config=yes$/m.test(probe.stdout), { id: memberId, peerUrls });
        if (problem) throw new KubeadmHaError(problem, FailureType.HostNotSuitable, host.target.name);
        // Config already set aside for this member: an earlier attempt stopped it and kept its data.
        if (config === undefined) {
          const done = await session.run(
            { script: `[ -d ${quote(kept)} ] && echo kept=yes; true` },
            { action: 'find the kept member data', timeoutMs: 30_000 },
          );
          return { host: host.target.name, stopped: false, ...(/^kept=yes$/m.test(done.stdout) && { dataDir: kept }) };
        }
        const manager = await detectServiceManager(session);
        const wasActive = await manager.isActive(ETCD_SERVICE);
        if (wasActive) await manager.stop(ETCD_SERVICE);
        const r = await session.run(
          {
            script:
              `if [ -d /run/systemd/system ]; then systemctl disable ${quote(ETCD_SERVICE)} >/dev/null 2>&1 || true; fi; ` +
              `if [ -d ${quote(ETCD_DATA_DIR)} ] && [ ! -e ${quote(kept)} ]; then mv -- ${quote(ETCD_DATA_DIR)} ${quote(kept)}; fi; ` +
              `if [ -f ${quote(ETCD_CONFIG_PATH)} ]; then mv -f -- ${quote(ETCD_CONFIG_PATH)} ${quote(keptConfig)}; fi; ` +
              `[ -d ${quote(kept)} ] && echo kept=yes; true`,
          },
          { action: 'keep the removed member data', timeoutMs: 60_000 },
        );
        return {
          host: host.target.name,
          stopped: wasActive,
          ...(/^kept=yes$/m.test(r.stdout) && { dataDir: kept }),
        };
      });
    },

    async waitEtcdHealthy({
      members,
      tls,
      timeoutSeconds,
      intervalMs = 200,
    }: WaitEtcdHealthyInput): Promise<EtcdHealth> {
      return withFailures(async () => {
        const started = deps.now();
        const deadline = started + timeoutSeconds * 1000;
        const endpoints = members.map((m) => m.plan.clientUrl);
        const nameOf = (endpoint: string) =>
          members.find((m) => m.plan.clientUrl === endpoint)?.host.target.name ?? endpoint;
        let probes = 0;

        // Ask from a member (it has etcdctl and the healthcheck client certificate); if that host cannot be
        // reached or cannot run etcdctl, the next one.
        const etcdctl = async (command: string[]) => {
          let lastErr: unknown;
          for (const m of members) {
            try {
              return await deps.session(m.host).run(etcdctlArgv(tls, endpoints, command), {
                action: `etcdctl ${command.join(' ')}`,
                allowNonZero: true,
                timeoutMs: 15_000,
              });
            } catch (err) {
              lastErr = err;
            }
          }
          throw lastErr instanceof Error ? lastErr : new Error(String(lastErr));
        };

        for (;;) {
          probes++;
          const health = await etcdctl(['endpoint', 'health']);
          const parsed = parseEndpointHealth(health.stdout);
          let unhealthy: EtcdHealth['unhealthy'];
          if (!parsed) {
            const why = (health.stderr.trim().split('\n').pop() ?? '').slice(0, 300) || `exit ${health.code}`;
            unhealthy = members.map((m) => ({ name: m.host.target.name, endpoint: m.plan.clientUrl, error: why }));
          } else {
            unhealthy = endpoints
              .map(
                (e): EndpointHealth =>
                  parsed.find((p) => p.endpoint === e) ?? { endpoint: e, health: false, error: 'not reported' },
              )
              .filter((e) => !e.health)
              .map((e) => ({ name: nameOf(e.endpoint), endpoint: e.endpoint, error: e.error ?? 'unhealthy' }));
          }

          let list: ReturnType<typeof parseMemberList> = undefined;
          if (unhealthy.length === 0) {
            list = parseMemberList((await etcdctl(['member', 'list'])).stdout);
            const missing = list
              ? membersNotStarted(
                  list,
                  members.map((m) => ({ name: m.host.target.name, peerUrl: m.plan.peerUrl })),
                )
              : members.map((m) => m.host.target.name);
            if (list && missing.length === 0) {
              return {
                healthy: true,
                clusterId: list.clusterId,
                members: list.members,
                unhealthy: [],
                down: [],
                probes,
                elapsedMs: deps.now() - started,
              };
            }
            unhealthy = missing.map((n) => ({ name: n, endpoint: '', error: 'not a started member in `member list`' }));
          }

          // A member whose daemon is gone will not get healthy by waiting: hand it back to the workflow now.
          const down: string[] = [];
          for (const u of unhealthy) {
            const m = members.find((x) => x.host.target.name === u.name);
            if (!m) continue;
            try {
              const manager = await detectServiceManager(deps.session(m.host));
              if (!(await manager.isActive(ETCD_SERVICE))) down.push(u.name);
            } catch (err) {
              // Unreachable host: it may come back within the deadline; keep waiting.
              if (!(err instanceof KubeadmHaError)) throw err;
            }
          }
          if (down.length > 0 || deps.now() >= deadline) {
            const elapsedMs = deps.now() - started;
            return { healthy: false, clusterId: '', members: list?.members ?? [], unhealthy, down, probes, elapsedMs };
          }
          heartbeat({ probes, unhealthy: unhealthy.map((u) => u.name) });
          await pause(intervalMs);
        }
      });
    },
  };
  return {
    ...base,

    /** The health gate as one step: all members healthy, starting (a bounded number of times) members whose
     * daemon died (crash, OOM kill, someone's `kill`) before the gate passed; else a failure for a person. */
    async ensureEtcdHealthy({ rounds, binaries, ...wait }: EnsureEtcdHealthyInput): Promise<EtcdHealthGate> {
      return withFailures(async () => {
        const restarted: string[] = [];
        let health = await base.waitEtcdHealthy(wait);
        for (let round = 1; round < rounds && !health.healthy && health.down.length > 0; round++) {
          for (const name of health.down) {
            const m = wait.members.find((x) => x.host.target.name === name);
            if (!m) continue;
            // A member the facts showed done ran no install step this run: its binary is the one on its PATH.
            const binary = binaries[name] || (await probeEtcd(deps.session(m.host))).binary;
            await base.ensureEtcdRunning({ host: m.host, binary, restartIfRunning: false });
            restarted.push(name);
          }
          health = await base.waitEtcdHealthy(wait);
        }
        if (!health.healthy) {
          throw new KubeadmHaError(
            `etcd is not healthy after ${wait.timeoutSeconds} s: ${describeUnhealthy(health)}`,
            FailureType.EtcdUnhealthy,
          );
        }
        return { health, restarted };
      });
    },
  };
}
