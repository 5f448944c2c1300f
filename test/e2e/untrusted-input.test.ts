// Issue 9 item 1: the worker runs only what a client with its codec keyring started. A client WITHOUT the codec
// (anyone with write access to the namespace) starts each workflow with an inventory naming a lab host; the worker
// (codec on) must end every run with a non-retryable InvalidInput before any activity, and no packet may reach the
// host's sshd. The same capture sees the packets of an encrypted run, so "no packet" is not a dead capture.
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadInventory } from '../../src/inventory/index.js';
import type { Inventory } from '../../src/inventory/schema.js';
import { createLab, type Lab } from '../../lab/index.js';
import type { PreflightReport } from '../../src/plan/types.js';
import { createKubeadmHaWorker } from '../../src/worker.js';
import { sshTrustOf, type SshTrust } from '../../src/activities/ssh-trust.js';
import { WorkflowInput } from '../../src/workflows/input.js';
import { capture } from '../support/tcpdump.js';
import { connectTemporal, temporalAddress, uniqueQueue } from './helpers.js';

let lab: Lab;
let inventory: Inventory;
let temporal: Awaited<ReturnType<typeof connectTemporal>>;
let plainConnection: Connection;
let plain: Client;

beforeAll(async () => {
  lab = await createLab({ hosts: 1 });
  inventory = (await loadInventory(await lab.writeInventory())).inventory;
  temporal = await connectTemporal();
  plainConnection = await Connection.connect({ address: temporalAddress() });
  // No dataConverter: what a client without the keyring sends.
  plain = new Client({ connection: plainConnection, namespace: 'default' });
});

afterAll(async () => {
  await plainConnection?.close();
  await temporal?.close();
  await lab?.destroy();
});

const sshToHost = () => capture(`k2hbr${lab.id}`, `tcp port 22 and host ${lab.hosts[0]!.address}`);

describe('input from a client without the codec keyring', () => {
  it('every workflow ends with InvalidInput before any activity; no packet reaches the named host', async () => {
    const taskQueue = uniqueQueue('untrusted');
    const activityLog = join(lab.dir, 'untrusted-activity.jsonl');
    const packets = sshToHost();
    await packets.listening;
    const w = await createKubeadmHaWorker({
      connection: temporal.native,
      taskQueue,
      activityLogFile: activityLog,
      sshTrust: sshTrustOf(inventory),
    });
    const types = Object.keys(WorkflowInput);
    const ids = types.map((t) => `${inventory.cluster.name}/${t}/${taskQueue}`);
    const outcomes = await w.run(
      Promise.all(
        types.map(async (workflowType, i) => {
          // Every field a real input has, and what an attacker adds: its own trust settings.
          const args = [{ inventory: { ...inventory, ssh: { ...inventory.ssh, hostKeyPolicy: 'accept-new' } } }];
          const handle = await plain.workflow.start(workflowType, { taskQueue, workflowId: ids[i]!, args });
          return handle.result().then(
            () => undefined,
            (e: unknown) => e,
          );
        }),
      ),
    );
    for (const [i, err] of (outcomes ?? []).entries()) {
      // The sender cannot even read why: the failure is encrypted. The keyring holder reads it.
      expect(err, types[i]).toBeInstanceOf(Error);
      const failure: unknown = await temporal.client.workflow
        .getHandle(ids[i]!)
        .result()
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(failure, types[i]).toBeInstanceOf(WorkflowFailedError);
      const cause = (failure as WorkflowFailedError).cause;
      expect(cause).toBeInstanceOf(ApplicationFailure);
      expect((cause as ApplicationFailure).type).toBe('InvalidInput');
      expect((cause as ApplicationFailure).nonRetryable).toBe(true);
      expect(cause?.message).toContain(`${types[i]}: refused input that arrived unencrypted`);
      // One workflow task, completed with the failure: no task retry loop, no activity scheduled.
      const events = (await temporal.client.workflow.getHandle(ids[i]!).fetchHistory()).events ?? [];
      const kinds = events.map((e) => Number(e.eventType));
      // EventType 8 = WORKFLOW_TASK_TIMED_OUT, 9 = WORKFLOW_TASK_FAILED, 10 = ACTIVITY_TASK_SCHEDULED.
      expect(kinds.filter((k) => k === 8 || k === 9 || k === 10)).toEqual([]);
      expect(kinds).toContain(3); // WORKFLOW_EXECUTION_FAILED
    }
    const logged = await readFile(activityLog, 'utf8').catch(() => '');
    expect(logged).toBe('');
    expect(await packets.stop()).toBe(0);
  });

  it('the same worker runs the same input from a client with the keyring (the capture sees it)', async () => {
    const taskQueue = uniqueQueue('trusted');
    const packets = sshToHost();
    await packets.listening;
    const w = await createKubeadmHaWorker({ connection: temporal.native, taskQueue, sshTrust: sshTrustOf(inventory) });
    const report = (await w.run(
      temporal.client.workflow.execute('preflightCluster', {
        taskQueue,
        workflowId: `${inventory.cluster.name}/preflight/${taskQueue}`,
        args: [{ inventory }],
      }),
    )) as PreflightReport;
    expect(report.results.some((r) => r.host === lab.hosts[0]!.name && r.check === 'os')).toBe(true);
    expect(await packets.stop()).toBeGreaterThan(0);
  });

  it("SSH trust is the worker's: input asking for accept-new, its own known_hosts and key changes nothing", async () => {
    const inputKnownHosts = join(lab.dir, 'chosen-by-input.known_hosts');
    const workerKnownHosts = join(lab.dir, 'worker-empty.known_hosts');
    await writeFile(workerKnownHosts, '');
    const asked = {
      ...inventory,
      ssh: {
        ...inventory.ssh,
        hostKeyPolicy: 'accept-new' as const,
        knownHostsFile: inputKnownHosts,
        identityFile: '/nonexistent/key',
      },
    };
    const run = async (sshTrust: SshTrust): Promise<PreflightReport> => {
      const taskQueue = uniqueQueue('trust');
      const w = await createKubeadmHaWorker({ connection: temporal.native, taskQueue, sshTrust });
      return (await w.run(
        temporal.client.workflow.execute('preflightCluster', {
          taskQueue,
          workflowId: `${inventory.cluster.name}/preflight/${taskQueue}`,
          args: [{ inventory: asked }],
        }),
      )) as PreflightReport;
    };
    const h1 = lab.hosts[0]!.name;
    // The worker's trust (the lab's known_hosts and key) is used: the run reaches the host.
    const ok = await run(sshTrustOf(inventory));
    expect(ok.results.find((r) => r.host === h1 && r.check === 'os')?.status).toBe('pass');
    // A strict worker that does not know the host refuses it, naming its own file, whatever the input asked.
    const refused = await run({ ...sshTrustOf(inventory), knownHostsFile: workerKnownHosts });
    expect(refused.results.find((r) => r.host === h1)?.message).toContain(`is not in ${workerKnownHosts}`);
    expect(await readFile(workerKnownHosts, 'utf8')).toBe('');
    await expect(stat(inputKnownHosts)).rejects.toThrow(/ENOENT/);
  });
});
