// etcdctl (API v3) command lines and the parsing of their JSON output. Pure, so every odd output is unit-tested.
import { createHash } from 'node:crypto';
import type { EtcdClientTls, EtcdMember } from '../plan/etcd.js';

export type { EtcdMember };

/** argv for etcdctl with TLS client auth. `-w json` always: 3.4 prints `endpoint health` text on stderr. An
 * unreachable member would stall the call until --command-timeout, so that is kept short. */
export function etcdctlArgv(
  tls: EtcdClientTls,
  endpoints: string[],
  command: string[],
  commandTimeout = '1s',
): string[] {
  return [
    'env',
    'ETCDCTL_API=3',
    'etcdctl',
    '--endpoints',
    endpoints.join(','),
    '--cacert',
    tls.caFile,
    '--cert',
    tls.certFile,
    '--key',
    tls.keyFile,
    '--command-timeout',
    commandTimeout,
    '-w',
    'json',
    ...command,
  ];
}

export interface EndpointHealth {
  endpoint: string;
  health: boolean;
  error?: string;
}

/** `endpoint health -w json`: one object per endpoint, also when some are down (etcdctl then exits 1). */
export function parseEndpointHealth(stdout: string): EndpointHealth[] | undefined {
  let data: unknown;
  try {
    data = JSON.parse(stdout);
  } catch {
    return undefined;
  }
  if (!Array.isArray(data)) return undefined;
  return data.flatMap((e: unknown) => {
    if (typeof e !== 'object' || e === null) return [];
    const { endpoint, health, error } = e as Record<string, unknown>;
    if (typeof endpoint !== 'string') return [];
    return [{ endpoint, health: health === true, ...(typeof error === 'string' && error && { error }) }];
  });
}

export interface MemberList {
  clusterId: string;
  members: EtcdMember[];
}

// Member and cluster ids are uint64 and printed as bare JSON numbers; JSON.parse would round most of them (above
// 2^53), so they are turned into strings first. --hex does not change the JSON output in 3.4.
const bigIdField = /"(ID|cluster_id|member_id)":(\d+)/g;
const hex = (decimal: unknown): string => (typeof decimal === 'string' ? BigInt(decimal).toString(16) : '');
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

export function parseMemberList(stdout: string): MemberList | undefined {
  let data: unknown;
  try {
    data = JSON.parse(stdout.replace(bigIdField, '"$1":"$2"'));
  } catch {
    return undefined;
  }
  if (typeof data !== 'object' || data === null) return undefined;
  const { header, members } = data as { header?: Record<string, unknown>; members?: unknown };
  if (!Array.isArray(members)) return undefined;
  return {
    clusterId: hex(header?.cluster_id),
    members: members.map((m: Record<string, unknown>) => ({
      id: hex(m.ID),
      name: typeof m.name === 'string' ? m.name : '',
      peerUrls: strings(m.peerURLs),
      clientUrls: strings(m.clientURLs),
    })),
  };
}

/** Planned members missing from the list or not started (no name yet), by name. */
export function membersNotStarted(list: MemberList, planned: { name: string; peerUrl: string }[]): string[] {
  return planned
    .filter((p) => !list.members.some((m) => m.name === p.name && m.peerUrls.includes(p.peerUrl)))
    .map((p) => p.name);
}

/**
 * The id etcd gives a member of its initial cluster (etcd's membership.NewMember without a time): the first 8
 * bytes of sha1(sorted peer URLs joined, then the initial-cluster token), as hex. A member added later with
 * `member add` gets one mixed with the time instead, which tells the two apart while neither has started.
 */
export function staticMemberId(peerUrls: string[], token: string): string {
  const hash = createHash('sha1')
    .update([...peerUrls].sort().join('') + token)
    .digest();
  return hash.readBigUInt64BE(0).toString(16);
}

/**
 * What a member whose data dir is empty must do before it starts, from the cluster's `member list` as asked from
 * its host (undefined: no quorum answered, e.g. the members of a new cluster not all started yet):
 *  - bootstrap: start with initial-cluster-state new. The cluster is new, or lists this member with its initial
 *    id and never started;
 *  - join: the cluster answers without this member (removed earlier): `member add`, then start as existing;
 *  - joining: it was added and has not started: start as existing;
 *  - replace: the cluster knows it as started, so its data is lost. Started empty with the same id it would take
 *    the leader's commit index for a log it does not have and stop (raft's "tocommit out of range" panic): it is
 *    removed (`member remove`) and added again, then started as existing, and gets the data from the leader.
 */
export type EmptyMemberAction =
  { kind: 'bootstrap' } | { kind: 'join' } | { kind: 'joining' } | { kind: 'replace'; id: string };

export function emptyMemberAction(
  list: MemberList | undefined,
  me: { peerUrl: string; initialClusterToken: string },
): EmptyMemberAction {
  if (!list) return { kind: 'bootstrap' };
  const entry = list.members.find((m) => m.peerUrls.includes(me.peerUrl));
  if (!entry) return { kind: 'join' };
  if (entry.name !== '') return { kind: 'replace', id: entry.id };
  return entry.id === staticMemberId([me.peerUrl], me.initialClusterToken)
    ? { kind: 'bootstrap' }
    : { kind: 'joining' };
}

/**
 * The initial-cluster a member joining a running cluster starts with (initial-cluster-state existing): every member
 * the cluster lists, with its peer URLs. etcd refuses to join unless these are exactly the cluster's members ("member
 * count is unequal"), so the plan's string (every inventory member) is wrong while others are still to be added.
 * Names: as the members run; for one not started yet, this member's own name or the planned one (etcd compares
 * only the URLs, but each entry needs a distinct name).
 */
export function joinInitialCluster(list: MemberList, me: { name: string; peerUrl: string }, planned: string): string {
  const plannedNames = new Map(
    planned
      .split(',')
      .map((e) => e.split('='))
      .filter((kv): kv is [string, string] => kv.length === 2)
      .map(([name, peerUrl]) => [peerUrl, name]),
  );
  // In the plan's order (etcd's is by id), members the plan does not name last: the file reads like the inventory.
  const order = [...plannedNames.keys()];
  const rank = (u: string) => (order.includes(u) ? order.indexOf(u) : order.length);
  return list.members
    .flatMap((m) =>
      m.peerUrls.map((u) => {
        const name = m.peerUrls.includes(me.peerUrl) ? me.name : m.name || plannedNames.get(u) || `unstarted-${m.id}`;
        return { u, entry: `${name}=${u}` };
      }),
    )
    .sort((a, b) => rank(a.u) - rank(b.u))
    .map((e) => e.entry)
    .join(',');
}
