// etcd for the lab, built from the Go module proxy by scripts/build-etcd.sh into a per-version cache outside the
// clone, the way k8s-binaries.ts gets Kubernetes. Why not Debian's: kubeadm 1.33/1.34 refuse an external etcd older
// than 3.5.24 and Debian 12 ships 3.4.23. The script owns the build, its lock and its done-marker; this module only
// runs it and hands back paths.
import { join } from 'node:path';
import { runBuildScript, type BuildScriptOptions } from '../build-script.js';

/** The etcd kubeadm 1.34 deploys as its stacked default (constants.DefaultEtcdVersion 3.6.5-0); kubeadm 1.33's is
 * 3.5.24-0, and both accept an external etcd >= 3.5.24, so one lab etcd serves both. Pinned in lab/go/etcd. */
export const ETCD_LAB_VERSION = '3.6.5';

export interface EtcdBinaries {
  /** e.g. 3.6.5 */
  version: string;
  binDir: string;
  etcd: string;
  /** etcdctl and etcdutl: absent from a server-only build (see lab/go/etcd-3.5.24/release.env). */
  etcdctl: string;
  etcdutl: string;
}

export class EtcdBuildError extends Error {
  override name = 'EtcdBuildError';
}

export type EnsureEtcdOptions = BuildScriptOptions;

/**
 * Paths of etcd, etcdctl and etcdutl at `version`, building them first when the cache lacks them. Safe to call from
 * several processes at once: the script's lock makes one build and the others wait.
 */
export async function ensureEtcdBinaries(
  version: string = ETCD_LAB_VERSION,
  opts: EnsureEtcdOptions = {},
): Promise<EtcdBinaries> {
  const v = version.replace(/^v/, '');
  if (!/^3\.\d+\.\d+$/.test(v)) throw new EtcdBuildError(`invalid etcd version '${version}': expected one like 3.6.5`);
  // Only etcd is sure to be there: a pin without etcdctl/etcdutl builds the server alone (lab/go/etcd-3.5.24).
  const binDir = await runBuildScript('build-etcd.sh', [v], ['etcd'], opts, (m) => new EtcdBuildError(m));
  const paths = { etcd: join(binDir, 'etcd'), etcdctl: join(binDir, 'etcdctl'), etcdutl: join(binDir, 'etcdutl') };
  return { version: v, binDir, ...paths };
}
