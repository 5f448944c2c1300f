// A rerun with an edited inventory used to attach silently to the running workflow, which went on with the old
// input. Now the CLI compares the new input with the running one (decrypted from the first history event) and
// refuses with the difference and the ways out; the same input attaches as before; --restart terminates the old
// run (with a reason) and starts anew. Everything runs as the real bin script against the run's Temporal server.
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, type Lab } from '../../lab/index.js';
import { writeLabInventory } from '../../lab/inventory.js';
import type { PreflightReport } from '../../src/plan/types.js';
import { clientIdentity } from '../../src/temporal/connection.js';
import { dataConverter } from '../../src/temporal/data-converter.js';
import { cli, killed, started } from './cli-process.js';
import { pollUntil, temporalAddress, uniqueQueue } from './helpers.js';

let lab: Lab;
let inventory: string;
let edited: string;
let connection: Connection;
let client: Client;
const children: ChildProcess[] = [];

beforeAll(async () => {
  lab = await createLab({ hosts: 2 });
  inventory = await lab.writeInventory();
  const inv = lab.inventory();
  edited = await writeLabInventory(join(lab.dir, 'edited.yaml'), { ...inv, ssh: { ...inv.ssh, maxConcurrency: 7 } });
  connection = await Connection.connect({ address: temporalAddress() });
  client = new Client({ connection, dataConverter: dataConverter() });
});

afterAll(async () => {
  await Promise.all(children.map(killed));
  await connection?.close();
  await lab?.destroy();
});

describe('attaching to a running operation', () => {
  it('refuses an edited inventory with the difference, attaches the same one, and --restart starts anew', async () => {
    const common = ['--address', temporalAddress(), '--task-queue', uniqueQueue('attach')];
    const workflowId = `${lab.inventory().cluster.name}/preflight`;
    // A run nobody serves (external worker mode, no worker): it stays RUNNING with the original input.
    const first = started(['preflight', '-i', inventory, '--worker', 'external', ...common]);
    children.push(first);
    const { runId } = await pollUntil(
      async () => {
        const d = await client.workflow.getHandle(workflowId).describe();
        return d.status.name === 'RUNNING' ? d : undefined;
      },
      'the first run to start',
      90_000,
      200,
    );
    await killed(first);

    const refused = await cli(['preflight', '-i', edited, '--worker', 'external', ...common], 60_000);
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toContain(`${workflowId} is already running (run ${runId}) with a different input:`);
    expect(refused.stderr).toContain('  inventory.ssh.maxConcurrency: 50 → 7');
    expect(refused.stderr).toMatch(/--restart/);
    expect(refused.stderr).toContain(`kubeadm2ha resume --workflow-id ${workflowId}`);
    expect(refused.stderr).not.toMatch(/hosts\[|cluster\./); // only what changed
    expect((await client.workflow.getHandle(workflowId).describe()).runId).toBe(runId);

    // The same input attaches, as before (external mode and no worker: it waits, so the deadline ends it).
    const same = await cli(['preflight', '-i', inventory, '--worker', 'external', ...common], 15_000);
    expect(same.stderr).toContain(`attached to running preflight of ${lab.inventory().cluster.name}`);

    const restarted = await cli(['preflight', '-i', edited, '--restart', '--json', ...common], 120_000);
    expect(restarted.code, restarted.stderr).toBe(0);
    expect(restarted.stderr).toContain(
      `terminated the running preflight of ${lab.inventory().cluster.name} (run ${runId})`,
    );
    expect((JSON.parse(restarted.stdout) as PreflightReport).ok).toBe(true);
    const old = await client.workflow.getHandle(workflowId, runId).describe();
    expect(old.status.name).toBe('TERMINATED');
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const reason = history.events?.at(-1)?.workflowExecutionTerminatedEventAttributes?.reason;
    expect(reason).toBe('restarted from the kubeadm2ha CLI (--restart; input changed at inventory.ssh.maxConcurrency)');
    const latest = await client.workflow.getHandle(workflowId).describe();
    expect(latest.runId).not.toBe(runId);
    expect(latest.status.name).toBe('COMPLETED');
    // The command embedded its worker before starting the new run, so the run's first workflow task came back in the
    // start's reply (eager start): history names the starter as the one that took it, not a polling worker.
    const events = (await client.workflow.getHandle(workflowId, latest.runId).fetchHistory()).events ?? [];
    const firstTask = events.find((e) => e.workflowTaskStartedEventAttributes)?.workflowTaskStartedEventAttributes;
    expect(firstTask?.identity).toBe(clientIdentity());
  }, 300_000);
});
