// The promise of the product, as a user meets it: an operation started from the CLI loses its terminal and its
// worker half-way; `kubeadm2ha status` shows where it stands per host, and `kubeadm2ha resume` serves it to the
// end. Everything runs as the real bin script against the run's Temporal server and lab hosts.
import type { ChildProcess } from 'node:child_process';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PreflightReport, Progress } from '../../src/plan/types.js';
import { createLab, type Lab } from '../../lab/index.js';
import { dataConverter } from '../../src/temporal/data-converter.js';
import { progressQuery } from '../../src/workflows/messages.js';
import { cli, killed, setFrozen as freeze, started } from './cli-process.js';
import { pollUntil, temporalAddress, uniqueQueue } from './helpers.js';

const doneSteps = (p: Progress): number =>
  p.hosts.reduce((n, h) => n + h.steps.filter((s) => s.state !== 'pending' && s.state !== 'running').length, 0);
const allSteps = (p: Progress): number => p.hosts.reduce((n, h) => n + h.steps.length, 0);

let lab: Lab;
const setFrozen = (index: number, frozen: boolean) => freeze(lab, index, frozen);
let inventory: string;

beforeAll(async () => {
  lab = await createLab({ hosts: 4 });
  inventory = await lab.writeInventory();
});

afterAll(async () => {
  if (lab) await setFrozen(4, false).catch(() => undefined);
  await lab?.destroy();
});

describe('CLI status and resume', () => {
  it('an operation that lost its terminal and worker mid-run is shown by status and finished by resume', async () => {
    const address = temporalAddress();
    const taskQueue = uniqueQueue('resume');
    const common = ['--address', address, '--task-queue', taskQueue];
    const workflowId = `${lab.inventory().cluster.name}/preflight`;
    const connection = await Connection.connect({ address });
    const client = new Client({ connection, dataConverter: dataConverter() });
    const children: ChildProcess[] = [];
    try {
      // The terminal: starts the workflow and waits for an external worker.
      children.push(started(['preflight', '-i', inventory, '--worker', 'external', ...common]));
      const handle = client.workflow.getHandle(workflowId);
      await pollUntil(
        async () => (await handle.describe()).status.name === 'RUNNING',
        'the workflow to start',
        120_000,
        200,
      );
      // A worker runs it; h4's sshd hangs (frozen: TCP is accepted, no banner ever comes), so h4 is stuck in its
      // first check, retrying, while the other hosts finish. Then the worker and the terminal die together.
      await setFrozen(4, true);
      const worker = started(['worker', '-i', inventory, '--address', address, '--task-queue', taskQueue]);
      children.push(worker);
      const before = await pollUntil(
        async () => {
          const p = await handle.query(progressQuery);
          const others = p.hosts.filter((h) => h.name !== 'h4');
          return others.every((h) => h.steps.every((st) => st.state !== 'pending' && st.state !== 'running'))
            ? p
            : undefined;
        },
        'the other hosts to finish',
        120_000,
        50,
      );
      await Promise.all(children.map(killed));
      await setFrozen(4, false);
      const h4 = before.hosts.find((h) => h.name === 'h4')!;
      expect(h4.steps.filter((st) => st.state === 'done').length).toBe(0);
      expect(doneSteps(before)).toBeLessThan(allSteps(before));

      const status = await cli(['status', '--cluster', lab.inventory().cluster.name, '--json', ...common]);
      expect(status.code, status.stderr).toBe(0);
      const runs = JSON.parse(status.stdout) as {
        workflowId: string;
        status: string;
        note?: string;
        link?: string;
      }[];
      const run = runs.find((r) => r.workflowId === workflowId);
      expect(run?.status).toBe('RUNNING');
      expect(run?.link).toContain(encodeURIComponent(workflowId));
      // No worker is left to answer a progress query: status says so and how to go on, instead of hanging.
      expect(run?.note).toMatch(/no worker is serving it .*kubeadm2ha resume/);

      const resumed = await cli([
        'resume',
        '-i',
        inventory,
        '--operation',
        'preflight',
        '--worker',
        'embedded',
        '--json',
        ...common,
      ]);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.stderr).toContain('Web UI: ');
      const report = JSON.parse(resumed.stdout) as PreflightReport;
      expect(report.ok).toBe(true);
      expect(new Set(report.results.map((r) => r.host)).size).toBe(4);
      expect((await handle.describe()).status.name).toBe('COMPLETED');

      // Nothing left to resume: a clear refusal, not a hang.
      const again = await cli(['resume', '-i', inventory, '--operation', 'preflight', ...common]);
      expect(again.code).toBe(2);
      expect(again.stderr).toMatch(/not running \(COMPLETED\)/);
    } finally {
      await Promise.all(children.map(killed));
      await connection.close();
    }
  });
});
