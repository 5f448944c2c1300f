// Running one cluster operation from the CLI: start the workflow (or attach to the one already running under the
// same id — that is how a person resumes), make sure a worker serves it, show live progress and the Web UI link,
// and return the result. Every operation command (preflight, setup, upgrade, …) goes through here.
import { Client, WorkflowExecutionAlreadyStartedError, type WorkflowHandle } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import type { SshTrust } from '../activities/ssh-trust.js';
import type { KubeadmHaWorker } from '../worker.js';
import { InvalidInputError, OperationRunningError } from '../errors.js';
import type { Progress } from '../plan/types.js';
import { progressQuery } from '../workflows/messages.js';
import { DEFAULT_TASK_QUEUE } from '../workflows/ids.js';
import { workflowUiLink } from '../temporal/connection.js';
import { dataConverter } from '../temporal/data-converter.js';
import { ClusterName, KubernetesVersion, Operation } from '../temporal/search-attributes.js';
import { WORKFLOW_TASK_TIMEOUT } from '../temporal/workflow-start.js';
import { formatChange, inputChanges } from './input-diff.js';
import { ProgressView } from './progress.js';
import { runningInput } from './running-input.js';
import { livePollers, stalledWork } from './worker-watch.js';

export type WorkerMode = 'auto' | 'embedded' | 'external';

export interface OperationSpec<A> {
  workflowType: string;
  workflowId: string;
  args: [A];
  cluster: string;
  /** The Operation search attribute (one per command group: `etcd` for etcd setup, snapshot and restore). */
  operation: string;
  /** The command as the operator typed it (`etcd restore`, `certs renew --etcd`): what the run's summary names. */
  command: string;
  /** What tells this run apart from another of the same command (`to 1.34.12`, `(1.34.12)`). Never a secret. */
  about?: string;
  kubernetesVersion: string;
  /** The hosts the run works on: shown in the Web UI's details of the run. */
  hosts?: string[];
}

/**
 * Temporal caps a start's user metadata: 400 bytes of summary payload data and 20,000 of details by default
 * (limit.userMetadataSummarySize / limit.userMetadataDetailsSize, server 1.29 dynamic config). Our codec encrypts
 * them, which adds 61 bytes to the data (the payload's own metadata, IV, GCM tag: measured on the dev server), and
 * a JSON string escapes some characters: so the plain text stays well under both.
 */
export const SUMMARY_MAX_BYTES = 300;
export const DETAILS_MAX_HOSTS = 40;

/** At most `max` bytes of UTF-8, cut at a character and marked with `…`; on one line (Temporal: single-line). */
function fit(text: string, max: number): string {
  const line = text.replace(/\p{Cc}+/gu, ' ');
  if (Buffer.byteLength(line) <= max) return line;
  let out = '';
  for (const ch of line) {
    if (Buffer.byteLength(out + ch) > max - Buffer.byteLength('…')) break;
    out += ch;
  }
  return `${out}…`;
}

/**
 * What the Web UI lists a run by and heads its page with: the command an operator ran, on which cluster, and what
 * tells it apart (`etcd restore of lab1 from snap.db`, `upgrade of lab1 to 1.34.12`). Short and free of secrets.
 */
export function runSummary(spec: Pick<OperationSpec<unknown>, 'command' | 'cluster' | 'about'>): string {
  return fit(`${spec.command} of ${spec.cluster}${spec.about ? ` ${spec.about}` : ''}`, SUMMARY_MAX_BYTES);
}

/** The run page's fixed details (Markdown): command and workflow type, cluster and version, hosts (the first 40). */
export function runStaticDetails(spec: Omit<OperationSpec<unknown>, 'args' | 'workflowId'>): string {
  const hosts = spec.hosts ?? [];
  const shown = hosts.slice(0, DETAILS_MAX_HOSTS).join(', ');
  const more = hosts.length > DETAILS_MAX_HOSTS ? `, … (${hosts.length - DETAILS_MAX_HOSTS} more)` : '';
  return [
    `operation: **${spec.command}** (${spec.workflowType})`,
    `cluster: **${spec.cluster}**, Kubernetes ${spec.kubernetesVersion}`,
    ...(spec.hosts ? [`hosts (${hosts.length}): ${shown}${more}`] : []),
  ].join('\n\n');
}

export interface OperationContext {
  client: Client;
  namespace: string;
  taskQueue?: string;
  uiBaseUrl?: string;
  /** Turns a Web UI link into one that logs the browser in first (the local Web UI's codec needs a session). */
  uiLink?: (url: string) => string;
  /** Opens a worker connection when an embedded worker is needed. */
  workerConnection: () => Promise<NativeConnection>;
  workerMode: WorkerMode;
  /** A run of the same operation is already going: terminate it and start anew instead of attaching. */
  restart?: boolean;
  json: boolean;
  /** Where progress and notes go (stderr, so --json stdout stays clean). */
  out: NodeJS.WriteStream;
  /** SSH trust for an embedded worker: from the inventory the operator gave this command. */
  sshTrust?: SshTrust;
}

