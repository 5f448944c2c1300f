// The runbook executor's gates, fast: fake activities (they only record calls and fail on cue, and say so in
// their names) registered on a real worker against the run's real Temporal dev server, with our payload codec.
// No lab, no SSH. Every wait is a poll of the progress query with a deadline.
import { join } from 'node:path';
import {
  Client,
  Connection,
  WorkflowFailedError,
  WorkflowUpdateFailedError,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { bundleWorkflowCode, DefaultLogger, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runs } from '../../src/cli/commands/runs.js';
import { FailureType } from '../../src/errors.js';
import type { SshSettings } from '../../src/inventory/schema.js';
import type { Waiting } from '../../src/plan/gates.js';
import type { ActivityName, HostPhase, HostRun, Phase, Runbook, Step } from '../../src/plan/runbook.js';
import type { HostContext } from '../../src/plan/types.js';
import { dataConverter, failureConverterPath } from '../../src/temporal/data-converter.js';
import { approveUpdate, decideUpdate, progressQuery } from '../../src/workflows/messages.js';
import type { RunbookResult, RunFailureDetails } from '../../src/workflows/runbook.js';
import { connectTemporal, pollUntil, temporalAddress, uniqueQueue, workflowTaskTimeoutMs } from '../e2e/helpers.js';

let temporal: Awaited<ReturnType<typeof connectTemporal>>;
let bundle: WorkflowBundleOption;

beforeAll(async () => {
  bundle = await bundleWorkflowCode({
    workflowsPath: join(import.meta.dirname, 'fixtures', 'runbook-workflow.ts'),
    failureConverterPath: failureConverterPath(),
    logger: new DefaultLogger('WARN'),
  });
  temporal = await connectTemporal();
});
afterAll(async () => {
  await temporal?.close();
});

/** Fake activities: record each call as host:name, fail (non-retryable) as often as `failures` says. */
function fakes(failures: Record<string, number> = {}) {
  const calls: string[] = [];
  const left = new Map(Object.entries(failures));
  const who = (host?: HostContext) => host?.target.name ?? 'once';
  return {
    calls,
    activities: {
      fakeStep({
        host,
        name,
        nodes,
      }: {
        host?: HostContext;
        name: string;
        nodes?: string[];
      }): Promise<{ name: string; at: number }> {
        const key = `${who(host)}:${name}${nodes ? `[${nodes.join(',')}]` : ''}`;
        calls.push(key);
        const n = left.get(key) ?? 0;
        if (n > 0) {
          left.set(key, n - 1);
          return Promise.reject(
            ApplicationFailure.nonRetryable(`${who(host)}: ${name} broke (fake)`, FailureType.CommandFailed),
          );
        }
        return Promise.resolve({ name, at: calls.length });
      },
      fakeUndo({ host, name }: { host?: HostContext; name: string }): Promise<void> {
        calls.push(`undo ${who(host)}:${name}`);
        if (name === 'broken-undo') return Promise.reject(ApplicationFailure.nonRetryable('undo broke (fake)'));
        return Promise.resolve();
      },
    },
  };
}

const fake = (name: string, undo?: string): Step => ({
  id: 'fakeStep' as ActivityName,
  title: `fake ${name}`,
  class: 'quick',
  args: { name },
  ...(undo && { undo: { id: 'fakeUndo' as ActivityName, args: { name: undo } } }),
});
const host = (name: string, steps: Step[], maySkip: boolean): HostRun => ({
  target: { name, address: '10.200.0.1', roles: maySkip ? ['worker'] : ['primary-master'] },
  steps,
  maySkip,
});
/** A per-host phase, parallel unless said otherwise. */
const hostsPhase = (id: string, hosts: HostRun[], more: Partial<HostPhase> = {}): HostPhase => ({
  id,
  title: id,
  kind: 'hosts',
  rollout: { kind: 'parallel' },
  hosts,
  ...more,
});
const runbook = (phases: Phase[], onFailure: Runbook['onFailure'] = 'decide'): Runbook => ({
  operation: 'test',
  title: 'test run',
  cluster: 'rb-test',
  kubernetesVersion: '1.34.1',
  ssh: { maxConcurrency: 4 } as SshSettings,
  onFailure,
  phases,
});

interface Started {
  handle: WorkflowHandle;
  calls: string[];
  taskQueue: string;
  worker: Worker;
  running: Promise<void>;
  stop: () => Promise<void>;
}

async function start(rb: Runbook, failures: Record<string, number> = {}): Promise<Started> {
  const taskQueue = uniqueQueue('runbook');
  const f = fakes(failures);
  const worker = await Worker.create({
    connection: temporal.native,
    taskQueue,
    workflowBundle: bundle,
    activities: f.activities,
    dataConverter: dataConverter({ role: 'worker' }),
  });
  const running = worker.run();
  const handle = await temporal.client.workflow.start('runTestRunbook', {
    taskQueue,
    workflowId: `rb-test/${taskQueue}`,
    args: [rb],
  });
  return {
    handle,
    calls: f.calls,
    taskQueue,
    worker,
    running,
    stop: async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    },
  };
}

