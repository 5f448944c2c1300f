// Running the same command again, as a user does after losing a terminal: it must never wait on a worker that is
// not making progress. The server lists a worker as polling for about a minute after its last poll, so trusting
// that list made a rerun after kill -9, or a second command right after another cluster's, wait forever on a dead
// worker. Everything runs as the real bin script against the run's Temporal server and lab hosts.
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, type Lab } from '../../lab/index.js';
import { writeLabInventory } from '../../lab/inventory.js';
import type { PreflightReport } from '../../src/plan/types.js';
import { dataConverter } from '../../src/temporal/data-converter.js';
import { progressQuery } from '../../src/workflows/messages.js';
import { cli, killed, setFrozen, started, type CliResult } from './cli-process.js';
import { pollUntil, temporalAddress, uniqueQueue } from './helpers.js';

/** Well under the old hang (forever; a user gave up after 3 minutes), above a preflight of 4 lab hosts under load. */
const RERUN_DEADLINE_MS = 75_000;

let lab: Lab;
let inventory: string;
let connection: Connection;
let client: Client;
const children: ChildProcess[] = [];

beforeAll(async () => {
  lab = await createLab({ hosts: 4 });
  inventory = await lab.writeInventory();
  connection = await Connection.connect({ address: temporalAddress() });
  client = new Client({ connection, dataConverter: dataConverter() });
});

afterAll(async () => {
  await Promise.all(children.map(killed));
  if (lab) await setFrozen(lab, 4, false).catch(() => undefined);
  await connection?.close();
  await lab?.destroy();
});

function expectCompleted(r: CliResult): PreflightReport {
  expect(r.code, `${r.stderr}\n(after ${Math.round(r.ms)} ms)`).toBe(0);
  const report = JSON.parse(r.stdout) as PreflightReport;
  expect(report.ok).toBe(true);
  expect(new Set(report.results.map((x) => x.host)).size).toBe(4);
  return report;
}

describe('a rerun never waits on a worker that is not making progress', () => {
  it('the same command after kill -9 of the first embeds a worker and finishes the run', async () => {
    const common = ['--address', temporalAddress(), '--task-queue', uniqueQueue('rerun-kill')];
    const workflowId = `${lab.inventory().cluster.name}/preflight`;
    const handle = client.workflow.getHandle(workflowId);
    // h4's sshd is frozen (TCP accepted, no banner), so the first command's run is held mid-way on h4 while the
    // other hosts finish; then the command (and its embedded worker) is killed -9.
    await setFrozen(lab, 4, true);
    const first = started(['preflight', '-i', inventory, ...common]);
    children.push(first);
    await pollUntil(
      async () => {
        const p = await handle.query(progressQuery);
        const others = p.hosts.filter((h) => h.name !== 'h4');
        return others.every((h) => h.steps.every((s) => s.state !== 'pending' && s.state !== 'running'));
      },
      'the other hosts to finish under the first command',
      120_000,
      100,
    );
    await killed(first);
    await setFrozen(lab, 4, false);

    const rerun = await cli(['preflight', '-i', inventory, '--json', ...common], RERUN_DEADLINE_MS);
    console.log(`rerun after kill -9 finished in ${Math.round(rerun.ms)} ms`);
    expect(rerun.stderr).toMatch(/attached to running preflight/);
    expect(rerun.stderr).toMatch(/worker: embedded in this process/);
    expectCompleted(rerun);
  }, 300_000);

  it("a command right after another cluster's, whose embedded worker exited with its run, embeds its own", async () => {
    const common = ['--address', temporalAddress(), '--task-queue', uniqueQueue('rerun-two')];
    const a = await cli(['preflight', '-i', inventory, '--json', ...common], RERUN_DEADLINE_MS);
    expectCompleted(a);
    const other = join(lab.dir, 'other-cluster.yaml');
    const inv = lab.inventory();
    await writeLabInventory(other, { ...inv, cluster: { ...inv.cluster, name: `${inv.cluster.name}-b` } });
    const b = await cli(['preflight', '-i', other, '--json', ...common], RERUN_DEADLINE_MS);
    console.log(`second cluster's command finished in ${Math.round(b.ms)} ms`);
    expect(b.stderr).toMatch(/worker: embedded in this process/);
    expectCompleted(b);
  }, 300_000);

  it('a worker of another machine that stopped polling (still listed) is noticed within seconds', async () => {
    const taskQueue = uniqueQueue('rerun-gone');
    const common = ['--address', temporalAddress(), '--task-queue', taskQueue];
    // Stand-in for a worker on another machine that died: one real poll under a foreign identity, then the call is
    // dropped. The server lists it as a poller for about a minute; this machine cannot check its pid.
    const abort = new AbortController();
    const poll = client
      .withDeadline(Date.now() + 60_000, () =>
        client.withAbortSignal(abort.signal, () =>
          client.workflowService.pollWorkflowTaskQueue({
            namespace: 'default',
            taskQueue: { name: taskQueue, kind: 1 },
            identity: '4242@another-machine',
          }),
        ),
      )
      .catch(() => undefined);
    await pollUntil(
      async () => {
        const d = await client.workflowService.describeTaskQueue({
          namespace: 'default',
          taskQueue: { name: taskQueue, kind: 1 },
          taskQueueType: 1,
        });
        return (d.pollers ?? []).some((p) => p.identity === '4242@another-machine');
      },
      'the stand-in poller to be listed',
      30_000,
      100,
    );
    abort.abort();
    await poll;

    const r = await cli(['preflight', '-i', inventory, '--json', ...common], RERUN_DEADLINE_MS);
    console.log(`command with a gone remote worker finished in ${Math.round(r.ms)} ms`);
    expect(r.stderr).toMatch(/worker: 1 worker\(s\) polling/);
    expect(r.stderr).toMatch(
      /worker: embedded in this process: no polling worker picked up work \(a workflow task has waited [5-9] s\)/,
    );
    expectCompleted(r);
  }, 300_000);
});
