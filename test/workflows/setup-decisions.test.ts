// Issue 11 §3 on the real-Kubernetes lab: a setup step that fails for good parks the run at the decide gate, with host,
// step and error in the progress query and in the Web UI's current details, and each decision does what it says.
// The failure is real: a worker's apt source is taken away (its sources file moved aside and the package lists
// refreshed), so `installKubePackages` finds kubeadm 1.34.12 offered nowhere, as on a node with a wrong apt source.
// One lab (h1 master with external etcd, h2 and h3 workers), three setup runs through a real Temporal server and
// worker with payload encryption on:
//   A  h1 (master) and h3 (worker) lose their source: both wait; skip of the master is refused; abort ends the run
//      naming both (setup registers no undo: every step is idempotent and a later run picks up).
//   B  h1's source is back, h3's is not: the run waits for h3 only; skip arrives as the Web UI sends it (a plain
//      `decide` signal with the JSON object, no codec); the cluster is built without h3.
//   C  h3 still has no source: the run waits; the source is put back and retry installs and joins h3: all Ready.
import { join } from 'node:path';
import {
  Client,
  Connection,
  WorkflowFailedError,
  WorkflowUpdateFailedError,
  type WorkflowHandle,
} from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { createActivities } from '../../src/activities/index.js';
import { createSshDeps } from '../../src/activities/ssh-deps.js';
import { sshTrustOf } from '../../src/activities/ssh-trust.js';
import { KEYRING_ENV, loadKeyring } from '../../src/codec/keyring.js';
import { FailureType } from '../../src/errors.js';
import { MIRROR_SOURCES_PATH } from '../../lab/k8s/apt-mirror.js';
import type { WaitingDecision } from '../../src/plan/gates.js';
import { CODEC_ENV, dataConverter } from '../../src/temporal/data-converter.js';
import { decideUpdate, progressQuery } from '../../src/workflows/messages.js';
import type { RunbookResult, RunFailureDetails } from '../../src/workflows/runbook.js';
import { pollUntil, temporalAddress, uniqueQueue } from '../e2e/helpers.js';
import { nodeStates } from '../support/k8s-cluster.js';
import { labClusterInventory } from '../support/lab-cluster.js';
import { labSuite } from '../support/lab-suite.js';

let worker: Worker | undefined;
let running: Promise<void> | undefined;
let closeSsh: (() => Promise<void>) | undefined;
const taskQueue = uniqueQueue('setup-decide');
const suite = labSuite({
  name: 'setup-decide',
  lab: { hosts: 3 },
  inventory: (lab) => labClusterInventory(lab, [['primary-master', 'etcd'], ['worker'], ['worker']]),
  // Payload encryption on (unlike most lab tests): the Web UI's signal must arrive unencrypted at a worker whose
  // codec wraps it, as it does for an operator.
  env: (scratch) => ({ [KEYRING_ENV]: join(scratch, 'codec-keyring.json'), [CODEC_ENV]: 'on' }),
  ready: async (suite) => {
    await loadKeyring(join(suite.scratch, 'codec-keyring.json'), { create: true });
    const deps = createSshDeps(sshTrustOf(suite.inventory));
    closeSsh = () => deps.close();
    worker = await Worker.create({
      connection: suite.temporal.native,
      taskQueue,
      workflowBundle: suite.bundle,
      dataConverter: dataConverter({ role: 'worker' }),
      activities: createActivities(deps),
    });
    running = worker.run();
  },
  cleanUp: [
    async () => {
      if (worker?.getState() === 'RUNNING') worker.shutdown();
      await running;
    },
    () => closeSsh?.(),
  ],
});
const ASIDE = '/root/kubeadm2ha.list.aside';

/** The host's apt loses its only source (the lab mirror), and its package lists with it. */
const takeSourceAway = (host: string) =>
  suite.lab.exec(host, `mv ${MIRROR_SOURCES_PATH} ${ASIDE} && apt-get update -q >/dev/null 2>&1`);