const waitingOf = async (h: WorkflowHandle): Promise<Waiting[]> => (await h.query(progressQuery)).waiting ?? [];
const untilWaiting = (h: WorkflowHandle, kind: Waiting['kind'], n = 1) =>
  pollUntil(async () => {
    const w = (await waitingOf(h)).filter((x) => x.kind === kind);
    return w.length >= n ? w : undefined;
  }, `${n} ${kind} gate(s) waiting`);
const rejection = async (p: Promise<unknown>): Promise<string> => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  return (err as WorkflowUpdateFailedError).cause?.message ?? '';
};

describe('runbook executor gates (fake activities, real Temporal)', () => {
  it('waits for approval before the phase runs, then runs it and records who approved', async () => {
    const rb = runbook([
      { id: 'prepare', title: 'prepare', kind: 'once', steps: [fake('prepare')] },
      {
        id: 'masters',
        title: 'masters',
        kind: 'hosts',
        rollout: { kind: 'serial' },
        approval: { scope: 'phase' },
        hosts: [host('m1', [fake('a')], false), host('m2', [fake('a')], false)],
      },
    ]);
    const r = await start(rb);
    try {
      const [w] = await untilWaiting(r.handle, 'approve');
      expect(w).toMatchObject({ kind: 'approve', phase: 'masters' });
      expect(r.calls).toEqual(['once:prepare']); // nothing of the gated phase ran
      expect(await rejection(r.handle.executeUpdate(approveUpdate, { args: [{ phase: 'workers' }] }))).toMatch(
        /no approval waits for phase workers/,
      );
      const recs = await r.handle.executeUpdate(approveUpdate, { args: [{ by: 'alice@ops', reason: 'window open' }] });
      expect(recs).toMatchObject([
        { kind: 'approve', phase: 'masters', by: 'alice@ops', via: 'update', unencrypted: false },
      ]);
      const res = (await r.handle.result()) as RunbookResult;
      expect(r.calls).toEqual(['once:prepare', 'm1:a', 'm2:a']);
      expect(res.gates).toMatchObject([{ kind: 'approve', by: 'alice@ops', reason: 'window open' }]);
    } finally {
      await r.stop();
    }
  });

  it('an approval deadline parks the run at the decision gate instead of going on', async () => {
    const rb = runbook([
      {
        id: 'workers',
        title: 'workers',
        kind: 'hosts',
        rollout: { kind: 'serial' },
        approval: { scope: 'host', timeoutSeconds: 1 },
        hosts: [host('w1', [fake('a')], true)],
      },
    ]);
    const r = await start(rb);
    try {
      const [w] = await untilWaiting(r.handle, 'decide');
      expect(w).toMatchObject({ host: 'w1', step: 'approve', error: 'approval timed out' });
      expect(r.calls).toEqual([]);
      // Retry means: wait for the approval again.
      await r.handle.executeUpdate(decideUpdate, { args: [{ action: 'retry', by: 'bob' }] });
      await untilWaiting(r.handle, 'approve');
      await r.handle.executeUpdate(approveUpdate, { args: [{ host: 'w1', by: 'bob' }] });
      await r.handle.result();
      expect(r.calls).toEqual(['w1:a']);
    } finally {
      await r.stop();
    }
  });

  it('parks a failed step with host, step and error, and retry runs it again', async () => {
    const rb = runbook([hostsPhase('masters', [host('m1', [fake('a'), fake('b')], false)])]);
    const r = await start(rb, { 'm1:a': 1 });
    try {
      const [w] = await untilWaiting(r.handle, 'decide');
      expect(w).toMatchObject({
        kind: 'decide',
        phase: 'masters',
        host: 'm1',
        step: 'fakeStep',
        error: 'a broke (fake)',
        maySkip: false,
      });
      // The Web UI shows the same through the workflow's current details (its metadata query): phase, hosts,
      // host, step, error, and how to answer from the CLI and from the Web UI's signal dialog.
      const meta = await r.handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
      const details = meta.currentDetails ?? '';
      for (const text of [
        '**test run** of cluster **rb-test**: phase **masters**',
        'hosts done: 0/',
        '### Waiting for a decision: m1',
        '- host: **m1**, step: **fakeStep** (phase masters)',
        '- error: `a broke (fake)`',
        '- CLI: `kubeadm2ha decide rb-test retry|abort --host m1 [--reason "…"]`',
        '- Web UI: Send Signal `decide` with `{"action":"retry","host":"m1","reason":"…"}` (action: retry, abort)',
      ])
        expect(details, text).toContain(text);
      // `kubeadm2ha runs --cluster rb-test` lists the run with what it waits at (visibility may lag a moment).
      const listed = await pollUntil(
        async () =>
          (await runs({ cluster: 'rb-test', json: true, address: temporalAddress() })).find(
            (x) => x.workflowId === r.handle.workflowId && x.waitingAt,
          ),
        'the parked run in `kubeadm2ha runs`',
        30_000,
        500,
      );
      expect(listed).toMatchObject({ cluster: 'rb-test', status: 'RUNNING', operation: 'runTestRunbook' });
      expect(listed.waitingAt).toContain('m1: fakeStep: a broke (fake)');
      const recs = await r.handle.executeUpdate(decideUpdate, {
        args: [{ action: 'retry', by: 'carol@laptop', reason: 'fixed dpkg' }],
      });
      expect(recs).toMatchObject([
        { action: 'retry', host: 'm1', step: 'fakeStep', by: 'carol@laptop', reason: 'fixed dpkg' },
      ]);
      const res = (await r.handle.result()) as RunbookResult;
      expect(r.calls).toEqual(['m1:a', 'm1:a', 'm1:b']);
      expect(res.gates[0]).toMatchObject({ action: 'retry', error: 'a broke (fake)', via: 'update' });
    } finally {
      await r.stop();
    }
  });

  it('offers a step’s retry options for its failure type; retry --option runs it once with their arguments', async () => {
    // The options' args override the fake's `name`, so the calls show which arguments each attempt got.
    const step: Step = {
      ...fake('a'),
      retryOptions: [
        { name: 'force', title: 'force it', whenFailure: FailureType.CommandFailed, args: { name: 'a-forced' } },
        { name: 'other', title: 'not for this failure', whenFailure: FailureType.DrainBlocked, args: {} },
      ],
    };
    const r = await start(runbook([hostsPhase('workers', [host('w1', [step, fake('b')], true)])]), { 'w1:a': 2 });
    try {
      const [w] = await untilWaiting(r.handle, 'decide');
      expect(w).toMatchObject({ host: 'w1', options: [{ name: 'force', title: 'force it' }] });
      const meta = await r.handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
      expect(meta.currentDetails).toContain(
        '- retry option **force**: force it: `kubeadm2ha decide rb-test retry --option force --host w1`',
      );
      expect(
        await rejection(r.handle.executeUpdate(decideUpdate, { args: [{ action: 'retry', option: 'other' }] })),
      ).toBe('w1: no retry option other; offered: force');
      expect(
        await rejection(r.handle.executeUpdate(decideUpdate, { args: [{ action: 'skip', option: 'force' }] })),
      ).toBe('option goes with retry only');
      // A plain retry runs the step as planned (it fails again and asks again).
      await r.handle.executeUpdate(decideUpdate, { args: [{ action: 'retry' }] });
      await pollUntil(() => Promise.resolve(r.calls.length === 2 || undefined), 'second attempt');
      await untilWaiting(r.handle, 'decide');
      const recs = await r.handle.executeUpdate(decideUpdate, {
        args: [{ action: 'retry', option: 'force', by: 'dan' }],
      });
      expect(recs).toMatchObject([{ action: 'retry', option: 'force', host: 'w1', by: 'dan' }]);
      const res = (await r.handle.result()) as RunbookResult;
      expect(r.calls).toEqual(['w1:a', 'w1:a', 'w1:a-forced', 'w1:b']);
      expect(res.gates.map((g) => g.option)).toEqual([undefined, 'force']);
    } finally {
      await r.stop();
    }
  });

  it('a child phase runs its workflow as a child; its failure parks the run, retry starts it again (stand-in child)', async () => {
    const rb = runbook([
      { id: 'images', title: 'images', kind: 'child', workflow: 'transferImages', input: { version: '1.34.1' } },
      hostsPhase('init', [host('m1', [fake('init')], false)]),
    ]);
    const r = await start(rb, { 'once:images 1.34.1': 1 });
    try {
      const [w] = await untilWaiting(r.handle, 'decide');
      expect(w).toMatchObject({ phase: 'images', host: 'cluster', step: 'transferImages', maySkip: false });
      expect((w as { error: string }).error).toContain(`${r.handle.workflowId}/images: once: images 1.34.1 broke`);
      expect(r.calls).toEqual(['once:images 1.34.1']); // nothing after the child ran
      expect(await rejection(r.handle.executeUpdate(decideUpdate, { args: [{ action: 'skip' }] }))).toMatch(/skip/);
      await r.handle.executeUpdate(decideUpdate, { args: [{ action: 'retry', by: 'carol' }] });
      await r.handle.result();
      expect(r.calls).toEqual(['once:images 1.34.1', 'once:images 1.34.1', 'm1:init']);
      const second = await temporal.client.workflow.getHandle(`${r.handle.workflowId}/images/2`).describe();
      expect(second.status.name).toBe('COMPLETED');
      // With the run's workflow task timeout (WORKFLOW_TASK_TIMEOUT), not the server's 10 s default.
      expect(workflowTaskTimeoutMs(second)).toBe(30_000);
    } finally {
      await r.stop();
    }
  });

  it('skips a failed worker (its later phases too) but rejects skipping a master', async () => {
    const rb = runbook([
      {
        id: 'nodes',
        title: 'nodes',
        kind: 'hosts',
        rollout: { kind: 'batches', size: 2 },
        hosts: [host('m1', [fake('a')], false), host('w1', [fake('a')], true)],
      },
      hostsPhase('after', [host('m1', [fake('z')], false), host('w1', [fake('z')], true)]),
    ]);
    const r = await start(rb, { 'm1:a': 1, 'w1:a': 1 });
    try {
      await untilWaiting(r.handle, 'decide', 2);
      expect(await rejection(r.handle.executeUpdate(decideUpdate, { args: [{ action: 'skip', host: 'm1' }] }))).toMatch(
        /m1 may not be skipped/,
      );
      expect(await rejection(r.handle.executeUpdate(decideUpdate, { args: [{ action: 'retry' }] }))).toMatch(
        /^several hosts wait \((m1, w1|w1, m1)\); name one with --host$/,
      );
      await r.handle.executeUpdate(decideUpdate, { args: [{ action: 'skip', host: 'w1', by: 'dave' }] });
      await r.handle.executeUpdate(decideUpdate, { args: [{ action: 'retry', host: 'm1', by: 'dave' }] });
      const res = (await r.handle.result()) as RunbookResult;
      expect(res.skipped).toEqual(['w1']);
      expect(r.calls.filter((c) => c.startsWith('w1'))).toEqual(['w1:a']);
      expect(r.calls).toContain('m1:z');
      const p = await r.handle.query(progressQuery);
      expect(p.hosts.find((h) => h.name === 'w1')?.steps.map((s) => s.state)).toEqual(['failed', 'skipped']);
    } finally {
      await r.stop();
    }
  });

  it('a cluster-wide step bound to "every node not skipped" does not wait for the worker an operator skipped', async () => {
    const waitAll: Step = { ...fake('wait-ready'), bind: { nodes: { notSkipped: ['m1', 'w1', 'w2'] } } };
    const rb = runbook([
      hostsPhase('join', [
        host('m1', [fake('join')], false),
        host('w1', [fake('join')], true),
        host('w2', [fake('join')], true),
      ]),
      { id: 'converge', title: 'converge', kind: 'once', steps: [waitAll] },
    ]);
    const r = await start(rb, { 'w1:join': 1 });
    try {
      await untilWaiting(r.handle, 'decide');
      await r.handle.executeUpdate(decideUpdate, { args: [{ action: 'skip', host: 'w1', by: 'erin' }] });
      const res = (await r.handle.result()) as RunbookResult;
      expect(res.skipped).toEqual(['w1']);
      expect(r.calls).toContain('once:wait-ready[m1,w2]');
    } finally {
      await r.stop();
    }
  });

  it('abort runs this run’s undo list newest first (logging a failed undo) and fails the run naming host and step', async () => {
    const rb = runbook([
      { id: 'ca', title: 'ca', kind: 'once', steps: [fake('ca', 'ca')] },
      {
        id: 'masters',
        title: 'masters',
        kind: 'hosts',
        rollout: { kind: 'serial' },
        hosts: [host('m1', [fake('a', 'a'), fake('b', 'broken-undo'), fake('c', 'c')], false)],
      },
    ]);
    const r = await start(rb, { 'm1:c': 1 });
    try {
      await untilWaiting(r.handle, 'decide');
      await r.handle.executeUpdate(decideUpdate, { args: [{ action: 'abort', by: 'erin', reason: 'wrong window' }] });
      const err: unknown = await r.handle.result().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WorkflowFailedError);
      const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
      expect(cause.type).toBe(FailureType.RunAborted);
      expect(cause.message).toMatch(/^test run aborted by erin \(wrong window\): m1: fakeStep: c broke \(fake\)/);
      // Newest first; the broken undo is logged and the rest still run.
      expect(r.calls.filter((c) => c.startsWith('undo'))).toEqual(['undo m1:broken-undo', 'undo m1:a', 'undo once:ca']);
      const details = cause.details?.[0] as RunFailureDetails;
      expect(details.undone).toEqual(['m1: fakeUndo', 'cluster: fakeUndo']);
      expect(details.undoErrors).toEqual(['m1: fakeUndo: undo broke (fake)']);
      expect(details.failures).toEqual([
        { phase: 'masters', host: 'm1', step: 'fakeStep', message: 'c broke (fake)', type: 'CommandFailed' },
      ]);
      expect(details.gates[0]).toMatchObject({ action: 'abort', by: 'erin' });
    } finally {
      await r.stop();
    }
  });

  it('rejects a decision when no step waits, and one for a host that does not wait', async () => {
    const rb = runbook([
      {
        id: 'p',
        title: 'p',
        kind: 'hosts',
        rollout: { kind: 'parallel' },
        approval: { scope: 'phase' },
        hosts: [host('w1', [fake('a')], true)],
      },
    ]);
    const r = await start(rb, { 'w1:a': 1 });
    try {
      await untilWaiting(r.handle, 'approve');
      expect(await rejection(r.handle.executeUpdate(decideUpdate, { args: [{ action: 'retry' }] }))).toBe(
        'no step is waiting for a decision',
      );
      await r.handle.executeUpdate(approveUpdate, { args: [{}] });
      await untilWaiting(r.handle, 'decide');
      expect(await rejection(r.handle.executeUpdate(decideUpdate, { args: [{ action: 'skip', host: 'w9' }] }))).toBe(
        'w9 is not waiting for a decision; waiting: w1',
      );
      expect(await rejection(r.handle.executeUpdate(decideUpdate, { args: [{ action: 'explode' } as never] }))).toMatch(
        /action must be one of retry, skip, rollback, abort/,
      );
      await r.handle.executeUpdate(decideUpdate, { args: [{ action: 'retry' }] });
      await r.handle.result();
      // Rejected updates left no trace in the run's record.
      const gates = ((await r.handle.result()) as RunbookResult).gates;
      expect(gates.map((g) => g.kind)).toEqual(['approve', 'decide']);
    } finally {
      await r.stop();
    }
  });

  it('takes a decision sent as the Web UI signal payload (plaintext, no codec) and records it came unencrypted', async () => {
    const rb = runbook([hostsPhase('p', [host('w1', [fake('a')], true)])]);
    const r = await start(rb, { 'w1:a': 1 });
    // What the Web UI does: no data converter, plain JSON.
    const connection = await Connection.connect({ address: temporalAddress() });
    try {
      await untilWaiting(r.handle, 'decide');
      const plain = new Client({ connection, namespace: 'default' }).workflow.getHandle(r.handle.workflowId);
      // An invalid signal is logged and ignored: the step still waits.
      await plain.signal('decide', { action: 'skip', host: 'nobody' });
      // The worker's codec hands this plaintext payload to the workflow wrapped as unencrypted; the decide handler
      // unwraps it on purpose and records that it came that way.
      await plain.signal('decide', { action: 'retry', by: 'frank', reason: 'from the UI' });
      const res = (await r.handle.result()) as RunbookResult;
      expect(res.gates).toEqual([
        expect.objectContaining({
          action: 'retry',
          host: 'w1',
          by: 'web-ui (frank)',
          via: 'signal',
          unencrypted: true,
          reason: 'from the UI',
        }),
      ]);
      expect(r.calls).toEqual(['w1:a', 'w1:a']);
    } finally {
      await connection.close();
      await r.stop();
    }
  });

  it('a run waiting at a gate survives its worker: a new worker takes the decision and completes it', async () => {
    const rb = runbook([hostsPhase('p', [host('m1', [fake('a'), fake('b')], false)])]);
    const r = await start(rb, { 'm1:a': 1 });
    await untilWaiting(r.handle, 'decide');
    await r.stop();
    const f = fakes();
    const worker = await Worker.create({
      connection: temporal.native,
      taskQueue: r.taskQueue,
      workflowBundle: bundle,
      activities: f.activities,
      dataConverter: dataConverter({ role: 'worker' }),
    });
    await worker.runUntil(async () => {
      await r.handle.executeUpdate(decideUpdate, { args: [{ action: 'retry', by: 'grace' }] });
      await r.handle.result();
    });
    expect(r.calls).toEqual(['m1:a']);
    expect(f.calls).toEqual(['m1:a', 'm1:b']);
  });
});

