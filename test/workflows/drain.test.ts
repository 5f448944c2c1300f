// Draining a node through the runbook executor on a real cluster (the real-Kubernetes lab, set up by our setup
// workflow): a Deployment whose PodDisruptionBudget has minAvailable = replicas blocks the drain; the run parks at
// the decision gate with a DrainBlocked failure naming the budget and the pods, offering evict-anyway; each answer
// does what it says, and no node is left cordoned, whatever the answer.
import { join } from 'node:path';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { createActivities } from '../../src/activities/index.js';
import { createSshDeps } from '../../src/activities/ssh-deps.js';
import { sshTrustOf } from '../../src/activities/ssh-trust.js';
import { writeFileCommand } from '../../lab/k8s/node.js';
import { drainStep, EVICT_ANYWAY, uncordonStep, WAIT_LONGER } from '../../src/plan/drain.js';
import type { Waiting, WaitingDecision } from '../../src/plan/gates.js';
import { runbookFor, type HostPhase, type Runbook } from '../../src/plan/runbook.js';
import { targetOf } from '../../src/plan/topology.js';
import type { HostContext } from '../../src/plan/types.js';
import { dataConverter, failureConverterPath } from '../../src/temporal/data-converter.js';
import { decideUpdate, progressQuery } from '../../src/workflows/messages.js';
import { resultOf, type RunbookResult } from '../../src/workflows/runbook.js';
import type { DrainNodeResult } from '../../src/activities/node-drain.js';
import { pollUntil, uniqueQueue } from '../e2e/helpers.js';
import { ADMIN } from '../support/k8s-cluster.js';
import { labClusterInventory, TWO_MASTERS_TWO_WORKERS } from '../support/lab-cluster.js';
import { labShell } from '../support/lab-shell.js';
import { labSuite } from '../support/lab-suite.js';

let worker: Worker | undefined;
let running: Promise<void> | undefined;
let closeSsh: (() => Promise<void>) | undefined;
let taskQueue: string;
const sh = (host: string, cmd: string): Promise<string> => labShell(suite.lab)(host, cmd);
const note = (line: string): void => void process.stderr.write(`[drain] ${line}\n`);

// Workers h3 and h4 run the Deployment.
const suite = labSuite({
  name: 'drain',
  lab: { hosts: 4 },
  inventory: (lab) => labClusterInventory(lab, TWO_MASTERS_TWO_WORKERS),
  ready: async (suite) => {
    const setup = await suite.run<RunbookResult>('setupCluster', [{ inventory: suite.inventory }], 'setup');
    note(`cluster set up in ${setup.ms} ms`);

    // One worker for the drain runs: the test-only workflow that runs a given runbook, with the real activities.
    const bundle: WorkflowBundleOption = await bundleWorkflowCode({
      workflowsPath: join(import.meta.dirname, 'fixtures', 'runbook-workflow.ts'),
      failureConverterPath: failureConverterPath(),
      logger: new DefaultLogger('WARN'),
    });
    const deps = createSshDeps(sshTrustOf(suite.inventory));
    closeSsh = () => deps.close();
    taskQueue = uniqueQueue('drain');
    worker = await Worker.create({
      connection: suite.temporal.native,
      taskQueue,
      workflowBundle: bundle,
      dataConverter: dataConverter(),
      activities: createActivities(deps),
    });
    running = worker.run();
  },
  cleanUp: [
    () => {
      if (worker?.getState() === 'RUNNING') worker.shutdown();
    },
    () => running,
    () => closeSsh?.(),
  ],
});

const WEB = [
  'apiVersion: apps/v1',
  'kind: Deployment',
  'metadata: { name: web, namespace: default }',
  'spec:',
  '  replicas: 2',
  '  selector: { matchLabels: { app: web } }',
  '  template:',
  '    metadata: { labels: { app: web } }',
  '    spec:',
  '      terminationGracePeriodSeconds: 1',
  '      containers:',
  '        - name: hello',
  '          image: IMAGE',
  '          readinessProbe: { httpGet: { path: /healthz, port: 8080 }, periodSeconds: 1 }',
  '---',
  'apiVersion: policy/v1',
  'kind: PodDisruptionBudget',
  'metadata: { name: web, namespace: default }',
  'spec: { minAvailable: 2, selector: { matchLabels: { app: web } } }',
  '',
].join('\n');

