// etcdctl run from the operator's side (the root namespace, over the lab bridge) with a client certificate from a
// directory holding ca.crt, c.crt and c.key: an independent view of an etcd cluster our workflows built.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { issueCertificate, type CertificateAndKey } from '../../src/pki/index.js';

const run = promisify(execFile);

export async function operatorEtcdctl(endpoints: string[], clientDir: string, args: string[]): Promise<string> {
  const { stdout } = await run(
    'etcdctl',
    [
      '--endpoints',
      endpoints.join(','),
      '--cacert',
      join(clientDir, 'ca.crt'),
      '--cert',
      join(clientDir, 'c.crt'),
      '--key',
      join(clientDir, 'c.key'),
      '--command-timeout',
      '2s',
      '-w',
      'json',
      ...args,
    ],
    { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 20_000 },
  );
  return stdout;
}

/**
 * Reads the etcd CA from the operator's local store and writes ca.crt plus a fresh client certificate (c.crt,
 * c.key) into `dir`: the cluster trusts it only if its members really chain to that CA. Returns the CA.
 */
export async function writeOperatorClient(storeDir: string, dir: string): Promise<CertificateAndKey> {
  const ca = {
    certPem: await readFile(join(storeDir, 'etcd-ca.crt'), 'utf8'),
    keyPem: await readFile(join(storeDir, 'etcd-ca.key'), 'utf8'),
  };
  const client = await issueCertificate({
    ca,
    commonName: 'operator-test',
    keyType: 'ecdsa-p256',
    validityDays: 1,
    usages: 'client',
  });
  await writeFile(join(dir, 'ca.crt'), ca.certPem);
  await writeFile(join(dir, 'c.crt'), client.certPem);
  await writeFile(join(dir, 'c.key'), client.keyPem, { mode: 0o600 });
  return ca;
}
