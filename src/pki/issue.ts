// Leaf certificates signed by one of our CAs: etcd server/peer, healthcheck and apiserver-etcd-client.
import { X509Certificate } from 'node:crypto';

import { InvalidInputError } from '../errors.js';
import type { CertificateAndKey } from './ca.js';
import { buildCertificate, type ExtendedUsage } from './certificate.js';
import { certificateParts } from './der.js';
import { keyMatchesCertificate } from './inspect.js';
import { generateKeyPairPem, privateKeyFromPem, type KeyType } from './keys.js';
import { checkSubjectAltNames } from './san.js';
import { validityWindow, validityWindowSeconds } from './validity.js';

/**
 * What the certificate is for. keyUsage is always critical digitalSignature + keyEncipherment, as kubeadm sets it.
 * - server: serves TLS (extKeyUsage serverAuth);
 * - client: authenticates to a server (clientAuth);
 * - peer: both — etcd peers dial each other, and etcd's own server certificate is also used by etcd to dial itself
 *   (grpc-gateway), which is why kubeadm gives etcd/server.crt clientAuth too.
 */
export type CertificateUsage = 'server' | 'client' | 'peer';

export const extendedUsagesOf: Record<CertificateUsage, ExtendedUsage[]> = {
  server: ['serverAuth'],
  client: ['clientAuth'],
  peer: ['serverAuth', 'clientAuth'],
};

export interface IssueCertificateOptions {
  ca: CertificateAndKey;
  commonName: string;
  organization?: string | string[];
  keyType: KeyType;
  /** Exactly one of validityDays and validitySeconds (short-lived client certificates). */
  validityDays?: number;
  validitySeconds?: number;
  usages: CertificateUsage;
  dnsNames?: string[];
  ipAddresses?: string[];
  now?: Date;
}

export async function issueCertificate(opts: IssueCertificateOptions): Promise<CertificateAndKey> {
  const dnsNames = opts.dnsNames ?? [];
  const ipAddresses = opts.ipAddresses ?? [];
  if (!opts.commonName) throw new InvalidInputError('a certificate needs a common name');
  checkSubjectAltNames({ dnsNames, ipAddresses });
  if (!new X509Certificate(opts.ca.certPem).ca) {
    throw new InvalidInputError(`cannot issue ${opts.commonName}: the given CA certificate is not a CA`);
  }
  if (!keyMatchesCertificate(opts.ca.keyPem, opts.ca.certPem)) {
    throw new InvalidInputError(`cannot issue ${opts.commonName}: the CA key does not belong to the CA certificate`);
  }

  if ((opts.validityDays === undefined) === (opts.validitySeconds === undefined)) {
    throw new InvalidInputError(`cannot issue ${opts.commonName}: give its validity in days or in seconds`);
  }
  const window =
    opts.validitySeconds !== undefined
      ? validityWindowSeconds(opts.validitySeconds, opts.now)
      : validityWindow(opts.validityDays!, opts.now);
  // A leaf must not outlive its CA: clients would reject it from the CA's expiry on anyway, and a notAfter past
  // the CA's hides when the real renewal is due.
  const caNotAfter = certificateParts(opts.ca.certPem).notAfter;
  if (window.notAfter > caNotAfter) window.notAfter = caNotAfter;

  const { privateKeyPem } = await generateKeyPairPem(opts.keyType);
  const certPem = buildCertificate(
    {
      commonName: opts.commonName,
      ...(opts.organization !== undefined && { organization: opts.organization }),
      ...window,
      isCa: false,
      extendedUsages: extendedUsagesOf[opts.usages],
      dnsNames: unique(dnsNames),
      ipAddresses: unique(ipAddresses),
      subjectKey: privateKeyFromPem(privateKeyPem),
    },
    { key: privateKeyFromPem(opts.ca.keyPem), certPem: opts.ca.certPem },
  );
  return { certPem, keyPem: privateKeyPem };
}

const unique = (xs: string[]): string[] => [...new Set(xs)];
