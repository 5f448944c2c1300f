// What certificate renewal needs beyond the PKI and etcd activities: the fingerprint of the CA in the operator's
// store, read without creating anything. Renewal must sign with the CA the cluster already trusts; ensureEtcdCa
// would make a new one when the store is empty (another machine ran the setup), and certificates from a new CA
// would split the cluster.
import { FailureType, KubeadmHaError } from '../errors.js';
import { parseCertificate, type CaName } from '../pki/index.js';
import type { ActivityDeps } from './deps.js';
import { withFailures } from './failures.js';
import { LocalPkiStore } from './pki-store.js';

export interface StoredCa {
  name: CaName;
  sha256Fingerprint: string;
  notAfter: string;
  storeDir: string;
}

export interface CertRenewalActivityOptions {
  /** The store of a cluster; default: the state directory of the user running the worker. */
  store?: (cluster: string) => LocalPkiStore;
}

export function createCertRenewalActivities(_deps: ActivityDeps, opts: CertRenewalActivityOptions = {}) {
  const storeFor = opts.store ?? ((cluster: string) => LocalPkiStore.forCluster(cluster));
  return {
    /** The stored CA's fingerprint and expiry; never its key, never its PEM. */
    async readStoredCa({ cluster, name }: { cluster: string; name: CaName }): Promise<StoredCa> {
      return withFailures(async () => {
        const store = storeFor(cluster);
        const ca = await store.readCa(name);
        if (!ca) {
          // Retryable like loadCa in pki.ts: another worker on the queue may hold the store.
          throw new KubeadmHaError(
            `${name} of ${cluster} is not in this worker's PKI store (${store.dir}); renewal signs with the CA that ` +
              `set the cluster up: run the worker on the machine that ran the setup, or copy its state directory`,
            FailureType.CommandFailed,
          );
        }
        const info = parseCertificate(ca.certPem);
        return {
          name,
          sha256Fingerprint: info.sha256Fingerprint,
          notAfter: info.notAfter.toISOString(),
          storeDir: store.dir,
        };
      });
    },
  };
}
