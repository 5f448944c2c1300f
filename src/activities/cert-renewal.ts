// What certificate renewal needs beyond the PKI and etcd activities: the fingerprint of the CA in the operator's
// store, read without creating anything. Renewal must sign with the CA the cluster already trusts; ensureEtcdCa
// would make a new one when the store is empty (another machine ran the setup), and certificates from a new CA
// would split the cluster.
import { FailureType, KubeadmHaError } from '../errors.js';
import { parseCertificate, type CaName } from '../pki/index.js';
import type { CertFact } from '../plan/certs.js';
import type { HostContext } from '../plan/types.js';
import type { ActivityDeps } from './deps.js';
import { withFailures } from './failures.js';
import { LocalPkiStore } from './pki-store.js';

export interface StoredCa {
  name: CaName;
  sha256Fingerprint: string;
  notAfter: string;
  storeDir: string;
}

export interface CheckHostCaInput {
  host: HostContext;
  /** The CA file on the host, e.g. /etc/kubernetes/pki/etcd/ca.crt. */
  caPath: string;
  /** What readHostCertificates found on the host. */
  certificates: CertFact[];
  /** What readStoredCa found in the operator's store. */
  ca: StoredCa;
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

    /** Is the host's CA file the CA in the store? Else stop: certificates from another CA would split the cluster.
     * Compares what two earlier steps read, so it is a runbook step of its own and the run's record shows it. */
    async checkHostCa({ host, caPath, certificates, ca }: CheckHostCaInput): Promise<{ sha256Fingerprint: string }> {
      return withFailures(() => {
        const onHost = certificates.find((c) => c.path === caPath)?.sha256Fingerprint;
        if (onHost !== ca.sha256Fingerprint) {
          throw new KubeadmHaError(
            `${caPath} ${onHost ? `is another CA (${onHost})` : 'is missing'}, not the etcd CA in ${ca.storeDir} ` +
              `(${ca.sha256Fingerprint}); nothing was changed`,
            FailureType.InvalidInput,
            host.target.name,
          );
        }
        return Promise.resolve({ sha256Fingerprint: onHost });
      });
    },
  };
}