/** The Deployment with its budget applied afresh, both pods Ready; returns the node of the first pod. */
async function blockingWorkload(): Promise<string> {
  const yaml = WEB.replace('IMAGE', `${suite.lab.kubernetes.imageRepository}/hello:1`);
  await sh('h1', `${writeFileCommand('/root/web.yaml', yaml)} && ${ADMIN} apply -f /root/web.yaml >/dev/null`);
  await sh('h1', `${ADMIN} patch pdb web --type=merge -p '{"spec":{"minAvailable":2}}' >/dev/null`);
  return pollUntil(
    async () => {
      const out = await sh(
        'h1',
        `${ADMIN} get pods -l app=web -o jsonpath='{range .items[*]}{.spec.nodeName} {.status.conditions[?(@.type=="Ready")].status} {.metadata.deletionTimestamp}{"\\n"}{end}'`,
      );
      const pods = out.trim().split('\n').filter(Boolean);
      const allowed = (
        await sh('h1', `${ADMIN} get pdb web -o jsonpath='{.status.currentHealthy} {.status.disruptionsAllowed}'`)
      ).trim();
      // "node True" per pod; a third field (deletionTimestamp) means it is going away.
      const ready = pods.map((p) => p.trim().split(/\s+/)).filter(([, r, gone]) => r === 'True' && !gone);
      const ok = pods.length === 2 && ready.length === 2 && allowed === '2 0';
      return ok ? pods[0]!.split(' ')[0] : undefined;
    },
    'web: 2 pods Ready and the budget at 0 disruptions allowed',
    180_000,
    500,
  );
}

const cordoned = async (node: string): Promise<boolean> =>
  (await sh('h1', `${ADMIN} get node ${node} -o jsonpath='{.spec.unschedulable}'`)).trim() === 'true';

const viaH1 = (): HostContext => ({
  target: targetOf(suite.inventory.hosts.find((h) => h.name === 'h1')!),
  ssh: suite.inventory.ssh,
});

function drainRunbook(node: string): Runbook {
  const host = suite.inventory.hosts.find((h) => h.name === node)!;
  const o = { via: viaH1(), cluster: suite.inventory.cluster.name, node };
  return runbookFor('drain-test', 'drain test', suite.inventory, 'decide', [
    {
      id: 'workers',
      title: 'workers',
      kind: 'hosts',
      rollout: { kind: 'serial' },
      hosts: [
        { target: targetOf(host), steps: [drainStep({ ...o, timeoutSeconds: 8 }), uncordonStep(o)], maySkip: true },
      ],
    },
  ]);
}

async function runOnce(rb: Runbook): Promise<RunbookResult> {
  const h = await suite.temporal.client.workflow.start('runTestRunbook', {
    taskQueue,
    workflowId: `${suite.inventory.cluster.name}/drain/${uniqueQueue('once')}`,
    args: [rb],
  });
  return (await h.result()) as RunbookResult;
}

async function startDrain(node: string): Promise<WorkflowHandle> {
  return suite.temporal.client.workflow.start('runTestRunbook', {
    taskQueue,
    workflowId: `${suite.inventory.cluster.name}/drain/${uniqueQueue(node)}`,
    args: [drainRunbook(node)],
  });
}

/** The drain's decision gate, once it waits (a different one than `after`, when given). */
const blocked = (h: WorkflowHandle, after?: string): Promise<WaitingDecision> =>
  pollUntil(
    async () => {
      const w: Waiting[] = (await h.query(progressQuery)).waiting ?? [];
      return w.find((x): x is WaitingDecision => x.kind === 'decide' && x.since !== after);
    },
    'the drain waiting for a decision',
    180_000,
    500,
  );

function expectBlockedBy(w: WaitingDecision, node: string): void {
  expect(w).toMatchObject({ host: node, step: 'drainNode', maySkip: true });
  expect(w.error).toMatch(
    new RegExp(
      `^drain of ${node} blocked by PodDisruptionBudget default/web \\(minAvailable 2, 2 healthy of 2 wanted, 0 disruptions allowed; pods default/web-[a-z0-9-]+(, default/web-[a-z0-9-]+)?\\); gave up after 8 s, ${node} uncordoned again$`,
    ),
  );
  expect(w.options).toEqual([
    { name: WAIT_LONGER, title: 'drain again, waiting up to 32 s for the budgets' },
    { name: EVICT_ANYWAY, title: expect.stringMatching(/not honoured/) as unknown },
  ]);
}

