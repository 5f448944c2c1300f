// PKI activities. `ensureEtcdCa` runs on the worker's machine and makes the CA once (local store, see
// pki-store.ts); `ensureHostCertificates` signs one host's leaves with it and places them on the host.
// Only names, paths and fingerprints go in and out: no PEM of a key ever reaches Temporal history.
//
// Idempotence is the point: a certificate already on the host stays, byte for byte, while it is still good for what
// the plan asks (needsRenewal: CA, names, key type, time left) and its key matches; only then is a rerun a no-op.
import { X509Certificate } from 'node:crypto';

import { KubeadmHaError, FailureType, InvalidInputError } from '../errors.js';
import type { HostContext } from '../plan/types.js';
import {
  CERT_MODE,
  KEY_MODE,
  issueCertificate,
  keyMatchesCertificate,
  needsRenewal,
  parseCertificate,
  type CaName,
  type CertificateAndKey,
} from '../pki/index.js';
import type { CaPlan, CertificatePlan, HostPkiPlan } from '../plan/pki.js';
import { heartbeat } from './activity-context.js';
import type { ActivityDeps } from './deps.js';
import { withFailures } from './failures.js';
import { requireSingleCa, type CaTrustCheck } from './ca-on-hosts.js';
import { LocalPkiStore, type EnsuredCa } from './pki-store.js';
import { readRemoteFiles } from './remote-files.js';

export interface EnsureCaInput {
  cluster: string;
  ca: CaPlan;
  /** The hosts that hold (or will hold) this CA's certificate: none may trust another CA (./ca-on-hosts.ts). */
  trustedBy?: CaTrustCheck;
  /** Make or use this worker's CA even though hosts trust another one (`--replace-ca`). */
  replaceCa?: boolean;
}

export interface EnsureHostCertificatesInput {
  host: HostContext;
  cluster: string;
  plan: HostPkiPlan;
  /** Fingerprint of each CA as ensureEtcdCa reported it; a different CA in the store stops the activity. */
  caFingerprints: Partial<Record<CaName, string>>;
}

export interface HostCertificatesResult {
  host: string;
  /** Remote paths written (content or mode); empty on a rerun with nothing to do. */
  changed: string[];
  /** Why each re-issued certificate was replaced ('missing' for new ones). */
  issued: { path: string; reasons: string[] }[];
  /** Remote certificate path → SHA-256 of its DER. */
  fingerprints: Record<string, string>;
}

export interface PkiActivityOptions {
  /** The store of a cluster; default: the state directory of the user running the worker. */
  store?: (cluster: string) => LocalPkiStore;
}

/** Why an existing certificate and key cannot stay; empty when they can. */
export function replaceReasons(
  leaf: CertificatePlan,
  existing: { certPem?: string; keyPem?: string },
  caPem: string,
  now = new Date(),
): string[] {
  if (existing.certPem === undefined) return ['missing'];
  if (existing.keyPem === undefined) return ['key missing'];
  const verdict = needsRenewal(existing.certPem, {
    ca: caPem,
    minDaysLeft: leaf.minDaysLeft,
    expectedSans: { dnsNames: leaf.dnsNames, ipAddresses: leaf.ipAddresses },
    commonName: leaf.commonName,
    keyType: leaf.keyType,
    now,
  });
  const reasons = [...verdict.reasons];
  if (!verdict.renew && leaf.organization !== undefined) {
    const orgs = parseCertificate(existing.certPem).subjectOrganization;
    if (!orgs.includes(leaf.organization))
      reasons.push(`organization is ${orgs.join(',') || '(none)'}, expected ${leaf.organization}`);
  }
  if (!keyMatchesCertificate(existing.keyPem, existing.certPem)) reasons.push('key does not match the certificate');
  return reasons;
}

const sha256OfCert = (pem: string): string => new X509Certificate(pem).fingerprint256.replace(/:/g, '').toLowerCase();