/** The source back as it was; the install refreshes the lists itself when the version is missing. */
const putSourceBack = (host: string) => suite.lab.exec(host, `mv ${ASIDE} ${MIRROR_SOURCES_PATH}`);

const start = (name: string): Promise<WorkflowHandle> =>
  suite.temporal.client.workflow.start('setupCluster', {
    taskQueue,
    workflowId: `${suite.inventory.cluster.name}/setup-${name}/${taskQueue}`,
    args: [{ inventory: suite.inventory }],
  });
/** The decide gates waiting, once there are `hosts.length` of them, sorted by host. */
const parked = (h: WorkflowHandle, hosts: string[]): Promise<WaitingDecision[]> =>
  pollUntil(
    async () => {
      const w = ((await h.query(progressQuery)).waiting ?? []).filter((x) => x.kind === 'decide');
      return w.length === hosts.length ? [...w].sort((a, b) => a.host.localeCompare(b.host)) : undefined;
    },
    `decisions waiting for ${hosts.join(', ')}`,
    900_000,
    500,
  );
const rejection = async (p: Promise<unknown>): Promise<string> => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  return (err as WorkflowUpdateFailedError).cause?.message ?? '';
};
const notOffered = /kubeadm, kubelet, kubectl 1\.34\.12 not offered by the host's package sources \(available: none\)/;