describe('a big phase as child workflows (fake activities, real Temporal)', () => {
  const childIds = async (h: WorkflowHandle): Promise<string[]> => {
    const ids: string[] = [];
    for (const e of (await h.fetchHistory()).events ?? []) {
      const id = e.childWorkflowExecutionCompletedEventAttributes?.workflowExecution?.workflowId;
      if (id) ids.push(id);
    }
    return ids;
  };

  it('runs batches of hosts as children; decisions sent to the run reach them; results, skips and progress come back', async () => {
    const rb: Runbook = {
      ...runbook([
        { id: 'ca', title: 'ca', kind: 'once', steps: [fake('ca')] },
        hostsPhase('nodes', [
          host('m1', [fake('a'), fake('b')], false),
          host('w1', [fake('a'), fake('b')], true),
          host('w2', [fake('a'), fake('b')], true),
          host('w3', [fake('a'), fake('b')], true),
          host('w4', [fake('a'), fake('b')], true),
        ]),
        hostsPhase('after', [host('m1', [fake('z')], false), host('w2', [fake('z')], true)]),
      ]),
      hostsPerChild: 2,
    };
    const r = await start(rb, { 'm1:a': 1, 'w3:b': 1 });
    try {
      // Both failures park in their children; the run shows them as its own gates.
      await untilWaiting(r.handle, 'decide', 2);
      expect(await rejection(r.handle.executeUpdate(decideUpdate, { args: [{ action: 'skip', host: 'm1' }] }))).toMatch(
        /m1 may not be skipped/,
      );
      await r.handle.executeUpdate(decideUpdate, { args: [{ action: 'skip', host: 'w3', by: 'ivy' }] });
      await r.handle.executeUpdate(decideUpdate, { args: [{ action: 'retry', host: 'm1', by: 'ivy' }] });
      const res = (await r.handle.result()) as RunbookResult;
      expect(res.skipped).toEqual(['w3']);
      expect(res.gates.map((g) => `${g.action} ${g.host} by ${g.by}`)).toEqual(['skip w3 by ivy', 'retry m1 by ivy']);
      expect(r.calls.filter((c) => c === 'm1:a')).toHaveLength(2);
      expect(r.calls).not.toContain('w3:z');
      // Every host's results are the run's, as if it had run them itself.
      expect(
        res.steps
          .filter((s) => s.phase === 'nodes')
          .map((s) => s.host)
          .sort(),
      ).toEqual(['m1', 'm1', 'w1', 'w1', 'w2', 'w2', 'w3', 'w4', 'w4'].sort());
      // The children's progress is the run's (both fake steps share one progress key, as in the test above).
      const p = await r.handle.query(progressQuery);
      expect(p.hosts.find((h) => h.name === 'w3')?.steps.map((s) => s.state)).toEqual(['failed', 'skipped']);
      expect(p.hosts.find((h) => h.name === 'w1')?.steps[0]).toMatchObject({ state: 'done' });
      // Five hosts, two per child: three children for `nodes`; `after` (two hosts) ran in the run itself.
      expect((await childIds(r.handle)).sort()).toEqual([1, 2, 3].map((n) => `${r.handle.workflowId}/nodes/${n}`));
      const batch = await temporal.client.workflow.getHandle(`${r.handle.workflowId}/nodes/1`).describe();
      expect(workflowTaskTimeoutMs(batch)).toBe(30_000);
    } finally {
      await r.stop();
    }
  });

  it('an abort decided for a child stops every child, undoes their steps and the run’s, and fails naming the host', async () => {
    const rb: Runbook = {
      ...runbook([
        { id: 'ca', title: 'ca', kind: 'once', steps: [fake('ca', 'ca')] },
        {
          id: 'nodes',
          title: 'nodes',
          kind: 'hosts',
          rollout: { kind: 'serial' },
          hosts: [host('m1', [fake('a', 'a')], false), host('m2', [fake('a', 'a'), fake('b')], false)],
        },
      ]),
      hostsPerChild: 1,
    };
    const r = await start(rb, { 'm2:b': 1 });
    try {
      await untilWaiting(r.handle, 'decide');
      await r.handle.executeUpdate(decideUpdate, { args: [{ action: 'abort', by: 'jo' }] });
      const err: unknown = await r.handle.result().then(
        () => undefined,
        (e: unknown) => e,
      );
      const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
      expect(cause.type).toBe(FailureType.RunAborted);
      expect(cause.message).toMatch(/^test run aborted by jo: m2: fakeStep: b broke \(fake\)/);
      expect(r.calls.filter((c) => c.startsWith('undo'))).toEqual(['undo m2:a', 'undo m1:a', 'undo once:ca']);
    } finally {
      await r.stop();
    }
  });

  it('per-host approvals inside a child wait for `approve` sent to the run', async () => {
    const rb: Runbook = {
      ...runbook([
        {
          id: 'workers',
          title: 'workers',
          kind: 'hosts',
          rollout: { kind: 'parallel' },
          approval: { scope: 'host' },
          hosts: [host('w1', [fake('a')], true), host('w2', [fake('a')], true)],
        },
      ]),
      hostsPerChild: 1,
    };
    const r = await start(rb);
    try {
      await untilWaiting(r.handle, 'approve', 2);
      expect(r.calls).toEqual([]);
      await r.handle.executeUpdate(approveUpdate, { args: [{ host: 'w2', by: 'kim' }] });
      await pollUntil(() => r.calls.includes('w2:a'), 'w2 ran after its approval');
      expect(r.calls).toEqual(['w2:a']);
      await r.handle.executeUpdate(approveUpdate, { args: [{ host: 'w1', by: 'kim' }] });
      const res = (await r.handle.result()) as RunbookResult;
      expect(res.gates.map((g) => `${g.kind} ${g.host}`)).toEqual(['approve w2', 'approve w1']);
      expect(r.calls.sort()).toEqual(['w1:a', 'w2:a']);
    } finally {
      await r.stop();
    }
  });
});
