// Just enough DER reading to take certificates apart where Node's X509Certificate does not expose a field:
// the subject Name exactly as encoded (the issuer of a child must match it byte for byte), the validity as Dates,
// and the SubjectKeyIdentifier (a child's AuthorityKeyIdentifier must repeat it, or OpenSSL refuses the chain).
// forge.asn1 parses any certificate, whatever its key type; forge.pki.certificateFromAsn1 would throw on EC keys.
import { createHash, X509Certificate } from 'node:crypto';
import forge from 'node-forge';

const { asn1 } = forge;
type Asn1 = forge.asn1.Asn1;

// forge parses BIT STRINGs that look like DER into nested nodes by default; SPKI and signatures must stay opaque
// bytes so they re-encode exactly. The option exists in forge's code but not in @types/node-forge.
const fromDerOpaque = asn1.fromDer as unknown as (
  bytes: string,
  options: { strict: boolean; parseAllBytes: boolean; decodeBitStrings: boolean },
) => Asn1;

export const parseDer = (der: Buffer): Asn1 =>
  fromDerOpaque(der.toString('binary'), { strict: true, parseAllBytes: true, decodeBitStrings: false });

export const toDer = (node: Asn1): Buffer => Buffer.from(asn1.toDer(node).getBytes(), 'binary');

const children = (node: Asn1 | undefined, what: string): Asn1[] => {
  if (!node || !Array.isArray(node.value)) throw new Error(`malformed certificate: ${what} is not a constructed value`);
  return node.value;
};
const bytesOf = (node: Asn1 | undefined, what: string): string => {
  if (!node || typeof node.value !== 'string') throw new Error(`malformed certificate: ${what} is not a primitive`);
  return node.value;
};

const OID_SUBJECT_KEY_IDENTIFIER = '2.5.29.14';

export interface CertificateParts {
  subject: Asn1;
  notBefore: Date;
  notAfter: Date;
  /** Raw SubjectKeyIdentifier bytes, when the certificate carries one. */
  subjectKeyIdentifier?: Buffer;
}

function timeOf(node: Asn1 | undefined): Date {
  const text = bytesOf(node, 'validity time');
  return node?.type === asn1.Type.UTCTIME ? asn1.utcTimeToDate(text) : asn1.generalizedTimeToDate(text);
}

/** Reads the TBSCertificate fields we need from a PEM or DER certificate. */
export function certificateParts(cert: string | Buffer): CertificateParts {
  const der = typeof cert === 'string' ? new X509Certificate(cert).raw : cert;
  const tbs = children(children(parseDer(der), 'Certificate')[0], 'TBSCertificate');
  // version is an optional explicit [0]; everything after it is positional (RFC 5280 §4.1).
  const fields = tbs[0]?.tagClass === asn1.Class.CONTEXT_SPECIFIC ? tbs.slice(1) : tbs;
  const [, , , validity, subject] = fields;
  const [notBefore, notAfter] = children(validity, 'Validity');
  if (!subject) throw new Error('malformed certificate: no subject');
  const parts: CertificateParts = { subject, notBefore: timeOf(notBefore), notAfter: timeOf(notAfter) };

  const extensionsTagged = fields.find((f) => f.tagClass === asn1.Class.CONTEXT_SPECIFIC && (f.type as number) === 3);
  const extensions = extensionsTagged ? children(children(extensionsTagged, 'extensions')[0], 'Extensions') : [];
  for (const ext of extensions) {
    const items = children(ext, 'Extension');
    if (asn1.derToOid(bytesOf(items[0], 'extnID')) !== OID_SUBJECT_KEY_IDENTIFIER) continue;
    const extnValue = bytesOf(items[items.length - 1], 'extnValue');
    parts.subjectKeyIdentifier = Buffer.from(bytesOf(parseDer(Buffer.from(extnValue, 'binary')), 'keyIdentifier'), 'binary');
  }
  return parts;
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING's bytes. Go's crypto/x509 (so kubeadm) and
 * OpenSSL compute it the same way, so identifiers agree whichever tool made the certificate. */
export function keyIdentifier(spki: Buffer): Buffer {
  const [, bitString] = children(parseDer(spki), 'SubjectPublicKeyInfo');
  // The first content byte of a BIT STRING counts unused bits (always 0 for keys) and is not part of the key.
  const key = Buffer.from(bytesOf(bitString, 'subjectPublicKey'), 'binary').subarray(1);
  return createHash('sha1').update(key).digest();
}
