// Secrets an addon needs that must not pass through a workflow: a template renders such a Secret WITHOUT data and
// with the annotation kubeadm2ha.io/secret-content naming what goes in (src/templates/addons/monitoring.ts); the
// apply activity fills it here, on the worker, just before kubectl reads the manifest on stdin. History holds the
// empty Secret only.
//
// etcd-client-certificate: the etcd CA's certificate and a client certificate of it, for Prometheus to scrape the
// external etcd (the seed left etcd unmonitored). The CA comes from the local PKI store (as every certificate
// kubeadm2ha issues). A certificate already in the cluster's Secret is kept while it still chains to that CA, matches
// its key and has more than a third of its validity left — so a second apply writes the very same Secret (nothing
// changes), and the key never travels back except to be compared.
import { parseAllDocuments, stringify } from 'yaml';
import { FailureType, KubeadmHaError } from '../errors.js';
import { issueCertificate } from '../pki/issue.js';
import { isIssuedBy, keyMatchesCertificate, parseCertificate } from '../pki/inspect.js';
import type { HostContext } from '../plan/types.js';
import {
  ETCD_CLIENT_COMMON_NAME,
  ETCD_CLIENT_CONTENT,
  SECRET_CONTENT_ANNOTATION,
} from '../templates/addons/monitoring.js';
import { LocalPkiStore } from './pki-store.js';

/** Validity of the etcd client certificate Prometheus uses; renewed by an apply once less than a third is left. */
export const ETCD_CLIENT_VALIDITY_DAYS = 365;

type Kubectl = (i: { via: HostContext; cluster: string; args: string[]; input?: string }) => Promise<string>;

interface SecretDoc {
  kind?: string;
  metadata?: { name?: string; namespace?: string; annotations?: Record<string, string> };
  data?: Record<string, string>;
  [k: string]: unknown;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string | undefined) => (s ? Buffer.from(s, 'base64').toString() : '');

/**
 * The manifest with every annotated Secret's data filled. A manifest without such a Secret is returned as it came
 * (same text), so other addons are untouched.
 */
export async function fillAddonSecrets(
  manifest: string,
  ctx: { via: HostContext; cluster: string; kubectl: Kubectl; store?: LocalPkiStore; now?: Date },
): Promise<string> {
  const docs = parseAllDocuments(manifest).map((d) => d.toJS() as SecretDoc | null);
  const wanted = docs.filter((d) => d?.kind === 'Secret' && d.metadata?.annotations?.[SECRET_CONTENT_ANNOTATION]);
  if (wanted.length === 0) return manifest;
  for (const doc of wanted) {
    const content = doc!.metadata!.annotations![SECRET_CONTENT_ANNOTATION];
    if (content !== ETCD_CLIENT_CONTENT)
      throw new KubeadmHaError(
        `addon Secret ${doc!.metadata?.name}: unknown content ${content}`,
        FailureType.InvalidInput,
      );
    doc!.data = await etcdClientData(doc!, ctx);
  }
  return docs
    .filter((d) => d !== null)
    .map((d) => stringify(d, { lineWidth: 0 }))
    .join('---\n');
}

async function etcdClientData(
  doc: SecretDoc,
  ctx: { via: HostContext; cluster: string; kubectl: Kubectl; store?: LocalPkiStore; now?: Date },
): Promise<Record<string, string>> {
  const store = ctx.store ?? LocalPkiStore.forCluster(ctx.cluster);
  const ca = await store.readCa('etcd-ca');
  if (!ca) {
    // Retryable, like the other activities that sign: another worker on the queue may hold the store.
    throw new KubeadmHaError(
      `etcd-ca of ${ctx.cluster} is not in this worker's PKI store (${store.dir}); the monitoring addon's etcd ` +
        `client certificate is signed by it: run the worker that set the cluster up, or share its state directory`,
      FailureType.CommandFailed,
    );
  }
  const now = ctx.now ?? new Date();
  const existing = await ctx.kubectl({
    via: ctx.via,
    cluster: ctx.cluster,
    args: [
      '-n',
      doc.metadata!.namespace ?? 'default',
      'get',
      'secret',
      doc.metadata!.name!,
      '--ignore-not-found',
      '-o',
      'jsonpath={.data}',
    ],
  });
  if (existing.trim() !== '') {
    const data = JSON.parse(existing) as Record<string, string>;
    const cert = unb64(data['tls.crt']);
    const key = unb64(data['tls.key']);
    if (cert && key && unb64(data['ca.crt']) === ca.certPem) {
      try {
        const info = parseCertificate(cert);
        const total = info.notAfter.getTime() - info.notBefore.getTime();
        const left = info.notAfter.getTime() - now.getTime();
        if (isIssuedBy(cert, ca.certPem) && keyMatchesCertificate(key, cert) && left > total / 3) return data;
      } catch {
        // Unparseable: issue a new one below.
      }
    }
  }
  const issued = await issueCertificate({
    ca,
    commonName: ETCD_CLIENT_COMMON_NAME,
    keyType: 'ecdsa-p256',
    validityDays: ETCD_CLIENT_VALIDITY_DAYS,
    usages: 'client',
    now,
  });
  return { 'ca.crt': b64(ca.certPem), 'tls.crt': b64(issued.certPem), 'tls.key': b64(issued.keyPem) };
}
