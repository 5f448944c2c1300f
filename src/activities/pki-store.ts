// The operator-side PKI store: CA certificates and keys of one cluster, on the machine that runs the worker, under
// stateDir()/clusters/<cluster>/pki (dir 0700, files 0600). CA keys live here and nowhere else on our side:
// workflows carry only a CA's name and fingerprint, activities load the key from here when they sign.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

import { InvalidInputError } from '../errors.js';
import { stateDir } from '../paths.js';
import { acquireDirLock, releaseDirLock } from '../temporal/process-util.js';
import {
  createCa,
  createServiceAccountKeyPair,
  type KeyPairPem,
  type KeyType,
  keyMatchesCertificate,
  needsRenewal,
  parseCertificate,
  type CertificateAndKey,
} from '../pki/index.js';
import type { CaName } from '../pki/index.js';
import type { CaPlan } from '../plan/pki.js';

export const STORE_DIR_MODE = 0o700;
export const STORE_FILE_MODE = 0o600;

export interface CaReference {
  name: CaName;
  commonName: string;
  /** SHA-256 of the DER certificate, lower-case hex: what the workflow compares, instead of any PEM. */
  sha256Fingerprint: string;
  notAfter: string;
  /** Path of the certificate in the local store (never the key's). */
  certPath: string;
}

export interface EnsuredCa extends CaReference {
  created: boolean;
  /** Why a new CA was made (empty when the stored one was kept or none existed). */
  reasons: string[];
}

export const pkiStoreDir = (cluster: string): string => stateDir('clusters', cluster, 'pki');

export class LocalPkiStore {
  constructor(readonly dir: string) {}

  static forCluster(cluster: string): LocalPkiStore {
    // The schema restricts cluster names to DNS labels; check again because this becomes a path.
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(cluster))
      throw new InvalidInputError(`invalid cluster name ${cluster}`);
    return new LocalPkiStore(pkiStoreDir(cluster));
  }

  certPath(name: CaName): string {
    return join(this.dir, `${name}.crt`);
  }

  keyPath(name: CaName): string {
    return join(this.dir, `${name}.key`);
  }

  /** The stored CA, or undefined when its certificate or key is missing. */
  async readCa(name: CaName): Promise<CertificateAndKey | undefined> {
    const [certPem, keyPem] = await Promise.all([readOptional(this.certPath(name)), readOptional(this.keyPath(name))]);
    return certPem !== undefined && keyPem !== undefined ? { certPem, keyPem } : undefined;
  }

  /**
   * Keep the stored CA while it is valid; make one when there is none or it has expired (plan.minDaysLeft is 0:
   * renewing a CA re-keys the whole cluster, so it never happens early). A certificate whose key does not match
   * is refused rather than replaced: that store was tampered with or half-copied, and a fresh CA would silently
   * split the cluster's trust.
   */
  async ensureCa(plan: CaPlan, now = new Date()): Promise<{ ca: CertificateAndKey; ref: EnsuredCa }> {
    return this.locked(() => this.ensureCaLocked(plan, now));
  }

  private async ensureCaLocked(plan: CaPlan, now: Date): Promise<{ ca: CertificateAndKey; ref: EnsuredCa }> {
    const existing = await this.readCa(plan.name);
    let reasons: string[] = [];
    if (existing) {
      if (!keyMatchesCertificate(existing.keyPem, existing.certPem)) {
        throw new InvalidInputError(
          `the local ${plan.name} in ${this.dir} has a key that does not belong to its certificate; ` +
            `restore both files from a backup (a new CA would have to be distributed to every host)`,
        );
      }
      const verdict = needsRenewal(existing.certPem, { ca: existing.certPem, minDaysLeft: plan.minDaysLeft, now });
      if (!verdict.renew) return { ca: existing, ref: { ...this.reference(plan, existing), created: false, reasons } };
      reasons = verdict.reasons;
    }
    const ca = await createCa({
      commonName: plan.commonName,
      keyType: plan.keyType,
      validityDays: plan.validityDays,
      now,
    });
    await this.write(plan.name, ca);
    return { ca, ref: { ...this.reference(plan, ca), created: true, reasons } };
  }

  /** The service-account signing pair (sa.key, sa.pub), made once like a CA and kept for the cluster's life:
   * replacing it invalidates every service-account token. */
  async ensureServiceAccountKeys(keyType: KeyType): Promise<{ keys: KeyPairPem; created: boolean }> {
    return this.locked(async () => {
      const existing = await this.readServiceAccountKeys();
      if (existing) return { keys: existing, created: false };
      const keys = await createServiceAccountKeyPair({ keyType });
      const key = await writeTemp(join(this.dir, 'sa.key'), keys.privateKeyPem);
      const pub = await writeTemp(join(this.dir, 'sa.pub'), keys.publicKeyPem);
      await rename(key, join(this.dir, 'sa.key'));
      await rename(pub, join(this.dir, 'sa.pub'));
      return { keys, created: true };
    });
  }

  /**
   * Read-decide-write under the store's lock. Several workers may share one store (a shared KUBEADM2HA_STATE_DIR is
   * what the README recommends): two that find no CA at once would each make one, the later rename would win, and
   * the first one's certificates would chain to a CA nobody keeps. The lock is a directory (atomic mkdir); a lock
   * left by a dead process on this machine is taken over.
   */
  private async locked<T>(fn: () => Promise<T>): Promise<T> {
    await this.prepareDir();
    const lock = join(this.dir, '.lock');
    await acquireDirLock(lock, { timeoutMs: 120_000 });
    try {
      return await fn();
    } finally {
      await releaseDirLock(lock);
    }
  }

  async readServiceAccountKeys(): Promise<KeyPairPem | undefined> {
    const [privateKeyPem, publicKeyPem] = await Promise.all([
      readOptional(join(this.dir, 'sa.key')),
      readOptional(join(this.dir, 'sa.pub')),
    ]);
    return privateKeyPem !== undefined && publicKeyPem !== undefined ? { privateKeyPem, publicKeyPem } : undefined;
  }

  reference(plan: Pick<CaPlan, 'name' | 'commonName'>, ca: CertificateAndKey): CaReference {
    const info = parseCertificate(ca.certPem);
    return {
      name: plan.name,
      commonName: info.subjectCommonName ?? plan.commonName,
      sha256Fingerprint: info.sha256Fingerprint,
      notAfter: info.notAfter.toISOString(),
      certPath: this.certPath(plan.name),
    };
  }

  private async prepareDir(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: STORE_DIR_MODE });
    await chmod(this.dir, STORE_DIR_MODE); // mkdir's mode does not apply to a directory that already existed
  }

  private async write(name: CaName, ca: CertificateAndKey): Promise<void> {
    // Both files are written to temporaries first and then renamed, key first: a crash leaves either the old pair,
    // or a new key without its certificate, which the next run treats as "no CA" and replaces.
    const key = await writeTemp(this.keyPath(name), ca.keyPem);
    const cert = await writeTemp(this.certPath(name), ca.certPem);
    await rename(key, this.keyPath(name));
    await rename(cert, this.certPath(name));
  }
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** A 0600 temporary next to `path`, fully written and synced; the caller renames it into place. */
export async function writeTemp(path: string, content: string | Buffer): Promise<string> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  // 'wx' + mode: the file is created 0600 before a byte is written, and never follows an existing file or link.
  const fh = await open(tmp, 'wx', STORE_FILE_MODE);
  try {
    await fh.writeFile(content);
    await fh.sync();
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  } finally {
    await fh.close();
  }
  return tmp;
}
