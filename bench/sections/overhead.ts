// Bench section: what Temporal adds per activity, on the dev server (SQLite) and on the production topology
// (stock server on PostgreSQL, test/support/postgres-temporal.ts): a runbook of 100 steps that do nothing (fake
// activities, named so) run one after another; wall time / steps. Also the PostgreSQL topology's start-up.
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Worker } from '@temporalio/worker';
import type { SshSettings } from '../../src/inventory/schema.js';
import type { ActivityName, Runbook, Step } from '../../src/plan/runbook.js';
import { dataConverter, failureConverterPath } from '../../src/temporal/data-converter.js';
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
      'section (test/support/postgres-temporal.ts; its start-up is the topology row).',
  ],
  async run(ctx) {
    const dev = await perActivity(ctx.devAddress);
    const t0 = performance.now();
    const pg = await startPostgresTemporal();
    const up = performance.now() - t0;
    try {
      const onPg = await perActivity(pg.address);
      const rows: Row[] = [
        { metric: 'Temporal per activity, dev server (SQLite)', value: ms(dev), note: `${STEPS} no-op steps in a row` },
        {
          metric: 'Temporal per activity, server on PostgreSQL',
          value: ms(onPg),
          note: 'stock server 1.29.1, PostgreSQL 15',
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