/** A worker embedded before the start, and a client on its connection (see runOperation). */
interface ReadyWorker {
  worker: KubeadmHaWorker;
  taskQueue: string;
  client: Client;
}

/**
 * The worker this command embeds, made before the run starts, when it will embed one for the run's task queue
 * (--worker embedded, or auto with no worker polling): the start then goes through a client on the worker's own
 * connection and asks for the run's first workflow task in its reply (eager start; Temporal server 1.29 allows it
 * by default), which skips a trip through matching. Without one (external workers) the run starts as before.
 */
async function embedFirst(ctx: OperationContext): Promise<ReadyWorker | undefined> {
  const taskQueue = ctx.taskQueue ?? DEFAULT_TASK_QUEUE;
  if (ctx.workerMode === 'external') return undefined;
  if (ctx.workerMode === 'auto' && (await livePollers(ctx.client, ctx.namespace, taskQueue)) > 0) return undefined;
  const connection = await ctx.workerConnection();
  const { createKubeadmHaWorker } = await import('../worker.js');
  const worker = await createKubeadmHaWorker({
    connection,
    namespace: ctx.namespace,
    taskQueue,
    ...(ctx.sshTrust && { sshTrust: ctx.sshTrust }),
  });
  const client = new Client({
    connection,
    namespace: ctx.namespace,
    identity: ctx.client.options.identity,
    dataConverter: dataConverter(),
  });
  return { worker, taskQueue, client };
}

