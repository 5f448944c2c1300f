// etcdctl (API v3) command lines and the parsing of their JSON output. Pure, so every odd output is unit-tested.
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
