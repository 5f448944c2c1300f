// The cluster's own CAs on the masters: the Kubernetes CA, the front-proxy CA and the service-account key pair are
// made once in the local store (pki-store.ts) and placed in /etc/kubernetes/pki exactly where kubeadm looks for
// them, so `kubeadm init` and every control-plane join sign with OUR CA, and a rebuilt master gets the same one.
// Only names, paths and fingerprints cross into history; the key PEMs go host-ward over SSH stdin only.
import { createHash, X509Certificate } from 'node:crypto';
import type { HostContext } from '../plan/types.js';
import {
  CERT_MODE,
  KEY_MODE,
  clusterCa,
  frontProxyCa,
  serviceAccountKeyFiles,
  type CaName,
  type KeyType,
} from '../pki/index.js';
import type { CaPlan } from '../plan/pki.js';
import { InvalidInputError } from '../errors.js';
import type { ActivityDeps } from './deps.js';
import { withFailures } from './failures.js';
import type { PkiActivityOptions } from './pki.js';
import { readRemoteFiles } from './remote-files.js';
import { LocalPkiStore, type EnsuredCa } from './pki-store.js';

export interface EnsureClusterCasInput {
  cluster: string;
  /** Plans of 'ca' and 'front-proxy-ca' (planClusterCas(inv).cas without etcd-ca). */
  cas: CaPlan[];
  serviceAccountKeyType: KeyType;
}

export interface ClusterCas {
  cas: EnsuredCa[];
  /** CA name → SHA-256 fingerprint: what placeClusterPki's caFingerprints takes (a runbook binds it). */
  fingerprints: Partial<Record<CaName, string>>;
  /** SHA-256 of the service-account public key PEM (to tell whether a host has ours). */
  serviceAccountSha256: string;
  serviceAccountCreated: boolean;
}

export interface PlaceClusterPkiInput {
  host: HostContext;
  cluster: string;
  /** As ensureClusterCas reported: a different CA in the store stops the activity. */
  caFingerprints: Partial<Record<CaName, string>>;
}

export interface PlaceClusterPkiResult {
  host: string;
  /** Remote paths written; empty on a rerun. */
  changed: string[];
}

const sha256 = (s: string): string => new X509Certificate(s).fingerprint256.replace(/:/g, '').toLowerCase();
const CLUSTER_CAS = [clusterCa, frontProxyCa];

export function createClusterPkiActivities(deps: ActivityDeps, opts: PkiActivityOptions = {}) {
  const storeFor = opts.store ?? ((cluster: string) => LocalPkiStore.forCluster(cluster));
  return {
    /** The cluster CA, front-proxy CA and SA keys, once, on this machine; returns fingerprints only. */
    async ensureClusterCas({ cluster, cas, serviceAccountKeyType }: EnsureClusterCasInput): Promise<ClusterCas> {
      return withFailures(async () => {
        const store = storeFor(cluster);
        const out: EnsuredCa[] = [];
        for (const plan of cas) {
          if (!CLUSTER_CAS.some((c) => c.name === plan.name))
            throw new InvalidInputError(`ensureClusterCas got the plan of ${plan.name}`);
          out.push((await store.ensureCa(plan)).ref);
        }
        const sa = await store.ensureServiceAccountKeys(serviceAccountKeyType);
        return {
          cas: out,
          fingerprints: Object.fromEntries(out.map((c) => [c.name, c.sha256Fingerprint])),
          serviceAccountSha256: createHash('sha256').update(sa.keys.publicKeyPem).digest('hex'),
          serviceAccountCreated: sa.created,
        };
      });
    },

    /** ca.crt/key, front-proxy-ca.crt/key, sa.key/pub on one master, in kubeadm's layout and modes. */
    async placeClusterPki({ host, cluster, caFingerprints }: PlaceClusterPkiInput): Promise<PlaceClusterPkiResult> {
      return withFailures(async () => {
        const store = storeFor(cluster);
        const files: { path: string; content: string; mode: number }[] = [];
        for (const ca of CLUSTER_CAS) {
          const pair = await store.readCa(ca.name);
          if (!pair)
            throw new InvalidInputError(
              `${ca.name} is not in the local PKI store (${store.dir}): run ensureClusterCas first`,
            );
          const expected = caFingerprints[ca.name];
          if (expected !== undefined && sha256(pair.certPem) !== expected)
            throw new InvalidInputError(`${ca.name} in ${store.dir} changed during the run; start the operation again`);
          files.push(
            { path: ca.keyPath, content: pair.keyPem, mode: KEY_MODE },
            { path: ca.certPath, content: pair.certPem, mode: CERT_MODE },
          );
        }
        const sa = await store.readServiceAccountKeys();
        if (!sa)
          throw new InvalidInputError(
            `the service-account keys are not in the local PKI store (${store.dir}): run ensureClusterCas first`,
          );
        files.push(
          { path: serviceAccountKeyFiles.privateKeyPath, content: sa.privateKeyPem, mode: KEY_MODE },
          { path: serviceAccountKeyFiles.publicKeyPath, content: sa.publicKeyPem, mode: CERT_MODE },
        );
        const session = deps.session(host);
        const existing = await readRemoteFiles(
          session,
          files.map((f) => f.path),
        );
        const changed: string[] = [];
        // Keys before certificates (the list is in that order per CA): a half-done run leaves a pair the next run fixes.
        for (const f of files) {
          const now = existing.get(f.path);
          if (now?.content === f.content && now.mode === f.mode) continue;
          if ((await session.putFile(f.path, f.content, { mode: f.mode, timeoutMs: 30_000 })).changed)
            changed.push(f.path);
        }
        return { host: host.target.name, changed };
      });
    },
  };
}
