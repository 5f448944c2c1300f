// Bench section: our processes as an operator meets them. Worker cold start (`kubeadm2ha worker` spawned until it
// polls), the worker's RSS with 30 hosts connected (after a preflight on them; its pool keeps one connection per
// host), and CLI start (`kubeadm2ha --help`, median of 5) built as a package install has it and from source.
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import type { PreflightReport } from '../../src/plan/types.js';
import { dataConverter } from '../../src/temporal/data-converter.js';
import { WORKFLOW_TASK_TIMEOUT } from '../../src/temporal/workflow-start.js';
import { median, ms, type Section } from '../table.js';

const run = promisify(execFile);
const cli = join(import.meta.dirname, '..', '..', 'bin', 'kubeadm2ha.js');

const rssMiB = (pid: number): number =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

/**
 * The CLI as a package install has it: bin/ and a tsc build in dist/ (tsconfig.build.json), node_modules linked.
 * Built beside the lab, never into this checkout: a dist/ here would shadow the sources for every later run.
 */
async function installedCopy(dir: string): Promise<string> {
  const root = join(import.meta.dirname, '..', '..');
  const to = join(dir, 'installed');
  await mkdir(join(to, 'bin'), { recursive: true });
  await run(process.execPath, [
    join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
    '-p',
    join(root, 'tsconfig.build.json'),
    '--outDir',
    join(to, 'dist'),
  ]);
  await copyFile(join(root, 'package.json'), join(to, 'package.json'));
  await copyFile(cli, join(to, 'bin', 'kubeadm2ha.js'));
  await symlink(join(root, 'node_modules'), join(to, 'node_modules'));
  return join(to, 'bin', 'kubeadm2ha.js');
}

export const processSection: Section = {
  name: 'processes',
  hosts: 30,
  explain: [
    '*Worker cold start*: `kubeadm2ha worker` spawned from this checkout (no build here: tsx) until it logs that it polls. *RSS*: that ' +
      "worker's resident memory idle, and after a preflight on 30 lab hosts (its pool keeps one connection per " +
      'host). *CLI start*: `kubeadm2ha --help`, median of 5, from a tsc build laid out as a package install and ' +
      'from source (tsx), with `node -e 0` measured at the same moment as the baseline.',
  ],
  async run(ctx) {
    const help = async (bin: string, env: NodeJS.ProcessEnv = {}): Promise<number> => {
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        await run(process.execPath, [bin, '--help'], { env: { ...process.env, ...env } });
        times.push(performance.now() - t0);
      }
      return median(times);
    };
    // What any node program pays on this machine at this load, for reading the two rows below.
    const bareNode: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await run(process.execPath, ['-e', '0']);
      bareNode.push(performance.now() - t0);
    }
    const installed = await installedCopy(ctx.lab.dir);
    const helpBuilt = await help(installed);
    const helpSource = await help(cli, { KUBEADM2HA_FROM_SOURCE: '1' });

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
          workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT,
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
        {
          metric: 'CLI start (`kubeadm2ha --help`), built',
          value: ms(helpBuilt),
          note: 'median of 5; `npm run build` output as installed (bin + dist); target <= 200 ms',
        },
        { metric: 'CLI start (`kubeadm2ha --help`), from source', value: ms(helpSource), note: 'median of 5; tsx' },
        { metric: '`node -e 0` (baseline)', value: ms(median(bareNode)), note: 'median of 5, same moment' },
      ];
    } finally {
      worker.kill('SIGTERM');
    }
  },
};
