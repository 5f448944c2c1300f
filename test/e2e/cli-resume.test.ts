// The promise of the product, as a user meets it: an operation started from the CLI loses its terminal and its
// worker half-way; `kubeadm2ha status` shows where it stands per host, and `kubeadm2ha resume` serves it to the
// end. Everything runs as the real bin script against the run's Temporal server and lab hosts.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PreflightReport, Progress } from '../../src/plan/types.js';
import { createLab, type Lab } from '../../src/lab/index.js';
import { dataConverter } from '../../src/temporal/data-converter.js';
import { progressQuery } from '../../src/workflows/messages.js';
import { pollUntil, temporalAddress, uniqueQueue } from './helpers.js';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'bin', 'kubeadm2ha.js');
const env = { ...process.env, KUBEADM2HA_FROM_SOURCE: '1', KUBEADM2HA_LOG_LEVEL: 'WARN' };

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: root, env, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const started = (args: string[]): ChildProcess =>
  spawn(process.execPath, [bin, ...args], { cwd: root, env, stdio: 'ignore' });

function killed(p: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve();
    p.once('exit', () => resolve());
    p.kill('SIGKILL');
  });
}

const doneSteps = (p: Progress): number =>
  p.hosts.reduce((n, h) => n + h.steps.filter((s) => s.state !== 'pending' && s.state !== 'running').length, 0);
const allSteps = (p: Progress): number => p.hosts.reduce((n, h) => n + h.steps.length, 0);

let lab: Lab;
let inventory: string;

beforeAll(async () => {
  lab = await createLab({ hosts: 4 });
  inventory = await lab.writeInventory();
});

afterAll(async () => {
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
      // One slow worker makes some progress, then it and the terminal die together.
      const worker = started([
        'worker',
        '--address',
        address,
        '--task-queue',
        taskQueue,
        '--max-concurrent-activities',
        '1',
      ]);
      children.push(worker);
      const before = await pollUntil(
        async () => {
          const p = await handle.query(progressQuery);
          return doneSteps(p) >= 3 ? p : undefined;
        },
        'a few checks to finish',
        120_000,
        20,
      );
      await Promise.all(children.map(killed));
      expect(doneSteps(before)).toBeLessThan(allSteps(before));

      const status = await cli(['status', '--cluster', lab.inventory().cluster.name, '--json', ...common]);
      expect(status.code, status.stderr).toBe(0);
      const runs = JSON.parse(status.stdout) as {
        workflowId: string;
        status: string;
        progress?: Progress;
        link?: string;
      }[];
      const run = runs.find((r) => r.workflowId === workflowId);
      expect(run?.status).toBe('RUNNING');
      expect(run?.link).toContain(encodeURIComponent(workflowId));
      expect(doneSteps(run!.progress!)).toBeGreaterThanOrEqual(3);

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
