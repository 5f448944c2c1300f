// Bench section: our processes as an operator meets them. Worker cold start (`kubeadm2ha worker` spawned until it
// polls), the worker's RSS with 30 hosts connected (after a preflight on them; its pool keeps one connection per
// host), and CLI start (`kubeadm2ha --help`, median of 5).
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import type { PreflightReport } from '../../src/plan/types.js';
import { dataConverter } from '../../src/temporal/data-converter.js';
import { median, ms, type Section } from '../table.js';

const run = promisify(execFile);
const cli = join(import.meta.dirname, '..', '..', 'bin', 'kubeadm2ha.js');

const rssMiB = (pid: number): number =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

export const processSection: Section = {
  name: 'processes',
  hosts: 30,
  async run(ctx) {
    const help: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await run(process.execPath, [cli, '--help']);
      help.push(performance.now() - t0);
    }

    const inv = await ctx.inventory(30);
    // ctx.inventory(30) wrote it: the worker takes its SSH trust from it.
    const inventoryFile = join(ctx.lab.dir, 'bench-30.yaml');
    const taskQueue = `bench-worker-${process.pid}`;
    const t0 = performance.now();
    const worker = spawn(
      process.execPath,
      [cli, 'worker', '--address', ctx.devAddress, '--task-queue', taskQueue, '--inventory', inventoryFile],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      const coldStart = await new Promise<number>((resolve, reject) => {
        let out = '';
        const onData = (b: Buffer) => {
          out += b.toString();
          if (out.includes('polling task queue')) resolve(performance.now() - t0);
        };
        worker.stdout.on('data', onData);
        worker.stderr.on('data', onData);
        worker.once('exit', (code) => reject(new Error(`worker exited with ${code}: ${out}`)));
      });
      const idle = rssMiB(worker.pid!);
      const connection = await Connection.connect({ address: ctx.devAddress });
      try {
        const client = new Client({ connection, dataConverter: dataConverter() });
        const r = (await client.workflow.execute('preflightCluster', {
          taskQueue,
          workflowId: `bench/${taskQueue}`,
          args: [{ inventory: inv }],
        })) as PreflightReport;
        if (!r.ok) throw new Error('worker RSS preflight failed');
      } finally {
        await connection.close();
      }
      const busy = rssMiB(worker.pid!);
      return [
        { metric: 'worker cold start (`kubeadm2ha worker` to polling)', value: ms(coldStart) },
        { metric: 'worker RSS, idle', value: `${idle.toFixed(0)} MiB` },
        {
          metric: 'worker RSS, 30 hosts connected',
          value: `${busy.toFixed(0)} MiB`,
          note: 'after a preflight on them',
        },
        { metric: 'CLI start (`kubeadm2ha --help`)', value: ms(median(help)), note: 'median of 5; target <= 200 ms' },
      ];
    } finally {
      worker.kill('SIGTERM');
    }
  },
};
