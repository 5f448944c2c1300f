// Reading certificates back: what activities need to decide whether a file on a host can stay.
// Node's X509Certificate (OpenSSL) does the parsing and signature checks for every key type; der.ts fills in the
// fields it does not expose.
import { X509Certificate } from 'node:crypto';

import { certificateParts } from './der.js';
import { privateKeyFromPem, publicKeyFingerprint, spkiDer } from './keys.js';
import { parseSubjectAltNameText, type SubjectAltNames } from './san.js';

export interface CertificateInfo {
  subjectCommonName: string | undefined;
  subjectOrganization: string[];
  issuerCommonName: string | undefined;
  notBefore: Date;
  notAfter: Date;
  sans: SubjectAltNames;
  isCa: boolean;
  /** Upper-case hex, as `openssl x509 -serial` prints it. */
  serial: string;
  /** SHA-256 over the DER certificate, lower-case hex without colons. */
  sha256Fingerprint: string;
  /** SHA-256 over the DER SubjectPublicKeyInfo, lower-case hex: equal for a certificate and its key. */
  publicKeyFingerprint: string;
}

// Node prints names one attribute per line ("O=system:masters\nCN=kube-apiserver-etcd-client").
const attributes = (name: string, key: string): string[] =>
  name
    .split('\n')
    .filter((line) => line.startsWith(`${key}=`))
    .map((line) => line.slice(key.length + 1));

export function parseCertificate(pem: string): CertificateInfo {
  const x = new X509Certificate(pem);
  const { notBefore, notAfter } = certificateParts(x.raw);
  return {
    subjectCommonName: attributes(x.subject, 'CN')[0],
    subjectOrganization: attributes(x.subject, 'O'),
    issuerCommonName: attributes(x.issuer, 'CN')[0],
    notBefore,
    notAfter,
    sans: parseSubjectAltNameText(x.subjectAltName),
    isCa: x.ca,
    serial: x.serialNumber.toUpperCase(),
    sha256Fingerprint: x.fingerprint256.replace(/:/g, '').toLowerCase(),
    publicKeyFingerprint: publicKeyFingerprint(x.publicKey),
  };
}

/** True when the private key is the one the certificate was issued for. False (not an exception) for a
 * certificate or key that does not parse: to a caller deciding whether to keep a file, both mean "replace it". */
export function keyMatchesCertificate(keyPem: string, certPem: string): boolean {
  try {
    return spkiDer(privateKeyFromPem(keyPem)).equals(spkiDer(new X509Certificate(certPem).publicKey));
  } catch {
    return false;
  }
}

/** True when `certPem` was signed by the CA in `caPem` (names chain and the signature verifies). */
export function isIssuedBy(certPem: string, caPem: string): boolean {
  const cert = new X509Certificate(certPem);
  const ca = new X509Certificate(caPem);
  return cert.checkIssued(ca) && cert.verify(ca.publicKey);
}
