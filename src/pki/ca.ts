// Self-signed certificate authorities: the cluster CA, the front-proxy CA and the etcd CA.
import { InvalidInputError } from '../errors.js';
import { buildCertificate } from './certificate.js';
import { generateKeyPairPem, privateKeyFromPem, type KeyType } from './keys.js';
import { validityWindow } from './validity.js';

/** A certificate and its private key, both PEM. `keyPem` is secret: 0600 on disk, never logged or put in history. */
export interface CertificateAndKey {
  certPem: string;
  keyPem: string;
}

export interface CreateCaOptions {
  commonName: string;
  keyType: KeyType;
  validityDays: number;
  /** Clock for tests; defaults to the current time. */
  now?: Date;
}

export async function createCa(opts: CreateCaOptions): Promise<CertificateAndKey> {
  if (!opts.commonName) throw new InvalidInputError('a CA needs a common name');
  const { privateKeyPem } = await generateKeyPairPem(opts.keyType);
  const key = privateKeyFromPem(privateKeyPem);
  const certPem = buildCertificate(
    {
      commonName: opts.commonName,
      ...validityWindow(opts.validityDays, opts.now),
      isCa: true,
      extendedUsages: [],
      dnsNames: [],
      ipAddresses: [],
      subjectKey: key,
    },
    { key },
  );
  return { certPem, keyPem: privateKeyPem };
}
