// Filling an addon's data-less Secret on the worker (src/activities/addon-secrets.ts): a real CA in a scratch PKI
// store, kubectl a stand-in that answers what the cluster holds. The first apply issues a client certificate of the
// etcd CA; a later one keeps what the cluster has while it is still good (so a second apply writes the same Secret),
// and replaces it once it chains to another CA or runs short.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { fillAddonSecrets } from '../../../src/activities/addon-secrets.js';
import { LocalPkiStore } from '../../../src/activities/pki-store.js';
import { Inventory } from '../../../src/inventory/schema.js';
import { isIssuedBy, keyMatchesCertificate, parseCertificate } from '../../../src/pki/inspect.js';
import { planEtcdPki } from '../../../src/plan/pki.js';
import { renderManifest } from '../../../src/templates/addons/index.js';
import { monitoring } from '../../../src/templates/addons/monitoring.js';

const scratch = mkdtempSync(join(tmpdir(), 'k2h-addon-secrets-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const inv = Inventory.parse({
  cluster: { name: 'lab', kubernetesVersion: '1.34.12', vip: { address: '10.200.1.100' } },
  hosts: [{ name: 'h1', address: '10.200.1.11', roles: ['primary-master', 'etcd'] }],
});
const via = { target: { name: 'h1', address: '10.200.1.11' }, ssh: inv.ssh } as never;
const manifest = renderManifest(
  monitoring.render({ imageRepository: 'registry.k8s.io', masters: 1, etcdAddresses: ['10.200.1.11'] }),
);
const secretOf = (text: string) =>
  parseAllDocuments(text)
    .map((d) => d.toJS() as { kind: string; data?: Record<string, string> })
    .find((o) => o.kind === 'Secret')!;
const pem = (b64: string | undefined) => Buffer.from(b64 ?? '', 'base64').toString();

/** kubectl stand-in: `get secret … -o jsonpath={.data}` answers with what the "cluster" has. */
function fakeKubectl(inCluster: () => Record<string, string> | undefined) {
  const calls: string[][] = [];
  return {
    calls,
    kubectl: (i: { args: string[] }) => {
      calls.push(i.args);
      const d = inCluster();
      return Promise.resolve(d ? JSON.stringify(d) : '');
    },
  };
}

describe('addon secrets filled on the worker (kubectl is a stand-in)', () => {
  it('no annotated Secret: the manifest comes back as it was, and kubectl is not asked', async () => {
    const f = fakeKubectl(() => undefined);
    const plain = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: y\n';
    expect(await fillAddonSecrets(plain, { via, cluster: 'lab', kubectl: f.kubectl })).toBe(plain);
    expect(f.calls).toEqual([]);
  });

  it('issues a client certificate of the stored etcd CA once, keeps it while good, replaces it under another CA', async () => {
    const store = new LocalPkiStore(join(scratch, 'a', 'pki'));
    await expect(
      fillAddonSecrets(manifest, { via, cluster: 'lab', kubectl: fakeKubectl(() => undefined).kubectl, store }),
    ).rejects.toThrow(/etcd-ca of lab is not in this worker's PKI store/);
    const { ca } = await store.ensureCa(planEtcdPki(inv).ca);

    const held: { data?: Record<string, string> } = {};
    const f = fakeKubectl(() => held.data);
    const first = secretOf(await fillAddonSecrets(manifest, { via, cluster: 'lab', kubectl: f.kubectl, store }));
    const cert = pem(first.data?.['tls.crt']);
    expect(pem(first.data?.['ca.crt'])).toBe(ca.certPem);
    expect(isIssuedBy(cert, ca.certPem)).toBe(true);
    expect(keyMatchesCertificate(pem(first.data?.['tls.key']), cert)).toBe(true);
    expect(parseCertificate(cert).subjectCommonName).toBe('kubeadm2ha-monitoring');
    expect(f.calls[0]).toEqual([
      '-n',
      'monitoring',
      'get',
      'secret',
      'etcd-client',
      '--ignore-not-found',
      '-o',
      'jsonpath={.data}',
    ]);

    // The cluster now holds it: the next apply renders the very same data.
    held.data = first.data;
    const second = secretOf(await fillAddonSecrets(manifest, { via, cluster: 'lab', kubectl: f.kubectl, store }));
    expect(second.data).toEqual(first.data);

    // Past two thirds of its life: a new one.
    const later = new Date(Date.now() + 300 * 24 * 3600 * 1000);
    const renewed = secretOf(
      await fillAddonSecrets(manifest, { via, cluster: 'lab', kubectl: f.kubectl, store, now: later }),
    );
    expect(renewed.data?.['tls.crt']).not.toBe(first.data?.['tls.crt']);

    // A store with another CA (the cluster re-keyed): the old certificate is not kept.
    const other = new LocalPkiStore(join(scratch, 'b', 'pki'));
    const { ca: ca2 } = await other.ensureCa(planEtcdPki(inv).ca);
    const rekeyed = secretOf(
      await fillAddonSecrets(manifest, { via, cluster: 'lab', kubectl: f.kubectl, store: other }),
    );
    expect(isIssuedBy(pem(rekeyed.data?.['tls.crt']), ca2.certPem)).toBe(true);
  });
});
