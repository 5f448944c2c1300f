// An etcd member's configuration file (etcd --config-file), rendered from the plan. Pure: unit-tested, and the
// activity only adds what depends on the host (initial-cluster-state).
import { parse, stringify } from 'yaml';
import type { EtcdMemberConfig } from '../plan/etcd.js';

export type InitialClusterState = 'new' | 'existing';

export function renderEtcdConfig(cfg: EtcdMemberConfig, state: InitialClusterState): string {
  // Keys and shapes as etcd's embed.configYAML reads them: URL lists are comma-separated strings.
  const doc = {
    name: cfg.name,
    'data-dir': cfg.dataDir,
    'listen-client-urls': cfg.listenClientUrls.join(','),
    'advertise-client-urls': cfg.advertiseClientUrls.join(','),
    'listen-peer-urls': cfg.listenPeerUrls.join(','),
    'initial-advertise-peer-urls': cfg.initialAdvertisePeerUrls.join(','),
    'initial-cluster': cfg.initialCluster,
    'initial-cluster-token': cfg.initialClusterToken,
    'initial-cluster-state': state,
    // Plain-HTTP metrics and /health on loopback only, as kubeadm runs etcd: probes need no client certificate.
    'listen-metrics-urls': 'http://127.0.0.1:2381',
    'client-transport-security': {
      'cert-file': cfg.tls.certFile,
      'key-file': cfg.tls.keyFile,
      'client-cert-auth': true,
      'trusted-ca-file': cfg.tls.trustedCaFile,
    },
    'peer-transport-security': {
      'cert-file': cfg.tls.peerCertFile,
      'key-file': cfg.tls.peerKeyFile,
      'client-cert-auth': true,
      'trusted-ca-file': cfg.tls.peerTrustedCaFile,
    },
    // zap is the only logger in 3.5 and must be asked for in 3.4; stderr goes to the journal or the service log.
    logger: 'zap',
    'log-outputs': ['stderr'],
    'snapshot-count': 10000,
  };
  return `# Managed by kubeadm2ha; changes here are overwritten.\n${stringify(doc, { lineWidth: 0 })}`;
}

function settingOf(text: string | undefined, key: string): unknown {
  if (text === undefined) return undefined;
  try {
    return (parse(text) as Record<string, unknown> | null)?.[key];
  } catch {
    return undefined;
  }
}

/** The peer URLs a member's config file advertises (initial-advertise-peer-urls); [] for none or unreadable. */
export function advertisedPeerUrlsOf(text: string | undefined): string[] {
  const v = settingOf(text, 'initial-advertise-peer-urls');
  return typeof v === 'string'
    ? v
        .split(',')
        .map((u) => u.trim())
        .filter(Boolean)
    : [];
}

/** initial-cluster-state of a config file we wrote earlier, or undefined for no/foreign/unreadable content. */
export function initialClusterStateOf(text: string | undefined): InitialClusterState | undefined {
  const v = settingOf(text, 'initial-cluster-state');
  return v === 'new' || v === 'existing' ? v : undefined;
}

/**
 * The initial-cluster a member with data keeps: the one in its file when that is ours, else the plan's. etcd reads
 * it only when the data dir is empty, and a member that joined a running cluster started with the members of that
 * moment (joinInitialCluster), not the inventory's: writing the plan's over it would restart a healthy member for
 * nothing.
 */
export function keptInitialCluster(hasMemberData: boolean, current: string | undefined, planned: string): string {
  const v = settingOf(current, 'initial-cluster');
  return hasMemberData && initialClusterStateOf(current) && typeof v === 'string' && v ? v : planned;
}

/**
 * `new` for a member that has never run, `existing` for a data directory that is not ours. For a member that runs
 * with our file, keep what the file says: etcd ignores the setting once the data directory holds a member, so
 * flipping it from new to existing would only rewrite the file and restart a healthy member on every rerun.
 */
export function chooseInitialClusterState(
  hasMemberData: boolean,
  current: InitialClusterState | undefined,
): InitialClusterState {
  if (!hasMemberData) return 'new';
  return current ?? 'existing';
}
