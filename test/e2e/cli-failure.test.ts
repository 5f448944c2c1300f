// A failed run as a person meets it: `etcd setup` against an etcd host that does not answer (an unused address in
// a real lab's subnet) used to exit 70 with "this is a bug" and an object dump. Now the CLI unwraps workflow →
// activity → application failure and prints `host: step: message`, exiting with the failure's code; the whole
// chain only under --verbose. The real bin script, an embedded worker, the run's Temporal server.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, type Lab } from '../../lab/index.js';
import { writeLabInventory } from '../../lab/inventory.js';
import { cli } from './cli-process.js';
import { temporalAddress, uniqueQueue } from './helpers.js';

let lab: Lab;
let inventory: string;

beforeAll(async () => {
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
});

describe('a failed run on the command line', () => {
  it('prints host: step: message and exits with the failure code, never "bug"; --verbose adds the chain', async () => {
    const args = ['etcd', 'setup', '-i', inventory, '--on-failure', 'abort', '--worker', 'embedded'];
    const common = ['--address', temporalAddress(), '--task-queue', uniqueQueue('fail')];
    const r = await cli([...args, ...common], 170_000);
    expect(r.stderr).not.toMatch(/bug/);
    expect(r.stderr).toMatch(/^kubeadm2ha: etcd setup failed$/m);
    // Which step meets the dead host first depends on the CA check (a cluster-wide step that reads which CA every
    // host trusts): both name the step and the unreachable host. TODO(#9): find why the CA check passes in some runs.
    expect(r.stderr).toMatch(/^ {2}(cluster: ensureEtcdCa: gone|gone: ensureEtcdInstalled): unreachable: /m);
    expect(r.code, r.stderr).toBe(3); // HostUnreachable
    const v = await cli([...args, ...common.slice(0, 2), '--task-queue', uniqueQueue('fail'), '--verbose'], 170_000);
    expect(v.code).toBe(3);
    expect(v.stderr).toMatch(/WorkflowExecutionFailedError|ApplicationFailure/);
    expect(v.stderr).not.toMatch(/bug/);
  });
});