describe('setupCluster decisions on a real failure (a node without its apt source)', () => {
  it('A: master and worker wait with host, step and error; skip of the master is refused; abort ends the run', async () => {
    await Promise.all([takeSourceAway('h1'), takeSourceAway('h3')]);
    const t0 = Date.now();
    const run = await start('a');
    const waiting = await parked(run, ['h1', 'h3']);
    process.stderr.write(`[setup decide] A: parked ${Date.now() - t0} ms after start\n`);
    expect(waiting).toMatchObject([
      { kind: 'decide', phase: 'nodes', host: 'h1', step: 'installKubePackages', maySkip: false },
      { kind: 'decide', phase: 'nodes', host: 'h3', step: 'installKubePackages', maySkip: true },
    ]);
    for (const w of waiting) expect(w.error).toMatch(notOffered);
    // The Web UI's view of the same: the workflow's current details.
    const details = (await run.query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails;
    for (const text of [
      '### Waiting for a decision: h3',
      '- host: **h3**, step: **installKubePackages** (phase nodes)',
      '- host: **h1**, step: **installKubePackages** (phase nodes)',
      'not offered by the host',
      // Skip is offered for the worker only.
      `\`kubeadm2ha decide ${suite.inventory.cluster.name} retry|skip|abort --host h3 [--reason "…"]\``,
      `\`kubeadm2ha decide ${suite.inventory.cluster.name} retry|abort --host h1 [--reason "…"]\``,
      'Web UI: Send Signal `decide` with `{"action":"retry","host":"h3","reason":"…"}` (action: retry, skip, abort)',
    ])
      expect(details, text).toContain(text);

    expect(await rejection(run.executeUpdate(decideUpdate, { args: [{ action: 'skip', host: 'h1' }] }))).toMatch(
      /h1 may not be skipped/,
    );
    await run.executeUpdate(decideUpdate, {
      args: [{ action: 'abort', host: 'h3', by: 'test', reason: 'wrong apt sources' }],
    });
    const err: unknown = await run.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause.type).toBe(FailureType.RunAborted);
    expect(cause.message).toMatch(/^cluster setup aborted by test \(wrong apt sources\): /);
    const failed = cause.details?.[0] as RunFailureDetails;
    expect(failed.failures.map((f) => `${f.host}: ${f.step}`).sort()).toEqual([
      'h1: installKubePackages',
      'h3: installKubePackages',
    ]);
    // Setup registers no undo: its steps are idempotent, so a later run picks up from what this one did.
    expect(failed.undone).toEqual([]);
    expect(failed.gates).toEqual([expect.objectContaining({ action: 'abort', host: 'h3', via: 'update' })]);
    // Nothing past the failed phase ran: no kubeadm init.
    expect((await suite.lab.exec('h1', 'ls /etc/kubernetes/admin.conf', { allowFail: true })).code).not.toBe(0);
  }, 1_800_000);

  it('B: skip of the worker sent as the Web UI signal payload; the cluster is built without it', async () => {
    await putSourceBack('h1');
    const t0 = Date.now();
    const run = await start('b');
    const [w] = await parked(run, ['h3']);
    expect(w).toMatchObject({ host: 'h3', step: 'installKubePackages', maySkip: true });
    // What the Web UI's "Send a signal" dialog does: a plain signal, JSON input, no data converter.
    const connection = await Connection.connect({ address: temporalAddress() });
    try {
      const plain = new Client({ connection, namespace: 'default' }).workflow.getHandle(run.workflowId);
      await plain.signal('decide', { action: 'skip', host: 'h3', by: 'alice', reason: 'h3 repaired later' });
    } finally {
      await connection.close();
    }
    const result = (await run.result()) as RunbookResult;
    process.stderr.write(`[setup decide] B: h1 + h2 Ready, h3 skipped: ${Date.now() - t0} ms\n`);
    expect(result.skipped).toEqual(['h3']);
    expect(result.gates).toEqual([
      expect.objectContaining({
        action: 'skip',
        host: 'h3',
        step: 'installKubePackages',
        by: 'web-ui (alice)',
        via: 'signal',
        unencrypted: true,
      }),
    ]);
    // h3 did nothing after its failure: no package, no containerd change, no join was even tried.
    expect(
      result.steps.filter((s) => s.host === 'h3' && s.step !== 'prepareNodeOs' && s.step !== 'readSetupFacts'),
    ).toEqual([]);
    expect(await nodeStates(suite.lab)).toEqual(['h1 Ready', 'h2 Ready']);
  }, 1_800_000);

  it('C: retry after the source is back installs and joins the worker: every node Ready', async () => {
    const t0 = Date.now();
    const run = await start('c');
    const [w] = await parked(run, ['h3']);
    expect(w).toMatchObject({ host: 'h3', step: 'installKubePackages' });
    expect(w!.error).toMatch(notOffered);
    // A retry before the repair fails the same way and waits again.
    await run.executeUpdate(decideUpdate, { args: [{ action: 'retry', host: 'h3', by: 'test' }] });
    const [again] = await pollUntil(
      async () => {
        const x = ((await run.query(progressQuery)).waiting ?? []).filter((g) => g.kind === 'decide');
        return x.length === 1 && x[0]!.since !== w!.since ? x : undefined;
      },
      'h3 waiting again after a retry without repair',
      300_000,
      500,
    );
    expect(again).toMatchObject({ host: 'h3', step: 'installKubePackages' });
    await putSourceBack('h3');
    await run.executeUpdate(decideUpdate, { args: [{ action: 'retry', host: 'h3', by: 'test', reason: 'source back' }] });
    const result = (await run.result()) as RunbookResult;
    process.stderr.write(`[setup decide] C: h3 repaired and joined, all Ready: ${Date.now() - t0} ms\n`);
    expect(result.skipped).toEqual([]);
    expect(result.gates.map((g) => `${g.action} ${g.host}`)).toEqual(['retry h3', 'retry h3']);
    const h3 = result.steps.filter((s) => s.host === 'h3');
    expect(h3.find((s) => s.step === 'installKubePackages')?.result).toMatchObject({ installed: true });
    expect(h3.find((s) => s.step === 'joinNode')?.result).toMatchObject({ joined: true });
    // h1 and h2 were set up by B: this run did not init again (it checked, or left the step out from the facts).
    expect(JSON.stringify(result.steps.filter((s) => s.step === 'kubeadmInit'))).not.toMatch(/"initialized":true/);
    expect(JSON.stringify(result.steps.filter((s) => s.host === 'h2' && s.step === 'joinNode'))).not.toMatch(
      /"joined":true/,
    );
    expect(await nodeStates(suite.lab)).toEqual(['h1 Ready', 'h2 Ready', 'h3 Ready']);
  }, 1_800_000);
});
