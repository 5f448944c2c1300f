// The cluster PKI: pure functions over PEM strings (no files, no SSH; src/activities/pki.ts does the I/O).
export { createCa, type CertificateAndKey, type CreateCaOptions } from './ca.js';
export { issueCertificate, extendedUsagesOf, type CertificateUsage, type IssueCertificateOptions } from './issue.js';
export { createServiceAccountKeyPair, type ServiceAccountKeyPairOptions } from './service-account.js';
export { parseCertificate, keyMatchesCertificate, isIssuedBy, type CertificateInfo } from './inspect.js';
export { needsRenewal, type RenewalCheck, type RenewalVerdict } from './renewal.js';
export { generateKeyPairPem, keyTypeOf, keyTypes, type KeyPairPem, type KeyType } from './keys.js';
export { canonicalIp, type SubjectAltNames } from './san.js';
export * from './layout.js';
