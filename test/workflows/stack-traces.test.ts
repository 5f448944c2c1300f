// Workflow stack traces are off by default (src/workflows/sandbox-stack-traces.ts: the SDK takes one for every
// promise a workflow creates, a third of a preflight's workflow-thread CPU) and on with
// KUBEADM2HA_WORKFLOW_STACK_TRACES=1. Real worker, real dev server; the bundles are the project's bundler options
// (workflowBundleOptions) around a fixture workflow that parks on a signal.
import { join } from 'node:path';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stackTracesFromEnv, workflowBundleOptions } from '../../src/temporal/bundle.js';
import { CODEC_ENV, dataConverter } from '../../src/temporal/data-converter.js';
import { connectTemporal, pollUntil, uniqueQueue } from '../e2e/helpers.js';
import { setEnv } from '../support/env.js';
import { errorStackQuery, releaseSignal } from './fixtures/parked-workflow.js';

const fixture = join(import.meta.dirname, 'fixtures', 'parked-workflow.ts');
let temporal: Awaited<ReturnType<typeof connectTemporal>>;
let restoreEnv: (() => void) | undefined;
const bundles = {} as Record<'off' | 'on', WorkflowBundleWithSourceMap>;

beforeAll(async () => {
  restoreEnv = setEnv({ [CODEC_ENV]: 'off' });
  for (const mode of ['off', 'on'] as const)
    bundles[mode] = await bundleWorkflowCode({
      ...workflowBundleOptions(undefined, undefined, { stackTraces: mode === 'on' }),
      workflowsPath: fixture,
    });
  temporal = await connectTemporal();
}, 300_000);
afterAll(async () => {
  await temporal?.close();
  restoreEnv?.();
});

/** Runs the fixture on a worker with this bundle; returns what the queries answered while it was parked. */
async function parkedRun(mode: 'off' | 'on'): Promise<{ stackTrace: string; errorStack: string; result: string }> {
  const taskQueue = uniqueQueue(`stack-traces-${mode}`);
  const worker = await Worker.create({
    connection: temporal.native,
    taskQueue,
    workflowBundle: bundles[mode],
    dataConverter: dataConverter(),
  });
  return worker.runUntil(async () => {
    const handle = await temporal.client.workflow.start('parkedWorkflow', { taskQueue, workflowId: taskQueue });
    const errorStack = await pollUntil(
      () => handle.query(errorStackQuery).catch(() => undefined),
      'the parked workflow answering queries',
    );
    const stackTrace = await handle.query<string>('__stack_trace');
    await handle.signal(releaseSignal);
    const result: unknown = await handle.result();
    return { stackTrace, errorStack, result: String(result) };
  });
}

describe('workflow stack traces', () => {
  it('are off by default: the run works, the stack trace query and errors made by workflow code carry no frames', async () => {
    const { stackTrace, errorStack, result } = await parkedRun('off');
    expect(result).toBe('released');
    expect(errorStack.trim()).toBe('Error: probe');
    expect(stackTrace).not.toMatch(/waitForRelease|parkedWorkflow|parked-workflow/);
    expect(stackTracesFromEnv({})).toBe(false);
  });

  it('are on with KUBEADM2HA_WORKFLOW_STACK_TRACES=1: the query names the waiting functions at their source lines', async () => {
    const { stackTrace, errorStack, result } = await parkedRun('on');
    expect(result).toBe('released');
    expect(stackTrace).toMatch(/at waitForRelease \(.*parked-workflow\.ts:\d+:\d+\)/);
    expect(errorStack).toMatch(/^Error: probe\n\s+at /);
    expect(stackTracesFromEnv({ KUBEADM2HA_WORKFLOW_STACK_TRACES: '1' })).toBe(true);
    expect(stackTracesFromEnv({ KUBEADM2HA_WORKFLOW_STACK_TRACES: 'off' })).toBe(false);
  });
});
