// The service-account signing key pair (sa.key / sa.pub). It is a bare key pair, not a certificate: the
// apiserver verifies tokens with sa.pub and the controller-manager signs them with sa.key.
import { generateKeyPairPem, type KeyPairPem, type KeyType } from './keys.js';

export interface ServiceAccountKeyPairOptions {
  /** kubeadm uses the cluster's key type here too; RSA-2048 is its historical default. */
  keyType?: KeyType;
}

/** sa.key as PKCS#1/SEC1 PEM, sa.pub as "PUBLIC KEY" (SPKI) PEM, the encodings kubeadm writes. */
export async function createServiceAccountKeyPair(opts: ServiceAccountKeyPairOptions = {}): Promise<KeyPairPem> {
  return generateKeyPairPem(opts.keyType ?? 'rsa-2048');
}
