// setupEtcdCluster and snapshotEtcd on the executor, fast: the real workflow code on a real worker and dev server,
// with stand-in activities (fakes: the facts read finds every host unreachable, the CA step and the first snapshot
// fail on cue) and no hosts. Proves that `etcd setup --dry-run --json` prints the
// very runbook the workflow executes, and that a failed step of a real workflow parks it for a decision.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unreachableFacts, type ReadSetupFactsInput, type SetupFacts } from '../../src/activities/setup-facts.js';
import type { EtcdSnapshotResult, SaveEtcdSnapshotInput } from '../../src/activities/etcd-snapshot.js';
import { FailureType } from '../../src/errors.js';
import { loadInventory } from '../../src/inventory/index.js';
import type { SetupEtcdInput } from '../../src/plan/etcd.js';
import type { OncePhase, Runbook } from '../../src/plan/runbook.js';
import { loadWorkflowBundle } from '../../src/temporal/bundle.js';
import { dataConverter } from '../../src/temporal/data-converter.js';
import { decideUpdate, progressQuery, runbookQuery } from '../../src/workflows/messages.js';
import { connectTemporal, pollUntil, uniqueQueue } from '../e2e/helpers.js';

const run = promisify(execFile);
let temporal: Awaited<ReturnType<typeof connectTemporal>>;
let bundle: WorkflowBundleOption;
let scratch: string;
let inventoryFile: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'k2h-etcd-runbook-'));
  inventoryFile = join(scratch, 'cluster.yaml');
  // Addresses in an unused part of 10.200/16: nothing here may contact them, and nothing does.
  await writeFile(
    inventoryFile,
    [
      'cluster: { name: rbdry, kubernetesVersion: 1.32.4, vip: { address: 10.200.254.100 } }',
      'ssh: { knownHostsFile: /nonexistent/known_hosts }',
      'hosts:',
      '  - { name: m1, address: 10.200.254.10, roles: [primary-master] }',
      '  - { name: e1, address: 10.200.254.11, roles: [etcd] }',
      '  - { name: e2, address: 10.200.254.12, roles: [etcd] }',
      '  - { name: e3, address: 10.200.254.13, roles: [etcd] }',
      '',
    ].join('\n'),
  );
  bundle = await loadWorkflowBundle();
  temporal = await connectTemporal();
});
afterAll(async () => {
  await temporal?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('setupEtcdCluster on the runbook executor (stand-in activities)', () => {
  it('--dry-run --json prints the runbook the workflow executes, and a failed CA step waits for a decision', async () => {
    const { stdout } = await run(
      'npx',
      [
        'tsx',
        'src/cli.ts',
        'etcd',
        'setup',
        '-i',
        inventoryFile,
        '--dry-run',
        '--no-facts',
        '--json',
        '--health-timeout',
        '45',
        '--address',
        '127.0.0.1:1',
      ],
      { timeout: 120_000 },
    );
    const dryRun: unknown = JSON.parse(stdout);

    const taskQueue = uniqueQueue('etcd-rb');
    let caCalls = 0;
    const worker = await Worker.create({
      connection: temporal.native,
      taskQueue,
      workflowBundle: bundle,
      dataConverter: dataConverter({ role: 'worker' }),
      activities: {
        // Stand-in: no host answers the facts read, so nothing is known done and every step is planned: the very
        // runbook `--dry-run --no-facts` printed.
        readSetupFacts: (req: ReadSetupFactsInput): Promise<SetupFacts> =>
          Promise.resolve({
            hosts: req.hosts.map((h) => unreachableFacts(h, `${h.host.target.name}: unreachable (stand-in)`)),
            adminKubeconfigStored: false,
            durationMs: 0,
          }),
        // Stand-in: the operator's PKI store is not writable (fails for good).
        ensureEtcdCa: () => {
          caCalls++;
          return Promise.reject(
            ApplicationFailure.nonRetryable('PKI store is read-only (stand-in)', FailureType.HostNotSuitable),
          );
        },
      },
    });
    const { inventory } = await loadInventory(inventoryFile);
    const input: SetupEtcdInput = { inventory, healthTimeoutSeconds: 45, onFailure: 'decide' };
    await worker.runUntil(async () => {
      const handle = await temporal.client.workflow.start('setupEtcdCluster', {
        taskQueue,
        workflowId: `rbdry/etcd/${taskQueue}`,
        args: [input],
      });
      const waiting = await pollUntil(async () => (await handle.query(progressQuery)).waiting, 'the CA step waiting');
      expect(waiting).toEqual([
        expect.objectContaining({
          host: 'cluster',
          step: 'ensureEtcdCa',
          error: 'PKI store is read-only (stand-in)',
          maySkip: false,
        }),
      ]);
      // Same object, field for field: what the operator was shown is what runs.
      expect(await handle.query(runbookQuery)).toEqual(dryRun);
      await handle.executeUpdate(decideUpdate, { args: [{ action: 'abort', by: 'test', reason: 'no store' }] });
      const err: unknown = await handle.result().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect((err as WorkflowFailedError).cause).toMatchObject({
        type: FailureType.RunAborted,
        message: 'etcd setup aborted by test (no store): cluster: ensureEtcdCa: PKI store is read-only (stand-in)',
      });
    });
    expect(caCalls).toBe(1);
  });

  it('snapshot: --dry-run --json prints the runbook it runs; no member able to take it parks the run, retry completes it', async () => {
    const { stdout } = await run(
      'npx',
      ['tsx', 'src/cli.ts', 'etcd', 'snapshot', '-i', inventoryFile, '--dry-run', '--json', '--address', '127.0.0.1:1'],
      { timeout: 120_000 },
    );
    const dryRun = JSON.parse(stdout) as Runbook;
    const taskQueue = uniqueQueue('etcd-snap-rb');
    const calls: SaveEtcdSnapshotInput[] = [];
    const worker = await Worker.create({
      connection: temporal.native,
      taskQueue,
      workflowBundle: bundle,
      dataConverter: dataConverter({ role: 'worker' }),
      activities: {
        // Stand-in: every member refuses the first time (fails for good), then e2 takes it.
        saveEtcdSnapshot: (input: SaveEtcdSnapshotInput): Promise<EtcdSnapshotResult> => {
          calls.push(input);
          if (calls.length === 1)
            return Promise.reject(
              ApplicationFailure.nonRetryable('no member could take a snapshot (stand-in)', FailureType.CommandFailed),
            );
          return Promise.resolve({
            member: 'e2',
            path: `/state/${input.stamp}-e2.db`,
            size: 24_576,
            sha256: 'a'.repeat(64),
            hash: 1,
            revision: 51,
            totalKeys: 50,
            totalSize: 24_576,
            tool: 'etcdctl',
            etcdVersion: '3.4.23',
            skipped: [{ member: 'e1', error: 'e1: connection refused (stand-in)' }],
            saveMs: 300,
            transferMs: 50,
          });
        },
      },
    });
    const { inventory } = await loadInventory(inventoryFile);
    await worker.runUntil(async () => {
      const handle = await temporal.client.workflow.start('snapshotEtcd', {
        taskQueue,
        workflowId: `rbdry/etcd/snapshot/${taskQueue}`,
        args: [{ inventory }],
      });
      const waiting = await pollUntil(async () => (await handle.query(progressQuery)).waiting, 'the snapshot waiting');
      expect(waiting).toEqual([
        expect.objectContaining({
          host: 'cluster',
          step: 'saveEtcdSnapshot',
          error: 'no member could take a snapshot (stand-in)',
        }),
      ]);
      // The runbook it runs is the dry run's, but for the stamp (the workflow's clock names the file).
      const ran = await handle.query(runbookQuery);
      const stampOf = (rb: Runbook) => ((rb.phases[0] as OncePhase).steps[0]!.args as { stamp: string }).stamp;
      const withStamp = (rb: Runbook, stamp: string) =>
        JSON.parse(JSON.stringify(rb).replaceAll(stampOf(rb), stamp)) as unknown;
      expect(ran.phases.map((p) => p.id)).toEqual(['snapshot']);
      expect(withStamp(dryRun, stampOf(ran))).toEqual(ran);
      const records = await handle.executeUpdate(decideUpdate, {
        args: [{ action: 'retry', by: 'test', reason: 'fixed' }],
      });
      expect(records.at(-1)).toMatchObject({ action: 'retry', by: 'test', reason: 'fixed', step: 'saveEtcdSnapshot' });
      const result = (await handle.result()) as EtcdSnapshotResult;
      expect(result).toMatchObject({ member: 'e2', revision: 51 });
      // The retry took the snapshot under the same name (the stamp is the run's, not the attempt's).
      expect(calls.map((c) => c.stamp)).toEqual([stampOf(ran), stampOf(ran)]);
      expect(calls[0]!.members.map((m) => m.host.target.name)).toEqual(['e1', 'e2', 'e3']);
      const progress = await handle.query(progressQuery);
      expect(JSON.stringify(progress)).toContain(
        'e2: 24576 bytes, revision 51; e1 could not (e1: connection refused (stand-in))',
      );
    });
  });
});