export function createPkiActivities(deps: ActivityDeps, opts: PkiActivityOptions = {}) {
  const storeFor = opts.store ?? ((cluster: string) => LocalPkiStore.forCluster(cluster));

  async function loadCa(cluster: string, name: CaName, expected: string | undefined): Promise<CertificateAndKey> {
    const store = storeFor(cluster);
    const ca = await store.readCa(name);
    if (!ca) {
      // Retryable on purpose: with several workers on one task queue, another attempt may land on the worker
      // that holds the store. With one worker (the CLI's embedded one) this repeats and then fails clearly.
      throw new KubeadmHaError(
        `${name} is not in this worker's PKI store (${store.dir}); the CA lives on the worker that created it — ` +
          `run one worker per cluster or give every worker one shared KUBEADM2HA_STATE_DIR`,
        FailureType.CommandFailed,
      );
    }
    const fp = sha256OfCert(ca.certPem);
    if (expected !== undefined && fp !== expected) {
      throw new InvalidInputError(
        `${name} in ${store.dir} changed during the run (fingerprint ${fp}, the workflow expects ${expected}); ` +
          `start the operation again`,
      );
    }
    return ca;
  }

  return {
    /**
     * Make the cluster's etcd CA once, on this machine, unless its hosts already trust another one. Returns its
     * fingerprint and store path, never the key.
     */
    async ensureEtcdCa({ cluster, ca, trustedBy, replaceCa = false }: EnsureCaInput): Promise<EnsuredCa> {
      return withFailures(async () => {
        if (ca.name !== 'etcd-ca') throw new InvalidInputError(`ensureEtcdCa got the plan of ${ca.name}`);
        const store = storeFor(cluster);
        if (trustedBy) {
          const stored = await store.readCa(ca.name);
          await requireSingleCa(deps, {
            cluster,
            caName: ca.name,
            store,
            ...(stored && { storedFingerprint: sha256OfCert(stored.certPem) }),
            check: trustedBy,
            replaceCa,
          });
        }
        const { ref } = await store.ensureCa(ca);
        return ref;
      });
    },

    async ensureHostCertificates({
      host,
      cluster,
      plan,
      caFingerprints,
    }: EnsureHostCertificatesInput): Promise<HostCertificatesResult> {
      return withFailures(async () => {
        const session = deps.session(host);
        const name = host.target.name;
        const cas = new Map<CaName, CertificateAndKey>();
        const caOf = async (n: CaName) => {
          let ca = cas.get(n);
          if (!ca) {
            ca = await loadCa(cluster, n, caFingerprints[n]);
            cas.set(n, ca);
          }
          return ca;
        };

        // One round trip reads everything this host already has; a rerun with nothing to change ends there.
        const existing = await readRemoteFiles(session, [
          ...plan.caCertificates.map((c) => c.certPath),
          ...plan.certificates.flatMap((c) => [c.certPath, c.keyPath]),
        ]);
        const result: HostCertificatesResult = { host: name, changed: [], issued: [], fingerprints: {} };
        const put = async (path: string, content: string, mode: number) => {
          const now = existing.get(path);
          if (now?.content === content && now.mode === mode) return;
          const { changed } = await session.putFile(path, content, { mode, timeoutMs: 30_000 });
          if (changed) result.changed.push(path);
        };

        // CA certificates first: a service that restarts midway then already trusts what it will be shown.
        for (const caFile of plan.caCertificates) {
          const ca = await caOf(caFile.name);
          await put(caFile.certPath, ca.certPem, CERT_MODE);
          result.fingerprints[caFile.certPath] = sha256OfCert(ca.certPem);
        }

        for (const leaf of plan.certificates) {
          heartbeat({ host: name, certificate: leaf.name });
          const ca = await caOf(leaf.ca);
          const current = {
            certPem: existing.get(leaf.certPath)?.content,
            keyPem: existing.get(leaf.keyPath)?.content,
          };
          const reasons = replaceReasons(leaf, current, ca.certPem);
          let pair: CertificateAndKey;
          if (reasons.length === 0 && current.certPem !== undefined && current.keyPem !== undefined) {
            pair = { certPem: current.certPem, keyPem: current.keyPem };
          } else {
            pair = await issueCertificate({
              ca,
              commonName: leaf.commonName,
              ...(leaf.organization !== undefined && { organization: leaf.organization }),
              keyType: leaf.keyType,
              validityDays: leaf.validityDays,
              usages: leaf.usages,
              dnsNames: leaf.dnsNames,
              ipAddresses: leaf.ipAddresses,
            });
            result.issued.push({ path: leaf.certPath, reasons });
          }
          // Key before certificate: a crash in between leaves a mismatched pair, which the next run re-issues.
          // Kept files are rewritten only when their mode drifted (put compares with what was read).
          await put(leaf.keyPath, pair.keyPem, KEY_MODE);
          await put(leaf.certPath, pair.certPem, CERT_MODE);
          result.fingerprints[leaf.certPath] = sha256OfCert(pair.certPem);
        }
        return result;
      });
    },
  };
}
