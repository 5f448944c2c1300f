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

/** initial-cluster-state of a config file we wrote earlier, or undefined for no/foreign/unreadable content. */
export function initialClusterStateOf(text: string | undefined): InitialClusterState | undefined {
  if (text === undefined) return undefined;
  try {
    const v = (parse(text) as Record<string, unknown> | null)?.['initial-cluster-state'];
    return v === 'new' || v === 'existing' ? v : undefined;
  } catch {
    return undefined;
  }
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