async function startOrAttach<A>(
  ctx: OperationContext,
  spec: OperationSpec<A>,
  ready?: ReadyWorker,
): Promise<{ handle: WorkflowHandle; attached: boolean }> {
  const taskQueue = ctx.taskQueue ?? DEFAULT_TASK_QUEUE;
  const start = async () => {
    const started = await (ready?.client ?? ctx.client).workflow.start(spec.workflowType, {
      ...(ready && { requestEagerStart: true }),
      workflowId: spec.workflowId,
      taskQueue,
      args: spec.args,
      workflowIdConflictPolicy: 'FAIL',
      workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT,
      // What the Web UI lists and heads the run's page with (the workflow adds its live details).
      staticSummary: runSummary(spec),
      staticDetails: runStaticDetails(spec),
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      typedSearchAttributes: [
        { key: ClusterName, value: spec.cluster },
        { key: Operation, value: spec.operation },
        { key: KubernetesVersion, value: spec.kubernetesVersion },
      ],
    });
    // Watched, queried and described through the command's own client, as a run it attached to.
    return ctx.client.workflow.getHandle(started.workflowId, undefined, {
      firstExecutionRunId: started.firstExecutionRunId,
    });
  };
  try {
    return { handle: await start(), attached: false };
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
  const desc = await ctx.client.workflow.getHandle(spec.workflowId).describe();
  const { runId } = desc;
  // Another operation under the same id: cluster-changing operations share one id per cluster (src/workflows/ids.ts),
  // so this is a setup, upgrade or uninstall that runs now. Never attach to it, never terminate it (--restart is for a
  // run of this same operation): name it and stop.
  if (desc.type !== spec.workflowType) {
    const running = desc.typedSearchAttributes.get(Operation) ?? desc.type;
    throw new OperationRunningError(
      [
        `cluster ${spec.cluster}: ${running} is running (workflow ${spec.workflowId}, run ${runId}, ` +
          `started ${desc.startTime.toISOString()}); ${spec.command} cannot start until it has ended.`,
        `Follow it: kubeadm2ha resume --workflow-id ${spec.workflowId}; or see it: kubeadm2ha status -i <inventory>`,
      ].join('\n'),
    );
  }
  // Same cluster, same operation, still running: attach instead of starting a second one — but only to a run of
  // this same input. Attaching an edited inventory to the old run would silently carry out the old one.
  const running = ctx.client.workflow.getHandle(spec.workflowId, runId);
  const changes = inputChanges(await runningInput(ctx.client, spec.workflowId, runId), spec.args[0]);
  if (ctx.restart) {
    const what = changes.length ? `input changed at ${changes.map((c) => c.path).join(', ')}` : 'same input';
    await running.terminate(`restarted from the kubeadm2ha CLI (--restart; ${what})`);
    ctx.out.write(`terminated the running ${spec.command} of ${spec.cluster} (run ${runId}): --restart\n`);
    return { handle: await start(), attached: false };
  }
  if (changes.length === 0) return { handle: running, attached: true };
  throw new InvalidInputError(
    [
      `${spec.workflowId} is already running (run ${runId}) with a different input:`,
      ...changes.map((c) => `  ${formatChange(c)}`),
      'Either rerun this command with --restart (terminates the running run, then starts anew with this input),',
      `or go on with the running run as it is: kubeadm2ha resume --workflow-id ${spec.workflowId}`,
    ].join('\n'),
  );
}

export async function runOperation<A, R>(ctx: OperationContext, spec: OperationSpec<A>): Promise<R> {
  const ready = await embedFirst(ctx);
  let started: { handle: WorkflowHandle; attached: boolean };
  try {
    started = await startOrAttach(ctx, spec, ready);
  } catch (err) {
    await ready?.worker.run(Promise.resolve()); // started and stopped: nothing for it to run
    throw err;
  }
  return followOperation<R>(ctx, started.handle, {
    label: `${started.attached ? 'attached to running' : 'started'} ${runSummary(spec)}`,
    ...(ready && { ready }),
  });
}

/**
 * Watch a workflow to its end: print the Web UI link, make sure a worker serves it (embedding one when none polls),
 * draw live progress, and return its result. `resume` uses this alone, on a workflow started earlier.
 */
export async function followOperation<R>(
  ctx: OperationContext,
  handle: WorkflowHandle,
  opts: {
    label: string;
    /** The worker runOperation embedded before the start (embedFirst): serves the run when it is on its task queue
     * (an attached run may be on another), else it is stopped unused. */
    ready?: ReadyWorker;
  },
): Promise<R> {
  const desc = await handle.describe().catch(async (err: unknown) => {
    // The worker embedFirst made holds the run's first workflow task (handed eagerly): stop it, or that task waits
    // out its timeout before another worker gets it.
    await opts.ready?.worker.run(Promise.resolve());
    throw err;
  });
  // The workflow's own queue: a resumed run keeps the queue it was started on, whatever today's flags say.
  const taskQueue = desc.taskQueue || ctx.taskQueue || DEFAULT_TASK_QUEUE;
  const note = (s: string) => ctx.out.write(`${s}\n`);
  note(`${opts.label}: workflow ${handle.workflowId}`);
  if (ctx.uiBaseUrl) {
    const link = workflowUiLink(ctx.uiBaseUrl, ctx.namespace, handle.workflowId, desc.runId);
    note(`Web UI: ${ctx.uiLink ? ctx.uiLink(link) : link}`);
  }

  const ready = opts.ready?.taskQueue === taskQueue ? opts.ready : undefined;
  if (opts.ready && !ready) await opts.ready.worker.run(Promise.resolve());
  const result = handle.result() as Promise<R>;
  let embedded: Promise<unknown> | undefined;
  const embed = async (why: string): Promise<void> => {
    note(`worker: embedded in this process${why} (stop it and run \`kubeadm2ha resume\` to go on later)`);
    const { createKubeadmHaWorker } = await import('../worker.js');
    const w =
      ready?.worker ??
      (await createKubeadmHaWorker({
        connection: await ctx.workerConnection(),
        namespace: ctx.namespace,
        taskQueue,
        ...(ctx.sshTrust && { sshTrust: ctx.sshTrust }),
      }));
    embedded = w.run(
      result.then(
        () => undefined,
        () => undefined,
      ),
    );
  };
  const pollers = ready || ctx.workerMode === 'embedded' ? 0 : await livePollers(ctx.client, ctx.namespace, taskQueue);
  if (ready || ctx.workerMode === 'embedded' || (ctx.workerMode === 'auto' && pollers === 0)) await embed('');
  else note(`worker: ${pollers || 'external'} worker(s) polling task queue ${taskQueue}`);

  const view = ctx.json ? undefined : new ProgressView(ctx.out);
  let settled = false;
  let settle!: () => void;
  const settledNow = new Promise<void>((r) => (settle = r));
  // A pause that ends early once the run has settled: the loops below must not hold the result back by their sleep.
  const pause = (ms: number) => Promise.race([settledNow, new Promise<void>((r) => setTimeout(r, ms))]);
  let warned = false;
  const watch = (async () => {
    while (!settled) {
      try {
        const p: Progress = await handle.query(progressQuery);
        view?.update(p);
      } catch {
        // Not queryable yet (no workflow task processed) or the worker is restarting: try again shortly.
      }
      await pause(250);
    }
  })();
  // Apart from the query loop: a query with no worker to answer it waits for its deadline (tens of seconds).
  const watchdog = (async () => {
    while (!settled && !embedded) {
      await pause(1_000);
      if (settled) break;
      // While other workers are trusted: are they picking up the work? Never wait on one that is not.
      const stalled = stalledWork(await handle.describe().catch(() => desc));
      if (!stalled || settled) continue;
      if (ctx.workerMode === 'auto') await embed(`: no polling worker picked up work (${stalled})`);
      else if (!warned) {
        warned = true;
        note(
          `worker: no worker is picking up work (${stalled}); start \`kubeadm2ha worker\` on task queue ${taskQueue}`,
        );
      }
    }
  })();
  try {
    const out = await result;
    try {
      view?.update(await handle.query(progressQuery));
    } catch {
      /* the final state is in the result anyway */
    }
    return out;
  } finally {
    settled = true;
    settle();
    await watch;
    await watchdog;
    await embedded;
  }
}
