// One process of the CA-creation race (test/activities/pki-store-lock.test.ts): it plans the etcd CA of a fixture
// inventory, says "ready", waits for "go" on stdin so that every racer starts at once, runs the real ensureEtcdCa
// activity against the store directory it was given, and prints the fingerprint it got.
// Usage: tsx test/support/ensure-ca-process.ts <store dir>
import { createInterface } from 'node:readline';
import { createPkiActivities } from '../../src/activities/pki.js';
import { LocalPkiStore } from '../../src/activities/pki-store.js';
import type { ActivityDeps } from '../../src/activities/deps.js';
import { loadInventory } from '../../src/inventory/index.js';
import { planEtcdPki } from '../../src/plan/pki.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: ensure-ca-process.ts <store dir>');
const { inventory } = await loadInventory('test/fixtures/inventory/yaml/valid.yaml');
// RSA: key generation takes long enough that two racers without a lock both find the store empty.
const ca = { ...planEtcdPki(inventory).ca, keyType: 'rsa-4096' as const };
// No host is contacted: without `trustedBy` the activity only works on the store.
const pki = createPkiActivities({} as ActivityDeps, { store: () => new LocalPkiStore(dir) });
process.stdout.write('ready\n');
const rl = createInterface({ input: process.stdin });
await new Promise<void>((resolve) => rl.once('line', () => resolve()));
rl.close();
const ref = await pki.ensureEtcdCa({ cluster: inventory.cluster.name, ca });
process.stdout.write(`${JSON.stringify({ fingerprint: ref.sha256Fingerprint, created: ref.created })}\n`);
