// What setupEtcdCluster asks ensureEtcdCa for: every host that holds the etcd CA certificate is checked for another
// CA before one is made; --replace-ca reaches the activity only when given.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadInventory } from '../../../src/inventory/index.js';
import { etcdCaRequest } from '../../../src/plan/etcd-ca.js';
import { planEtcdSetup } from '../../../src/plan/etcd.js';

const fixture = join(import.meta.dirname, '..', '..', 'fixtures', 'inventory', 'yaml', 'valid.yaml');

describe('etcdCaRequest', () => {
  it('names every host of the plan that gets the etcd CA certificate, and its path', async () => {
    const { inventory } = await loadInventory(fixture);
    const p = planEtcdSetup(inventory);
    const req = etcdCaRequest(p, inventory);
    expect(req.ca).toEqual(p.ca);
    expect(req.trustedBy?.certPath).toBe('/etc/kubernetes/pki/etcd/ca.crt');
    expect(req.trustedBy?.hosts.map((h) => h.target.name)).toEqual(p.pki.map((x) => x.host));
    expect(req.trustedBy?.hosts.every((h) => h.ssh === inventory.ssh)).toBe(true);
    expect(req.replaceCa).toBeUndefined();
    expect(etcdCaRequest(p, inventory, true).replaceCa).toBe(true);
  });
});
