// Bench section: a host-parallel phase (preflight) at 3 hosts and at 30 on one long-running worker (connections
// up, as in production): how much a 10x wider fan-out costs. Target: 30 hosts within 1.5x of 3.
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { sshTrustOf } from '../../src/activities/ssh-trust.js';
import type { Inventory } from '../../src/inventory/schema.js';
import type { PreflightReport } from '../../src/plan/types.js';
import { dataConverter } from '../../src/temporal/data-converter.js';
import { createKubeadmHaWorker } from '../../src/worker.js';
import { median, ms, ratio, type Section } from '../table.js';
import { floor } from './ansible.js';
import { SshPool } from '../../src/ssh/index.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

export const fanoutSection: Section = {
  name: 'fan-out',
  hosts: 30,
  async run(ctx) {
    const [small, big] = [await ctx.inventory(3), await ctx.inventory(30)];
    const connection = await Connection.connect({ address: ctx.devAddress });
    const client = new Client({ connection, dataConverter: dataConverter() });
    const native = await NativeConnection.connect({ address: ctx.devAddress });
    const taskQueue = `bench-fanout-${process.pid}`;
    const w = await createKubeadmHaWorker({ connection: native, taskQueue, sshTrust: sshTrustOf(big) });
    let n = 0;
    const preflight = async (inv: Inventory): Promise<number> => {
      const t0 = performance.now();
      const r = (await client.workflow.execute('preflightCluster', {
        taskQueue,
        workflowId: `bench/${taskQueue}/${n++}`,
        args: [{ inventory: inv }],
      })) as PreflightReport;
      if (!r.ok) throw new Error(`fan-out preflight failed: ${JSON.stringify(r.summary)}`);
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
              `  round ${i + 1}: 3 hosts ${ms(t3[i]!)}, 30 hosts ${ms(t30[i]!)}; ssh2 floor ${ms(f3[i]!)}, ${ms(f30[i]!)}`,
            );
          }
        })(),
      );
    } finally {
      await pool.closeAll();
      await native.close();
      await connection.close();
    }
    return [
      { metric: 'preflight at 3 hosts (warm worker)', value: ms(median(t3)) },
      { metric: 'preflight at 30 hosts (warm worker)', value: ms(median(t30)) },
      { metric: 'fan-out 30 vs 3 hosts', value: ratio(median(t30) / median(t3)), note: 'target <= 1.5x' },
      {
        metric: 'fan-out 30 vs 3 hosts, ssh2-only floor',
        value: ratio(median(f30) / median(f3)),
        note: `same probes, no Temporal: ${ms(median(f3))} / ${ms(median(f30))}; the 30 lab hosts share this machine's cores`,
      },
    ];
  },
};
