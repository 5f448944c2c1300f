// A failed run as a person meets it: `etcd setup` against an etcd host that does not answer (an unused address in
// a real lab's subnet) used to exit 70 with "this is a bug" and an object dump. Now the CLI unwraps workflow →
// activity → application failure and prints `host: step: message`, exiting with the failure's code; the whole
// chain only under --verbose. The real bin script, an embedded worker, the run's Temporal server.
//
// The first step to meet the dead host is always the cluster-wide CA check, and it says the host is unreachable,
// whether or not the worker's store already holds the cluster's CA (it used to let an unread host through when it
// did, and then the install step met the host instead).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, type Lab } from '../../lab/index.js';
import { writeLabInventory } from '../../lab/inventory.js';
import { LocalPkiStore, pkiStoreDir } from '../../src/activities/pki-store.js';
import { loadInventory } from '../../src/inventory/index.js';
import { planEtcdPki } from '../../src/plan/pki.js';
import { setEnv } from '../support/env.js';
import { cli } from './cli-process.js';
import { temporalAddress, uniqueQueue } from './helpers.js';

let lab: Lab;
let inventory: string;
let state: string;

beforeAll(async () => {
  state = await mkdtemp(join(tmpdir(), 'k2h-cli-failure-'));
  lab = await createLab({ hosts: 1 });
  const inv = lab.inventory();
  const gone = lab.bridgeAddress.replace(/\.\d+$/, '.250'); // in the lab's /24, no host behind it
  inventory = await writeLabInventory(join(lab.dir, 'gone.yaml'), {
    ...inv,
    ssh: { ...inv.ssh, connectTimeoutSeconds: 2 },
    hosts: [{ name: 'gone', address: gone, roles: ['primary-master', 'etcd'] }],
  });
});

afterAll(async () => {
  await lab?.destroy();
  if (state) await rm(state, { recursive: true, force: true });
});

describe('a failed run on the command line', () => {
  it('prints host: step: message and exits with the failure code, never "bug"; --verbose adds the chain', async () => {
    const args = ['etcd', 'setup', '-i', inventory, '--on-failure', 'abort', '--worker', 'embedded'];
    const common = ['--address', temporalAddress(), '--task-queue', uniqueQueue('fail')];
    // The embedded worker's CA store: empty for the first run.
    const env = { KUBEADM2HA_STATE_DIR: state };
    const deadHost = /^ {2}cluster: ensureEtcdCa: gone: unreachable: cannot tell which CA it trusts \(/m;
    const r = await cli([...args, ...common], 170_000, env);
    expect(r.stderr).not.toMatch(/bug/);
    expect(r.stderr).toMatch(/^kubeadm2ha: etcd setup failed$/m);
    expect(r.stderr).toMatch(deadHost);
    expect(r.code, r.stderr).toBe(3); // HostUnreachable

    // Now the store holds the cluster's CA: the unread host still stops the run at the CA check, the same way.
    const { inventory: inv } = await loadInventory(inventory);
    const restore = setEnv(env);
    try {
      await new LocalPkiStore(pkiStoreDir(inv.cluster.name)).ensureCa(planEtcdPki(inv).ca);
    } finally {
      restore();
    }
    const v = await cli(
      [...args, ...common.slice(0, 2), '--task-queue', uniqueQueue('fail'), '--verbose'],
      170_000,
      env,
    );
    expect(v.code, v.stderr).toBe(3);
    expect(v.stderr).toMatch(deadHost);
    expect(v.stderr).toMatch(/WorkflowExecutionFailedError|ApplicationFailure/);
    expect(v.stderr).not.toMatch(/bug/);
  });
});