describe('drain honouring PodDisruptionBudgets, with decisions (real cluster)', () => {
  it('blocked: the node is uncordoned while it waits; retry waits again; evict-anyway deletes the pods and completes', async () => {
    const node = await blockingWorkload();
    const h = await startDrain(node);
    const first = await blocked(h);
    expectBlockedBy(first, node);
    expect(await cordoned(node)).toBe(false);

    await h.executeUpdate(decideUpdate, { args: [{ action: 'retry', host: node, by: 'test' }] });
    const second = await blocked(h, first.since);
    expectBlockedBy(second, node);
    expect(await cordoned(node)).toBe(false);

    await h.executeUpdate(decideUpdate, { args: [{ action: 'retry', option: EVICT_ANYWAY, host: node, by: 'test' }] });
    const res = (await h.result()) as RunbookResult;
    const drained = resultOf<DrainNodeResult>(res, node, 'drainNode')!;
    expect(drained.evictionDisabled).toBe(true);
    expect(drained.moved.some((p) => p.startsWith('default/web-'))).toBe(true);
    expect(res.gates.map((g) => [g.action, g.option])).toEqual([
      ['retry', undefined],
      ['retry', EVICT_ANYWAY],
    ]);
    expect(await cordoned(node)).toBe(false);
    note(`evict-anyway drain of ${node}: ${drained.elapsedMs} ms`);
  });

  it('blocked, then the budget allows one disruption: wait-longer evicts through the budget', async () => {
    const node = await blockingWorkload();
    const h = await startDrain(node);
    await blocked(h);
    await sh('h1', `${ADMIN} patch pdb web --type=merge -p '{"spec":{"minAvailable":1}}' >/dev/null`);
    await pollUntil(
      async () => (await sh('h1', `${ADMIN} get pdb web -o jsonpath='{.status.disruptionsAllowed}'`)).trim() === '1',
      'the budget allowing one disruption',
      60_000,
    );
    // One pod at a time: the second eviction waits until the first one's replacement is Ready elsewhere.
    await h.executeUpdate(decideUpdate, { args: [{ action: 'retry', option: WAIT_LONGER, host: node, by: 'test' }] });
    const res = (await h.result()) as RunbookResult;
    const drained = resultOf<DrainNodeResult>(res, node, 'drainNode')!;
    expect(drained.evictionDisabled).toBe(false);
    note(`wait-longer drain of ${node} through the budget: ${drained.elapsedMs} ms`);
    expect(drained.moved.some((p) => p.startsWith('default/web-'))).toBe(true);
    expect(await cordoned(node)).toBe(false);
  });

  it('blocked, skip: the run completes without the node, which is not cordoned', async () => {
    const node = await blockingWorkload();
    const h = await startDrain(node);
    await blocked(h);
    await h.executeUpdate(decideUpdate, { args: [{ action: 'skip', host: node, by: 'test' }] });
    const res = (await h.result()) as RunbookResult;
    expect(res.skipped).toEqual([node]);
    expect(resultOf(res, node, 'uncordonNode')).toBeUndefined();
    expect(await cordoned(node)).toBe(false);
    // Both pods still run: nothing was evicted.
    expect((await sh('h1', `${ADMIN} get pods -l app=web --no-headers | grep -c Running`)).trim()).toBe('2');
  });

  it('blocked, abort: the run fails RunAborted naming the budget, and the node is not cordoned', async () => {
    const node = await blockingWorkload();
    const h = await startDrain(node);
    await blocked(h);
    await h.executeUpdate(decideUpdate, { args: [{ action: 'abort', by: 'test', reason: 'later' }] });
    const err = await h.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause;
    expect(cause?.message).toMatch(
      new RegExp(
        `aborted by test \\(later\\): ${node}: drainNode: drain of ${node} blocked by PodDisruptionBudget default/web`,
      ),
    );
    expect(await cordoned(node)).toBe(false);
  });

  it('uncordonNode is idempotent: a cordoned node is uncordoned once, the second call changes nothing', async () => {
    await sh('h1', `${ADMIN} cordon h3 >/dev/null`);
    const o = { via: viaH1(), cluster: suite.inventory.cluster.name, node: 'h3' };
    const res = await runOnce(
      runbookFor('drain-test', 'uncordon twice', suite.inventory, 'decide', [
        { id: 'uncordon', title: 'uncordon twice', kind: 'once', steps: [uncordonStep(o), uncordonStep(o)] },
      ]),
    );
    expect(res.steps.map((s) => (s.result as { changed: boolean }).changed)).toEqual([true, false]);
    expect(await cordoned('h3')).toBe(false);
  });

  it('a later step fails and the operator aborts: the undo list uncordons the node this run drained', async () => {
    await blockingWorkload();
    await sh('h1', `${ADMIN} patch pdb web --type=merge -p '{"spec":{"minAvailable":1}}' >/dev/null`);
    const o = { via: viaH1(), cluster: suite.inventory.cluster.name, node: 'h3' };
    const rb = drainRunbook('h3');
    const workers = rb.phases[0] as HostPhase;
    // The upgrade step after the drain fails for good (an invalid node name is refused before any call).
    workers.hosts[0]!.steps = [drainStep({ ...o, timeoutSeconds: 60 }), uncordonStep({ ...o, node: 'Not_A_Node' })];
    const h = await suite.temporal.client.workflow.start('runTestRunbook', {
      taskQueue,
      workflowId: `${suite.inventory.cluster.name}/drain/${uniqueQueue('undo')}`,
      args: [rb],
    });
    const w = await blocked(h);
    expect(w).toMatchObject({ host: 'h3', step: 'uncordonNode' });
    expect(await cordoned('h3')).toBe(true);
    await h.executeUpdate(decideUpdate, { args: [{ action: 'abort', by: 'test' }] });
    const err = await h.result().then(
      () => undefined,
      (e: unknown) => e as WorkflowFailedError,
    );
    expect(err?.cause?.message).toMatch(/undone: h3: uncordonNode/);
    expect(await cordoned('h3')).toBe(false);
  });
});
