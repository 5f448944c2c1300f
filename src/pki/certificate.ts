// The one place certificates are assembled and signed.
//
// Why two signing paths: node-forge is our certificate builder, but its X.509 code only knows RSA keys
// (pki.publicKeyToAsn1 and cert.sign reject EC keys, and certificateFromPem throws on an EC certificate).
// kubeadm's ECDSA-P256 option needs EC, so:
//   - forge always builds the certificate object: subject, validity, serial and every extension (SAN with real
//     IP entries, basicConstraints, keyUsage, extKeyUsage, key identifiers) through its own encoders;
//   - RSA key signed by an RSA CA: forge also encodes the public key and signs (cert.sign, SHA-256) — plain forge;
//   - any EC key on either side: we lay out the TBSCertificate ourselves from forge's ASN.1 pieces, splice in the
//     SubjectPublicKeyInfo DER that Node exported, and sign with Node's crypto.sign('sha256', …) (OpenSSL), which
//     emits exactly the DER ECDSA-Sig-Value / PKCS#1 v1.5 signature X.509 wants. No hand-written crypto.
// Either way the result is parsed back with Node's X509Certificate and its signature checked against the issuer's
// public key before it is returned, so a bug in either path fails here and not at etcd start-up.
import { randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import forge from 'node-forge';

import { certificateParts, keyIdentifier, parseDer, toDer } from './der.js';
import { publicKeyOf, spkiDer } from './keys.js';

const { asn1, pki } = forge;
type Asn1 = forge.asn1.Asn1;

// Present in forge's x509.js, missing from @types/node-forge.
const certificateExtensionsToAsn1 = (pki as unknown as { certificateExtensionsToAsn1(this: void, exts: unknown[]): Asn1 })
  .certificateExtensionsToAsn1;

export type ExtendedUsage = 'serverAuth' | 'clientAuth';

export interface CertificateTemplate {
  commonName: string;
  /** One O each: the apiserver reads every O of a client certificate as a group. */
  organization?: string | string[];
  notBefore: Date;
  notAfter: Date;
  isCa: boolean;
  extendedUsages: ExtendedUsage[];
  dnsNames: string[];
  ipAddresses: string[];
  /** The subject's public (or private) key. */
  subjectKey: KeyObject;
}

export interface Issuer {
  /** The CA's private key. */
  key: KeyObject;
  /** The CA's certificate; absent for a self-signed certificate. */
  certPem?: string;
}

/** 16 random bytes as a positive DER INTEGER: top bit cleared (else negative), second-highest set (so no leading
 * zero byte is needed and the encoding stays minimal; strict parsers reject padded integers). 126 bits of entropy. */
export function randomSerialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return bytes.toString('hex');
}

const OID = {
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
};

function subjectAttributes(t: CertificateTemplate): forge.pki.CertificateField[] {
  // Go's pkix.Name (hence kubeadm) writes O before CN; keep that order so subjects read the same in `openssl x509`.
  return [
    ...[t.organization ?? []].flat().map((value) => ({ shortName: 'O', value })),
    { shortName: 'CN', value: t.commonName },
  ];
}

function extensions(t: CertificateTemplate, subjectKeyId: Buffer, authorityKeyId: Buffer): object[] {
  const octets = (b: Buffer) => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, b.toString('binary'));
  const aki = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, false, authorityKeyId.toString('binary')),
  ]);
  const exts: object[] = [
    { name: 'basicConstraints', critical: true, cA: t.isCa },
    t.isCa
      ? { name: 'keyUsage', critical: true, digitalSignature: true, keyEncipherment: true, keyCertSign: true }
      : { name: 'keyUsage', critical: true, digitalSignature: true, keyEncipherment: true },
  ];
  if (t.extendedUsages.length > 0) {
    exts.push({ name: 'extKeyUsage', ...Object.fromEntries(t.extendedUsages.map((u) => [u, true])) });
  }
  // Key identifiers are given as ready values: forge would derive them from an RSA key only.
  exts.push({ name: 'subjectKeyIdentifier', value: octets(subjectKeyId) });
  exts.push({ name: 'authorityKeyIdentifier', value: aki });
  const altNames = [
    ...t.dnsNames.map((value) => ({ type: 2, value })),
    ...t.ipAddresses.map((ip) => ({ type: 7, ip })), // type 7 = iPAddress: 4 or 16 raw bytes, not a DNS string
  ];
  if (altNames.length > 0) exts.push({ name: 'subjectAltName', altNames });
  return exts;
}

// RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050 on.
const timeAsn1 = (d: Date): Asn1 =>
  d.getUTCFullYear() < 2050
    ? asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTCTIME, false, asn1.dateToUtcTime(d))
    : asn1.create(asn1.Class.UNIVERSAL, asn1.Type.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(d));

function signatureAlgorithm(signer: KeyObject): Asn1 {
  const oid = (o: string) => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(o).getBytes());
  // RSA PKCS#1 v1.5 identifiers carry an explicit NULL parameter; ECDSA ones carry none (RFC 5758 §3.2).
  return signer.asymmetricKeyType === 'rsa'
    ? asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
        oid(OID.sha256WithRSAEncryption),
        asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, ''),
      ])
    : asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [oid(OID.ecdsaWithSHA256)]);
}

function signWithNodeCrypto(cert: forge.pki.Certificate, issuerName: Asn1, subjectSpki: Buffer, key: KeyObject): string {
  const algorithm = signatureAlgorithm(key);
  const tbs = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(2).getBytes()), // v3
    ]),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, forge.util.hexToBytes(cert.serialNumber)),
    algorithm,
    issuerName,
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
      timeAsn1(cert.validity.notBefore),
      timeAsn1(cert.validity.notAfter),
    ]),
    pki.distinguishedNameToAsn1(cert.subject),
    parseDer(subjectSpki),
    certificateExtensionsToAsn1(cert.extensions as unknown[]),
  ]);
  const signature = sign('sha256', toDer(tbs), key); // ECDSA: DER (r, s); RSA: PKCS#1 v1.5
  const certificate = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    tbs,
    algorithm,
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, '\x00' + signature.toString('binary')),
  ]);
  const b64 = toDer(certificate).toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}-----END CERTIFICATE-----\n`;
}

/** Builds and signs one certificate; returns its PEM. */
export function buildCertificate(t: CertificateTemplate, issuer: Issuer): string {
  const subjectSpki = spkiDer(t.subjectKey);
  const subjectKeyId = keyIdentifier(subjectSpki);
  const issuerCert = issuer.certPem ? new X509Certificate(issuer.certPem) : undefined;
  const issuerParts = issuer.certPem ? certificateParts(issuer.certPem) : undefined;
  // A child's AKI must equal its CA's SKI (OpenSSL checks); fall back to computing it for CAs that carry none.
  const authorityKeyId = issuerParts
    ? (issuerParts.subjectKeyIdentifier ?? keyIdentifier(spkiDer(issuerCert!.publicKey)))
    : subjectKeyId;

  const cert = pki.createCertificate();
  cert.serialNumber = randomSerialHex();
  cert.validity.notBefore = t.notBefore;
  cert.validity.notAfter = t.notAfter;
  cert.setSubject(subjectAttributes(t));
  cert.setExtensions(extensions(t, subjectKeyId, authorityKeyId));

  const allRsa = t.subjectKey.asymmetricKeyType === 'rsa' && issuer.key.asymmetricKeyType === 'rsa';
  let pem: string;
  if (allRsa) {
    cert.publicKey = pki.publicKeyFromPem(publicKeyOf(t.subjectKey).export({ type: 'spki', format: 'pem' }).toString());
    cert.setIssuer(issuer.certPem ? pki.certificateFromPem(issuer.certPem).subject.attributes : cert.subject.attributes);
    const forgeKey = pki.privateKeyFromPem(issuer.key.export({ type: 'pkcs1', format: 'pem' }).toString());
    cert.sign(forgeKey, forge.md.sha256.create());
    pem = pki.certificateToPem(cert).replace(/\r\n/g, '\n');
  } else {
    // The issuer Name is copied from the CA certificate as encoded, so it matches byte for byte.
    const issuerName = issuerParts ? issuerParts.subject : pki.distinguishedNameToAsn1(cert.subject);
    pem = signWithNodeCrypto(cert, issuerName, subjectSpki, issuer.key);
  }

  const made = new X509Certificate(pem);
  const signerPublic = issuerCert ? issuerCert.publicKey : publicKeyOf(issuer.key);
  if (!made.verify(signerPublic) || (issuerCert && !made.checkIssued(issuerCert))) {
    throw new Error(`internal error: certificate for ${t.commonName} does not verify against its issuer`);
  }
  return pem;
}
