// One cluster-changing operation per cluster (src/workflows/ids.ts): setup, upgrade and uninstall share one workflow
// id, so while a setup runs an uninstall is refused, naming the running setup (workflow id, run, operation), and even
// --restart does not terminate it; other operations (preflight) still start beside it; once the setup has ended the
// uninstall may start. The real bin script against the run's real Temporal dev server; nobody serves the runs
// (--worker external, no worker on the queue), so no host is ever contacted.
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { dataConverter } from '../../src/temporal/data-converter.js';
import { workflowIdFor } from '../../src/workflows/ids.js';
import { cli, killed, started } from './cli-process.js';
import { pollUntil, temporalAddress, uniqueQueue } from './helpers.js';

let scratch: string;
let inventory: string;
let cluster: string;
let connection: Connection;
let client: Client;
const children: ChildProcess[] = [];

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'k2h-one-op-'));
  // A cluster name of its own: other test files share this dev server.
  cluster = `one-op-${randomUUID().slice(0, 8)}`;
  const inv = parse(
    await readFile(join(import.meta.dirname, '..', 'fixtures', 'inventory', 'yaml', 'valid.yaml'), 'utf8'),
  ) as { cluster: { name: string } };
  inv.cluster.name = cluster;
  inventory = join(scratch, 'inventory.yaml');
  await writeFile(inventory, stringify(inv));
  connection = await Connection.connect({ address: temporalAddress() });
  client = new Client({ connection, dataConverter: dataConverter() });
});

afterAll(async () => {
  await Promise.all(children.map(killed));
  await connection?.close();
  await rm(scratch, { recursive: true, force: true });
});

describe('one cluster-changing operation per cluster', () => {
  it('an uninstall while a setup runs is refused naming the setup; a preflight still starts; after the setup, the uninstall may', async () => {
    const common = ['--address', temporalAddress(), '--task-queue', uniqueQueue('one-op'), '--worker', 'external'];
    const id = workflowIdFor(cluster, 'setup');
    expect(workflowIdFor(cluster, 'uninstall')).toBe(id);
    expect(workflowIdFor(cluster, 'upgrade')).toBe(id);

    const setup = started(['setup', '-i', inventory, ...common]);
    children.push(setup);
    const { runId } = await pollUntil(
      async () => {
        const d = await client.workflow.getHandle(id).describe();
        return d.status.name === 'RUNNING' ? d : undefined;
      },
      'the setup to start',
      90_000,
      200,
    );
    await killed(setup); // the run stays RUNNING: nobody serves it

    const refused = await cli(['uninstall', '-i', inventory, '--yes', ...common], 60_000);
    expect(refused.code, refused.stderr).toBe(4);
    expect(refused.stderr).toContain(`cluster ${cluster}: setup is running (workflow ${id}, run ${runId}`);
    expect(refused.stderr).toContain('uninstall cannot start until it has ended');
    expect(refused.stderr).toContain(`kubeadm2ha resume --workflow-id ${id}`);
    expect(refused.stderr).not.toMatch(/bug/i);

    // --restart is for a run of the same operation: it does not terminate the setup.
    const restart = await cli(['uninstall', '-i', inventory, '--yes', '--restart', ...common], 60_000);
    expect(restart.code, restart.stderr).toBe(4);
    const still = await client.workflow.getHandle(id).describe();
    expect([still.runId, still.status.name, still.type]).toEqual([runId, 'RUNNING', 'setupCluster']);

    // An operation that does not change the cluster has its own id and starts beside it.
    const queue = uniqueQueue('one-op-idle');
    const preflight = await client.workflow.start('preflightCluster', {
      workflowId: workflowIdFor(cluster, 'preflight'),
      taskQueue: queue,
      args: [{}],
    });
    await preflight.terminate('test: started beside the setup');

    // Once the setup has ended, the shared id is free for the uninstall.
    await client.workflow.getHandle(id, runId).terminate('test: the setup is over');
    const uninstall = await client.workflow.start('uninstallCluster', { workflowId: id, taskQueue: queue, args: [{}] });
    expect((await uninstall.describe()).status.name).toBe('RUNNING');
    await uninstall.terminate('test: done');
  }, 240_000);
});
