// One CA per cluster: before the worker makes (or uses) an etcd CA, it looks at the CA certificate the cluster's
// hosts already hold. A worker whose store is empty (another machine, another user, a lost state directory) must
// not create a second CA for hosts that trust a first one: its certificates would split the members between two
// CAs. Replacing the cluster's CA is possible, but only when asked for (`kubeadm2ha etcd setup --replace-ca`).
import { X509Certificate } from 'node:crypto';
import { FailureType, HostUnreachableError, InvalidInputError, KubeadmHaError } from '../errors.js';
import type { HostContext } from '../plan/types.js';
import type { ActivityDeps } from './deps.js';
import type { LocalPkiStore } from './pki-store.js';
import { readRemoteFiles } from './remote-files.js';

/** Which hosts should hold the CA certificate, and at which path. */
export interface CaTrustCheck {
  hosts: HostContext[];
  certPath: string;
}

interface HostCa {
  host: string;
  /** SHA-256 of the certificate on the host (lower-case hex), 'unparseable', or undefined when it has none. */
  fingerprint?: string;
  /** Set when the host could not be read. */
  error?: unknown;
}

const fingerprintOf = (pem: string): string => {
  try {
    return new X509Certificate(pem).fingerprint256.replace(/:/g, '').toLowerCase();
  } catch {
    return 'unparseable';
  }
};

async function casOnHosts(deps: ActivityDeps, check: CaTrustCheck): Promise<HostCa[]> {
  return Promise.all(
    check.hosts.map(async (h): Promise<HostCa> => {
      try {
        const files = await readRemoteFiles(deps.session(h), [check.certPath]);
        const pem = files.get(check.certPath)?.content;
        return { host: h.target.name, ...(pem !== undefined && { fingerprint: fingerprintOf(pem) }) };
      } catch (err) {
        return { host: h.target.name, error: err };
      }
    }),
  );
}

/**
 * Throws unless the store's CA (or, when it has none, a new one) can be the cluster's only CA: no host may trust
 * another one, and a CA is created only when every host could be read. `replaceCa` lifts both.
 */
export async function requireSingleCa(
  deps: ActivityDeps,
  opts: {
    cluster: string;
    caName: string;
    store: LocalPkiStore;
    storedFingerprint?: string;
    check: CaTrustCheck;
    replaceCa: boolean;
  },
): Promise<void> {
  if (opts.replaceCa) return;
  const found = await casOnHosts(deps, opts.check);
  const foreign = found.filter((f) => f.fingerprint !== undefined && f.fingerprint !== opts.storedFingerprint);
  if (foreign.length > 0) {
    const list = foreign.map((f) => `${f.host} (sha256 ${f.fingerprint})`).join(', ');
    const store = opts.storedFingerprint
      ? `the ${opts.caName} in this worker's store ${opts.store.dir} is sha256 ${opts.storedFingerprint}`
      : `this worker's store ${opts.store.dir} has no ${opts.caName}`;
    throw new InvalidInputError(
      `cluster ${opts.cluster}: ${opts.check.certPath} on ${list} is another CA, and ${store}; refusing to make or ` +
        `use a second CA (it would split the members). Copy ${opts.caName}.crt and ${opts.caName}.key from the ` +
        `store of the worker that made it into ${opts.store.dir} (or give every worker one shared ` +
        `KUBEADM2HA_STATE_DIR), or rerun with --replace-ca to give the cluster a new CA (every member's ` +
        `certificates are issued again)`,
    );
  }
  const unread = found.filter((f) => f.error !== undefined);
  if (unread.length === 0) return;
  // A host that refused us for a reason of its own (changed host key, authentication) says so, as it would in
  // any other step.
  const refused = unread.find((f) => f.error instanceof KubeadmHaError && f.error.type !== FailureType.HostUnreachable);
  if (refused) throw refused.error;
  // Every host that holds (or will hold) the CA is a member or a master: none can be left out, so a host we cannot
  // read stops the run here, with or without a CA in the store, and is reported as unreachable — the same answer
  // whichever step would have met it first. Retryable: the host may be back on the next attempt.
  const why = (e: unknown) => (e instanceof Error ? e.message : String(e)).replace(/^[^:]+: unreachable: /, '');
  throw new HostUnreachableError(
    unread.map((f) => f.host).join(', '),
    `cannot tell which CA it trusts (${unread.map((f) => why(f.error)).join('; ')}); the ${opts.caName} is made ` +
      `or used only when every host that trusts it could be read (or with --replace-ca)`,
  );
}
