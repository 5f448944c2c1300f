// Bench section: a host-parallel phase (preflight) at 3 hosts and at 30 on one long-running worker (connections
// up, as in production): how much a 10x wider fan-out costs. Target: 30 hosts within 1.5x of 3.
import { loadavg } from 'node:os';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { sshTrustOf } from '../../src/activities/ssh-trust.js';
import type { Inventory } from '../../src/inventory/schema.js';
import type { PreflightReport } from '../../src/plan/types.js';
import { dataConverter } from '../../src/temporal/data-converter.js';
import { createKubeadmHaWorker } from '../../src/worker.js';
import { WORKFLOW_TASK_TIMEOUT } from '../../src/temporal/workflow-start.js';
import { withCpu } from '../cpu.js';
import { median, ms, ratio, type Section } from '../table.js';
import { floor } from './ansible.js';
import { SshPool } from '../../src/ssh/index.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

export const fanoutSection: Section = {
  name: 'fan-out',
  hosts: 30,
  explain: [
    'One long-running worker (connections stay up between runs, as in production) runs `preflightCluster` on the ' +
      'first 3 lab hosts and on 30, alternately; the floor runs the same probes over ssh2 on the same warm ' +
      "connections without Temporal. Every lab host is a namespace on this machine: the 30 hosts' sshd and " +
      'probe shells, the worker and the Temporal server share its 2 cores, so at 30 hosts the run is CPU-bound ' +
      "and the ratio measures those cores as much as orchestration: the floor's own ratio is the bound. " +
      '*ours / floor* is what orchestration multiplies the bare SSH work by at each width (flat = orchestration ' +
      'scales like the work itself). *CPU* is the bench process (worker) plus the dev server per run.',
  ],
  async run(ctx) {
    const [small, big] = [await ctx.inventory(3), await ctx.inventory(30)];
    const connection = await Connection.connect({ address: ctx.devAddress });
    const client = new Client({ connection, dataConverter: dataConverter() });
    const native = await NativeConnection.connect({ address: ctx.devAddress });
    const taskQueue = `bench-fanout-${process.pid}`;
    const w = await createKubeadmHaWorker({ connection: native, taskQueue, sshTrust: sshTrustOf(big) });
    let n = 0;
    const cpu = { 3: [] as number[], 30: [] as number[] };
    const preflight = async (inv: Inventory): Promise<number> => {
      const t0 = performance.now();
      const r = await withCpu(ctx.devPid, () =>
        client.workflow.execute('preflightCluster', {
          taskQueue,
          workflowId: `bench/${taskQueue}/${n++}`,
          args: [{ inventory: inv }],
          workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT,
        }),
      );
      const report = r.value as PreflightReport;
      if (!report.ok) throw new Error(`fan-out preflight failed: ${JSON.stringify(report.summary)}`);
      cpu[inv.hosts.length === 3 ? 3 : 30].push(r.self + r.server);
      return performance.now() - t0;
    };
    const t3: number[] = [];
    const t30: number[] = [];
    // The same probes with no Temporal, on connections kept open like the worker's: how much of the fan-out cost is
    // the hosts' own work on this machine's cores (every lab host shares them).
    const pool = new SshPool(big.ssh);
    const f3: number[] = [];
    const f30: number[] = [];
    try {
      await w.run(
        (async () => {
          await preflight(big); // connections up
          await floor(big, pool);
          for (let i = 0; i < ROUNDS; i++) {
            t3.push(await preflight(small));
            t30.push(await preflight(big));
            f3.push(await floor(small, pool));
            f30.push(await floor(big, pool));
            ctx.log(
              `  round ${i + 1} (load ${loadavg()[0]!.toFixed(1)}): 3 hosts ${ms(t3[i]!)}, 30 hosts ${ms(t30[i]!)}; ` +
                `ssh2 floor ${ms(f3[i]!)}, ${ms(f30[i]!)}`,
            );
          }
        })(),
      );
    } finally {
      await pool.closeAll();
      await native.close();
      await connection.close();
    }
    const [o3, o30, l3, l30] = [median(t3), median(t30), median(f3), median(f30)];
    return [
      { metric: 'preflight at 3 hosts (warm worker)', value: ms(o3), note: 'one long-running worker, connections up' },
      { metric: 'preflight at 30 hosts (warm worker)', value: ms(o30) },
      { metric: 'fan-out 30 vs 3 hosts', value: ratio(o30 / o3), note: 'target <= 1.5x' },
      {
        metric: 'fan-out 30 vs 3 hosts, ssh2-only floor',
        value: ratio(l30 / l3),
        note: `same probes, no Temporal, same warm connections: ${ms(l3)} / ${ms(l30)}; the 30 lab hosts' sshd and shells share this machine's 2 cores`,
      },
      {
        metric: 'ours / floor at 3 hosts; at 30 hosts',
        value: `${ratio(o3 / l3)}; ${ratio(o30 / l30)}`,
        note: 'what orchestration (Temporal, durability) multiplies the bare SSH work by, at each width',
      },
      {
        metric: 'CPU per preflight (worker + server) at 3; 30 hosts',
        value: `${ms(median(cpu[3]))}; ${ms(median(cpu[30]))}`,
        note: `${ratio(median(cpu[30]) / median(cpu[3]))} the CPU for 10x the hosts: on 2 cores the wide run is CPU-bound, so its wall time grows with it`,
      },
    ];
  },
};
