// Keep or replace? This is what makes a rerun change nothing: a certificate already on a host stays when it is
// still good for what the inventory asks of it, and only then.
import { X509Certificate } from 'node:crypto';

import { isIssuedBy, parseCertificate } from './inspect.js';
import { keyTypeOf, type KeyType } from './keys.js';
import { missingSans, type SubjectAltNames } from './san.js';
import { DAY_MS } from './validity.js';

export interface RenewalCheck {
  /** Replace when fewer than this many days of validity remain. */
  minDaysLeft: number;
  /** Names the certificate must carry; extra names on it are fine (they were asked for once, and still resolve). */
  expectedSans?: Partial<SubjectAltNames>;
  /** PEM of the CA the certificate must chain to. For a CA itself, pass the CA (it is self-signed). */
  ca: string;
  /** When given, a certificate whose subject CN differs (a renamed host) is replaced. */
  commonName?: string;
  /** When given, a key of another type or size (the inventory's keyType changed) is replaced. */
  keyType?: KeyType;
  now?: Date;
}

export interface RenewalVerdict {
  renew: boolean;
  /** Why, for the activity's log and the dry-run plan; empty when the certificate can stay. */
  reasons: string[];
}

export function needsRenewal(certPem: string, check: RenewalCheck): RenewalVerdict {
  let info: ReturnType<typeof parseCertificate>;
  try {
    info = parseCertificate(certPem);
  } catch (err) {
    return { renew: true, reasons: [`unreadable certificate: ${(err as Error).message}`] };
  }
  const now = check.now ?? new Date();
  const reasons: string[] = [];

  if (info.notBefore > now) reasons.push(`not valid before ${info.notBefore.toISOString()}`);
  const daysLeft = (info.notAfter.getTime() - now.getTime()) / DAY_MS;
  if (daysLeft <= 0) reasons.push(`expired on ${info.notAfter.toISOString()}`);
  else if (daysLeft < check.minDaysLeft) {
    reasons.push(`expires in ${daysLeft.toFixed(1)} days (renewing below ${check.minDaysLeft})`);
  }

  let chains = false;
  try {
    chains = isIssuedBy(certPem, check.ca);
  } catch {
    // an unreadable CA cannot vouch for anything
  }
  if (!chains) reasons.push(`not issued by the expected CA${info.issuerCommonName ? ` (issuer: ${info.issuerCommonName})` : ''}`);

  const missing = missingSans(info.sans, {
    dnsNames: check.expectedSans?.dnsNames ?? [],
    ipAddresses: check.expectedSans?.ipAddresses ?? [],
  });
  if (missing.length > 0) reasons.push(`missing SANs: ${missing.join(', ')}`);

  if (check.commonName !== undefined && info.subjectCommonName !== check.commonName) {
    reasons.push(`common name is ${info.subjectCommonName ?? '(none)'}, expected ${check.commonName}`);
  }
  if (check.keyType !== undefined) {
    const actual = keyTypeOf(new X509Certificate(certPem).publicKey);
    if (actual !== check.keyType) reasons.push(`key is ${actual ?? 'of another type'}, expected ${check.keyType}`);
  }
  return { renew: reasons.length > 0, reasons };
}
