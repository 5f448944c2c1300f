// Each operation command's run, as the Web UI lists it and heads its page: the real CLI (bin script, from source)
// starts it on the run's Temporal server with `--worker external` on a task queue nobody polls, so nothing runs and
// no host is contacted; the start's static summary must name the command the operator ran (`etcd restore`, not the
// `etcd` command group that etcd setup, snapshot and restore share) and what tells the run apart (target version,
// snapshot file, addon). Every command gets a cluster of its own: setup, upgrade and uninstall share one workflow id
// per cluster.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataConverter } from '../../src/temporal/data-converter.js';
import { temporalAddress, workflowTaskTimeoutMs } from './helpers.js';
import { startedRuns, type StartedRuns } from './started-run.js';

let dir: string;
let connection: Connection;
let client: Client;
let runs: StartedRuns;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubeadm2ha-run-summary-'));
  runs = startedRuns(dir);
  connection = await Connection.connect({ address: temporalAddress() });
  client = new Client({ connection, dataConverter: dataConverter() });
});

afterAll(async () => {
  await runs?.stop();
  for (const id of runs?.ids ?? [])
    await client.workflow
      .getHandle(id)
      .terminate('run-summary test done')
      .catch(() => {});
  await connection?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('run summary in the Web UI', () => {
  it('names the command the operator ran and what tells the run apart', { timeout: 400_000 }, async () => {
    const t0 = Date.now();
    const sha = 'ab'.repeat(32);
    const cases: [string[], (cluster: string) => string][] = [
      [['etcd', 'setup'], (c) => `etcd setup of ${c}`],
      [['etcd', 'snapshot'], (c) => `etcd snapshot of ${c}`],
      [
        ['etcd', 'restore', '--snapshot', '/var/backups/etcd-2026-12-03.db', '--sha256', sha, '--yes'],
        (c) => `etcd restore of ${c} from etcd-2026-12-03.db`,
      ],
      [['certs', 'renew', '--etcd'], (c) => `certs renew --etcd of ${c}`],
      [['upgrade', '--to', '1.34.12', '--yes'], (c) => `upgrade of ${c} to 1.34.12`],
      [['images', 'push', '--version', '1.34.12'], (c) => `images push of ${c} (1.34.12)`],
      [['addons', 'apply', 'metrics'], (c) => `addons apply metrics of ${c}`],
      [['uninstall', '--purge-packages', '--yes'], (c) => `uninstall of ${c} (purge packages)`],
    ];
    const tag = randomUUID().slice(0, 6);
    // Three at a time: each is a Node process compiling the CLI from source.
    const summaries: { want: string; got: string | undefined; details: string | undefined; taskTimeoutMs?: number }[] =
      [];
    for (let i = 0; i < cases.length; i += 3) {
      summaries.push(
        ...(await Promise.all(
          cases.slice(i, i + 3).map(async ([args, want], j) => {
            const cluster = `sum-${tag}-${i + j}`;
            const desc = await client.workflow.getHandle(await runs.start(cluster, args)).describe();
            return {
              want: want(cluster),
              got: await desc.staticSummary(),
              details: await desc.staticDetails(),
              taskTimeoutMs: workflowTaskTimeoutMs(desc),
            };
          }),
        )),
      );
    }
    for (const s of summaries) expect(s.got).toBe(s.want);
    // Every command starts its run with the project's workflow task timeout, not the server's 10 s default.
    expect(summaries.map((s) => s.taskTimeoutMs)).toEqual(cases.map(() => 30_000));
    // The details name the command too, beside the workflow type.
    expect(summaries[2]!.details).toContain('operation: **etcd restore** (restoreEtcdSnapshot)');
    process.stderr.write(`[run-summary] ${cases.length} commands started and checked in ${Date.now() - t0} ms\n`);
  });
});
