// Bench section: what Temporal adds per activity, on the dev server (SQLite) and on the production topology
// (stock server on PostgreSQL, test/support/postgres-temporal.ts): a runbook of 100 steps that do nothing (fake
// activities, named so) run one after another; wall time / steps. Also the PostgreSQL topology's start-up, and the same
// steps on a dev server with Temporal's stock settings for the two keys we change (src/temporal/server-tuning.ts).
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Worker } from '@temporalio/worker';
import type { SshSettings } from '../../src/inventory/schema.js';
import type { ActivityName, Runbook, Step } from '../../src/plan/runbook.js';
import { dataConverter, failureConverterPath } from '../../src/temporal/data-converter.js';
import { startDevServer, stopDevServer } from '../../src/temporal/dev-server.js';
import { LATENCY_DYNAMIC_CONFIG } from '../../src/temporal/server-tuning.js';
import { startPostgresTemporal } from '../../test/support/postgres-temporal.js';
import { ms, type Row, type Section } from '../table.js';

const STEPS = 100;

const noop: Step = { id: 'fakeStep' as ActivityName, title: 'fake no-op step', class: 'quick', args: { name: 'noop' } };
const runbook: Runbook = {
  operation: 'bench',
  title: 'bench',
  cluster: 'bench',
  kubernetesVersion: '1.34.1',
  ssh: { maxConcurrency: 1 } as SshSettings,
  onFailure: 'abort',
  phases: [{ id: 'noop', title: 'noop', kind: 'once', steps: Array.from({ length: STEPS }, () => noop) }],
};

async function perActivity(address: string): Promise<number> {
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: join(import.meta.dirname, '..', '..', 'test', 'workflows', 'fixtures', 'runbook-workflow.ts'),
    failureConverterPath: failureConverterPath(),
    logger: new DefaultLogger('WARN'),
  });
  const connection = await Connection.connect({ address });
  const native = await NativeConnection.connect({ address });
  const client = new Client({ connection, dataConverter: dataConverter() });
  const taskQueue = `bench-overhead-${process.pid}-${Date.now()}`;
  const worker = await Worker.create({
    connection: native,
    taskQueue,
    workflowBundle,
    dataConverter: dataConverter({ role: 'worker' }),
    // Fake: returns at once, so the wall time is Temporal's (schedule, dispatch, record, next workflow task).
    activities: { fakeStep: () => Promise.resolve({}) },
  });
  try {
    return await worker.runUntil(async () => {
      const t0 = performance.now();
      await client.workflow.execute('runTestRunbook', { taskQueue, workflowId: taskQueue, args: [runbook] });
      return (performance.now() - t0) / STEPS;
    });
  } finally {
    await native.close();
    await connection.close();
  }
}

export const overheadSection: Section = {
  name: 'Temporal overhead',
  hosts: 0,
  explain: [
    `A runbook of ${STEPS} stand-in steps (fake activities that return at once) run one after another by the real ` +
      'executor: wall time / steps is what Temporal adds to each step (schedule, dispatch, record, the next ' +
      "workflow task), on the run's dev server (SQLite) and on a stock server on PostgreSQL started for this " +
      'section (test/support/postgres-temporal.ts; its start-up is the topology row). Both servers have our ' +
      "dynamic config (src/temporal/server-tuning.ts); the third row is the dev server with Temporal's stock values " +
      'for those keys (the transfer queue reader polls 20 times a second per history shard, so an activity task and ' +
      'the workflow task after it each waited up to 50 ms; no eager activities).',
  ],
  async run(ctx) {
    const dev = await perActivity(ctx.devAddress);
    // Temporal's own defaults for the keys we set: later --dynamic-config-value flags win.
    const stock = {
      port: 'free' as const,
      headless: true,
      dbFile: join(ctx.lab.dir, 'bench-temporal-stock.db'),
      logLevel: 'error' as const,
      extraArgs: [
        '--dynamic-config-value',
        'history.transferProcessorMaxPollRPS=20',
        '--dynamic-config-value',
        'system.enableActivityEagerExecution=false',
      ],
    };
    const stockInfo = await startDevServer(stock);
    let onStock: number;
    try {
      onStock = await perActivity(stockInfo.address);
    } finally {
      await stopDevServer({ ...stock, port: stockInfo.port });
    }
    const t0 = performance.now();
    const pg = await startPostgresTemporal();
    const up = performance.now() - t0;
    try {
      const onPg = await perActivity(pg.address);
      const rows: Row[] = [
        { metric: 'Temporal per activity, dev server (SQLite)', value: ms(dev), note: `${STEPS} no-op steps in a row` },
        {
          metric: "Temporal per activity, dev server with Temporal's stock settings",
          value: ms(onStock),
          note: `${LATENCY_DYNAMIC_CONFIG.map(([k]) => k).join(' and ')} at their defaults (20, false)`,
        },
        {
          metric: 'Temporal per activity, server on PostgreSQL',
          value: ms(onPg),
          note: 'stock server 1.29.1 with our dynamic config, PostgreSQL 15',
        },
        {
          metric: 'PostgreSQL topology start',
          value: ms(up),
          note: `initdb+start ${ms(pg.timings.postgresMs)}, schema ${ms(pg.timings.schemaMs)}, server ${ms(pg.timings.temporalMs)}`,
        },
      ];
      return rows;
    } finally {
      await pg.stop();
    }
  },
};
