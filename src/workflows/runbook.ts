// The one executor: runs a Runbook (src/plan/runbook.ts) exactly as planned. Phases in order; a per-host phase fans
// out per its rollout; each host goes through its steps in order; a once phase runs its steps one time.
//
//   const result = await runRunbook(runbook, { describe });   // in a workflow, after planning
//
// What it adds around each step (so no workflow hand-rolls it again):
//  - progress: the `progress` query, per host and step, plus the gates waiting for a person; the same lines are the
//    workflow's current details in the Web UI;
//  - bindings: arguments filled from earlier steps' results (why: see Binding in src/plan/runbook.ts);
//  - the decision gate: a step that fails for good (non-retryable, or retries exhausted) parks the run until
//    `kubeadm2ha decide` (update) or the `decide` signal says retry (run the step again), skip (this host is left
//    out from here on; only hosts with maySkip) or abort (run this run's undo list newest first, then fail). With
//    onFailure 'abort' nobody is asked: the phase finishes what is in flight, and the run fails naming every
//    failed host;
//  - the approval gate: a phase (or each of its hosts) waits for `kubeadm2ha approve`; a deadline turns into a
//    decision ("approval timed out"), never into a change;
//  - the undo list: a step with `undo` registers it once it succeeded.
// Who decided or approved, when, why and how it arrived is recorded and returned.
//
// A phase with more hosts than fit one workflow history (src/plan/scale.ts) runs as child workflows
// (`runbookBatch`), each a batch of its hosts with the same step code. The gates stay on the run: a child that parks
// tells the run, which waits and answers exactly as for its own hosts, so `decide`/`approve` go to the run as always.
import {
  ApplicationFailure,
  ChildWorkflowFailure,
  condition,
  executeChild,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  setHandler,
  startChild,
  workflowInfo,
  type ChildWorkflowHandle,
} from '@temporalio/workflow';
import type { SignalDefinition, UpdateDefinition } from '@temporalio/common';
import { isUnencrypted, unwrapUnencrypted } from '../codec/unencrypted.js';
import { FailureType } from '../errors.js';
import {
  approvalTargets,
  decisionTargets,
  parseApproval,
  parseDecision,
  type Approval,
  type Decision,
  type GateRecord,
  type Waiting,
  type WaitingApproval,
  type WaitingDecision,
} from '../plan/gates.js';
import {
  batchesOf,
  ONCE,
  progressPlan,
  resolveBinding,
  stepKey,
  UnboundStepError,
  type ActivityName,
  type Binding,
  type ChildPhase,
  type HostPhase,
  type HostRun,
  type Phase,
  type Runbook,
  type Step,
  type StepCall,
} from '../plan/runbook.js';
import { childPlan, hostsPerHistory } from '../plan/scale.js';
import type { HostTarget, Progress } from '../plan/types.js';
import { WORKFLOW_TASK_TIMEOUT } from '../temporal/workflow-start.js';
import { activities } from './activity-options.js';
import { failureMessage, failureType } from './failure-info.js';
import {
  approveSignal,
  approveUpdate,
  batchAbortSignal,
  batchGateSignal,
  batchSettledSignal,
  decideSignal,
  decideUpdate,
  runbookQuery,
  type BatchGate,
} from './messages.js';
import { beginOperation, trackProgress } from './operation.js';

/** A completed step and what its activity returned. */
export interface StepOutcome {
  phase: string;
  /** Host name, or ONCE for once-phase steps. */
  host: string;
  step: ActivityName;
  result: unknown;
  /** Workflow time the step completed. */
  at: string;
}

/** A step that failed for good in a run that ended failed. */
export interface StepFailure {
  phase: string;
  host: string;
  step: string;
  message: string;
  type?: string;
}

export interface RunbookResult {
  /** In completion order. */
  steps: StepOutcome[];
  /** Hosts an operator skipped. */
  skipped: string[];
  /** Hosts rolled back by decision, once per rollback (absent when none). */
  rolledBack?: string[];
  /** Every decision and approval, in order. */
  gates: GateRecord[];
}

/** The details of a RunFailed / RunAborted failure: what the CLI prints as `host: step: message` lines. */
export interface RunFailureDetails {
  failures: StepFailure[];
  undone: string[];
  undoErrors: string[];
  gates: GateRecord[];
}

export interface RunbookHooks {
  /** A short progress message for a step's result (e.g. "etcd 3.6.5 installed"). */
  describe?: (step: Step, result: unknown) => string | undefined;
}

/** Thrown through a host's lane when an operator skipped it. */
class HostSkipped extends Error {}
/** Thrown through a host's lane when an operator decided to roll it back. */
class HostRollback extends Error {}
/** Thrown through every lane once the run is aborted. */
class Aborted extends Error {}
/** Thrown through a lane when a step failed for good and nobody is asked (onFailure 'abort'). */
class StepFailed extends Error {
  constructor(readonly failure: StepFailure) {
    super(failure.message);
  }
}

interface DecisionEntry {
  w: WaitingDecision;
  record?: GateRecord;
}
interface ApprovalEntry {
  w: WaitingApproval;
  record?: GateRecord;
}

interface UndoEntry {
  host: string;
  target?: HostTarget;
  call: StepCall;
}

/** What a `runbookBatch` child gets: one phase with its batch of hosts, and the results its bindings may read. */
export interface RunbookBatchInput {
  runbook: Runbook;
  /** Earlier steps' results its steps bind to (the once phases', its hosts', and any a fromEachHost binding reads). */
  outcomes: StepOutcome[];
}

/** What a child hands back to its run: everything the run would have recorded, had the hosts run in it. */
export interface RunbookBatchResult {
  outcomes: StepOutcome[];
  /** Newest first. */
  undo: UndoEntry[];
  skipped: string[];
  failures: StepFailure[];
  hosts: Progress['hosts'];
}

/** The operation itself, or a child running one batch of a phase's hosts for it. */
type Role = { kind: 'run' } | { kind: 'batch'; parent: string; seed: StepOutcome[] };

const now = (): string => new Date(Date.now()).toISOString();
/** Activity messages already start with the host ("h1: unreachable: …"); say it once. */
const withoutHost = (host: string, message: string): string =>
  message.startsWith(`${host}: `) ? message.slice(host.length + 2) : message;

/** A field of a step result by dot path; '' is the whole result. */
export async function runRunbook(rb: Runbook, hooks: RunbookHooks = {}): Promise<RunbookResult> {
  return (await execute(rb, hooks, { kind: 'run' })) as RunbookResult;
}

/**
 * Child workflow: one batch of a big phase's hosts, for the run that started it. Returns what happened, failures
 * included: only the run decides how a run ends (and runs the undo list).
 */
export async function runbookBatch(input: RunbookBatchInput): Promise<RunbookBatchResult> {
  // Started only by a run with the worker's keyring; anything else is refused, as acceptInput does for runs.
  if (isUnencrypted(input) || !workflowInfo().parent) {
    throw ApplicationFailure.nonRetryable(
      'runbookBatch: refused: it runs only as a child of a kubeadm2ha run, started with the worker keyring',
      FailureType.InvalidInput,
    );
  }
  const parent = workflowInfo().parent!.workflowId;
  return (await execute(input.runbook, {}, { kind: 'batch', parent, seed: input.outcomes })) as RunbookBatchResult;
}

async function execute(rb: Runbook, hooks: RunbookHooks, role: Role): Promise<RunbookResult | RunbookBatchResult> {
  const plan = { cluster: rb.cluster, kubernetesVersion: rb.kubernetesVersion, hosts: progressPlan(rb) };
  const progress = role.kind === 'run' ? beginOperation(rb.operation, rb.title, plan) : trackProgress(rb.title, plan);
  const outcomes: StepOutcome[] = role.kind === 'batch' ? [...role.seed] : [];
  const skipped = new Set<string>();
  const rolledBack: string[] = [];
  const gates: GateRecord[] = [];
  const undoList: UndoEntry[] = [];
  const failures: StepFailure[] = [];
  const decisions: DecisionEntry[] = [];
  const approvals: ApprovalEntry[] = [];
  let aborted: GateRecord | undefined;

  const waiting = (): Waiting[] => [...decisions.map((d) => d.w), ...approvals.map((a) => a.w)];
  const refreshWaiting = () => {
    const w = waiting();
    // Also the Web UI's current details (src/plan/run-details.ts): what waits, and how to answer it.
    progress.setWaiting(w);
  };

  // --- messages -----------------------------------------------------------------------------------------------
  setHandler(runbookQuery, () => rb);

  const byOf = (by: string | undefined, unencrypted: boolean): string =>
    unencrypted ? `web-ui${by ? ` (${by})` : ''}` : (by ?? 'unknown');

  /** Record who let which waiting gates go on; the waiting code wakes up on `record`. */
  const settle = <W extends Waiting>(
    entries: { w: W; record?: GateRecord }[],
    targets: W[],
    v: { reason?: string; by?: string },
    via: GateRecord['via'],
    unencrypted: boolean,
    fields: (w: W) => Pick<GateRecord, 'kind' | 'phase' | 'host' | 'action' | 'option' | 'step' | 'error'>,
  ): GateRecord[] => {
    const records = targets.map((w): GateRecord => {
      const r: GateRecord = {
        ...fields(w),
        ...(v.reason !== undefined && { reason: v.reason }),
        by: byOf(v.by, unencrypted),
        at: now(),
        via,
        unencrypted,
      };
      const entry = entries.find((e) => e.w === w);
      if (entry) entry.record = r;
      return r;
    });
    gates.push(...records);
    return records;
  };
  const decide = (d: Decision, ws: WaitingDecision[], via: GateRecord['via'], unencrypted: boolean) => {
    const records = settle(decisions, ws, d, via, unencrypted, (w) => ({
      kind: 'decide',
      action: d.action,
      ...(d.option !== undefined && { option: d.option }),
      phase: w.phase,
      host: w.host,
      step: w.step,
      error: w.error,
    }));
    if (d.action === 'abort') aborted = records[0];
    return records;
  };
  const approve = (a: Approval, ws: WaitingApproval[], via: GateRecord['via'], unencrypted: boolean) =>
    settle(approvals, ws, a, via, unencrypted, (w) => ({
      kind: 'approve',
      phase: w.phase,
      ...(w.host !== undefined && { host: w.host }),
    }));
  // One check for update validators and signals: the payload may arrive wrapped as unencrypted (the worker's codec
  // marks what came without our encryption, e.g. from the Web UI); a decision is safe to take from there, and the
  // record says it came that way.
  const checked = <T, W>(
    payload: unknown,
    parse: (v: unknown) => T | string,
    targets: (ws: Waiting[], v: T) => W[] | string,
  ): { value: T; targets: W[]; unencrypted: boolean } | string => {
    const { value, unencrypted } = unwrapUnencrypted(payload);
    const parsed = parse(value);
    if (typeof parsed === 'string') return parsed;
    const t = targets(waiting(), parsed);
    return typeof t === 'string' ? t : { value: parsed, targets: t, unencrypted };
  };
  const reject = (why: string): never => {
    throw ApplicationFailure.nonRetryable(why, FailureType.DecisionRejected);
  };
  /** The update (validator rejects, with the reason) and the signal (logs and ignores) of one gate kind. */
  const handle = <T, W>(
    update: UpdateDefinition<GateRecord[], [T]>,
    signal: SignalDefinition<[unknown]>,
    parse: (v: unknown) => T | string,
    targets: (ws: Waiting[], v: T) => W[] | string,
    apply: (v: T, ws: W[], via: GateRecord['via'], unencrypted: boolean) => GateRecord[],
  ) => {
    setHandler(
      update,
      (v) => {
        const c = checked(v, parse, targets);
        return typeof c === 'string' ? reject(c) : apply(c.value, c.targets, 'update', c.unencrypted);
      },
      {
        validator: (v) => {
          const c = checked(v, parse, targets);
          if (typeof c === 'string') reject(c);
        },
      },
    );
    // A signal cannot be rejected: an invalid one is logged (the worker log and the history keep it) and ignored.
    setHandler(signal, (payload) => {
      const c = checked(payload, parse, targets);
      if (typeof c === 'string') log.warn(`ignored ${signal.name} signal: ${c}`);
      else apply(c.value, c.targets, 'signal', c.unencrypted);
    });
  };
  /** Child workflows of this run, by workflow id, while they run. */
  const children = new Map<string, ChildWorkflowHandle<typeof runbookBatch>>();
  /** Waits that answer children's gates; each ends once its gate is settled (or the run aborted). */
  const forwards: Promise<void>[] = [];
  /** A child's gate waits on the run: show it with ours, and send the child what the operator decides. */
  const forward = async (g: BatchGate): Promise<void> => {
    const entry: DecisionEntry | ApprovalEntry = { w: g.waiting } as DecisionEntry | ApprovalEntry;
    const list = (g.waiting.kind === 'decide' ? decisions : approvals) as { w: Waiting; record?: GateRecord }[];
    list.push(entry);
    refreshWaiting();
    const done = () => entry.record !== undefined || aborted !== undefined;
    // The child times its approval deadline out itself (and then parks at a decision it reports anew).
    const ms = g.waiting.kind === 'approve' && g.waiting.deadline ? Date.parse(g.waiting.deadline) - Date.now() : 0;
    if (ms > 0) await condition(done, ms);
    else await condition(done);
    list.splice(list.indexOf(entry), 1);
    refreshWaiting();
    const record = entry.record ?? aborted;
    if (record)
      await tell(g.child, () => getExternalWorkflowHandle(g.child).signal(batchSettledSignal, { id: g.id, record }));
  };
  /** A signal to a child that may have finished meanwhile (then it no longer needs it). */
  const tell = async (child: string, send: () => Promise<void>): Promise<void> => {
    try {
      await send();
    } catch (err) {
      if (isCancellation(err)) throw err;
      log.info(`${child} did not take a signal (it has ended): ${failureMessage(err)}`);
    }
  };

  /** The child's side: its gates go to the run, and the run's answers come back by id. */
  const parentGates = new Map<number, { record?: GateRecord }>();
  let gateCount = 0;
  const internal = <T>(name: string, payload: unknown): T | undefined => {
    const { value, unencrypted } = unwrapUnencrypted(payload);
    if (!unencrypted) return value as T;
    log.warn(`ignored ${name} signal: it came without the worker keyring`);
    return undefined;
  };

  if (role.kind === 'run') {
    handle(decideUpdate, decideSignal, parseDecision, decisionTargets, decide);
    handle(approveUpdate, approveSignal, parseApproval, approvalTargets, approve);
    setHandler(batchGateSignal, (payload) => {
      const g = internal<BatchGate>(batchGateSignal.name, payload);
      if (g && children.has(g.child)) forwards.push(forward(g));
      else if (g) log.warn(`ignored ${batchGateSignal.name} signal from ${g.child}: not a running child of this run`);
    });
  } else {
    setHandler(batchSettledSignal, (payload) => {
      const s = internal<{ id: number; record: GateRecord }>(batchSettledSignal.name, payload);
      const entry = s && parentGates.get(s.id);
      if (!s || !entry) return;
      entry.record = s.record;
      if (s.record.action === 'abort') aborted = s.record;
    });
    setHandler(batchAbortSignal, (payload) => {
      const r = internal<GateRecord>(batchAbortSignal.name, payload);
      if (r) aborted ??= r;
    });
  }
  /** Park at a gate until a person lets it go on (or the run is aborted). */
  const park = async <E extends { w: Waiting; record?: GateRecord }>(
    list: E[],
    entry: E,
    timeoutMs?: number,
  ): Promise<boolean> => {
    list.push(entry);
    refreshWaiting();
    if (role.kind === 'batch') {
      const id = ++gateCount;
      parentGates.set(id, entry);
      await getExternalWorkflowHandle(role.parent).signal(batchGateSignal, {
        child: workflowInfo().workflowId,
        id,
        waiting: entry.w,
      });
    }
    const done = () => entry.record !== undefined || aborted !== undefined;
    const inTime = timeoutMs === undefined ? (await condition(done), true) : await condition(done, timeoutMs);
    list.splice(list.indexOf(entry), 1);
    refreshWaiting();
    return inTime;
  };

  // --- gates --------------------------------------------------------------------------------------------------
  /** A step failed for good: ask (or, with onFailure 'abort', stop). Returns only for retry, with the retry option
   * chosen (if any). */
  const failed = async (w: Omit<WaitingDecision, 'kind' | 'since'>, type?: string): Promise<string | undefined> => {
    const failure: StepFailure = {
      phase: w.phase,
      host: w.host,
      step: w.step,
      message: w.error,
      ...(type && { type }),
    };
    if (rb.onFailure === 'abort') throw new StepFailed(failure);
    const entry: DecisionEntry = { w: { kind: 'decide', ...w, since: now() } };
    await park(decisions, entry);
    const action = entry.record?.action ?? 'abort';
    if (action === 'abort') {
      failures.push(failure);
      throw new Aborted();
    }
    if (action === 'skip') throw new HostSkipped();
    if (action === 'rollback') throw new HostRollback();
    return entry.record?.option;
  };

  /** Wait for approval of a phase (host undefined) or of one host of it. */
  const approval = async (p: Phase, progressHosts: string[], host?: string, maySkip = false): Promise<void> => {
    const gate = p.approval;
    if (!gate) return;
    const key = stepKey(p.id, 'approve');
    for (;;) {
      const deadline = gate.timeoutSeconds
        ? new Date(Date.now() + gate.timeoutSeconds * 1000).toISOString()
        : undefined;
      const entry: ApprovalEntry = {
        w: { kind: 'approve', phase: p.id, ...(host && { host }), since: now(), ...(deadline && { deadline }) },
      };
      for (const h of progressHosts) progress.set(h, key, 'running', 'waiting for approval');
      const inTime = await park(approvals, entry, gate.timeoutSeconds ? gate.timeoutSeconds * 1000 : undefined);
      if (aborted) throw new Aborted();
      if (inTime && entry.record) {
        for (const h of progressHosts) progress.set(h, key, 'done', `approved by ${entry.record.by}`);
        return;
      }
      for (const h of progressHosts) progress.set(h, key, 'failed', 'approval timed out');
      await failed({ phase: p.id, host: host ?? ONCE, step: 'approve', error: 'approval timed out', maySkip });
    }
  };

  // --- steps --------------------------------------------------------------------------------------------------
  const resolve = (b: Binding, host: string): unknown => {
    try {
      return resolveBinding(b, host, outcomes, skipped);
    } catch (e) {
      // The planner bound a step to one that did not run before it: a planning bug, not a host problem.
      if (e instanceof UnboundStepError) throw ApplicationFailure.nonRetryable(e.message, FailureType.InvalidInput);
      throw e;
    }
  };
  const argsOf = (call: StepCall, host: string, target?: HostTarget): Record<string, unknown> => {
    const bound = Object.fromEntries(Object.entries(call.bind ?? {}).map(([k, b]) => [k, resolve(b, host)]));
    return { ...call.args, ...bound, ...(target && { host: { target, ssh: rb.ssh } }) };
  };
  const invoke = (cls: Step['class'], call: StepCall, args: Record<string, unknown>): Promise<unknown> =>
    (activities[cls] as unknown as Record<string, (a: unknown) => Promise<unknown>>)[call.id]!(args);

  /** One step, retried for as long as an operator says retry (with a retry option's arguments when one was chosen). */
  const runStep = async (
    p: Phase,
    s: Step,
    host: string,
    target: HostTarget | undefined,
    maySkip: boolean,
    mayRollback = false,
  ) => {
    const key = stepKey(p.id, s.id);
    let extra: Record<string, unknown> = {};
    for (;;) {
      if (aborted) throw new Aborted();
      progress.set(host, key, 'running');
      try {
        const result = await invoke(s.class, s, { ...argsOf(s, host, target), ...extra });
        outcomes.push({ phase: p.id, host, step: s.id, result, at: now() });
        if (s.undo) undoList.unshift({ host, ...(target && { target }), call: s.undo });
        progress.set(host, key, 'done', hooks.describe?.(s, result));
        return;
      } catch (err) {
        if (isCancellation(err)) throw err;
        const message = withoutHost(host, failureMessage(err));
        progress.set(host, key, 'failed', message);
        const type = failureType(err);
        const offered = (s.retryOptions ?? []).filter((o) => o.whenFailure === undefined || o.whenFailure === type);
        const options = offered.map((o) => ({ name: o.name, title: o.title }));
        const option = await failed(
          {
            phase: p.id,
            host,
            step: s.id,
            error: message,
            maySkip,
            ...(mayRollback && { mayRollback }),
            ...(options.length && { options }),
          },
          type,
        );
        extra = offered.find((o) => o.name === option)?.args ?? {};
      }
    }
  };

  /** A host's (or the once phase's) steps; skip and failures end here, abort and cancellation go on up. A host with
   * rollback steps may be rolled back by decision: they run, then the run asks again (retry runs the host's steps
   * from the first one; skip; abort). */
  const runChain = async (
    p: Phase,
    host: string,
    steps: Step[],
    target?: HostTarget,
    maySkip = false,
    back?: Step[],
  ) => {
    try {
      for (;;) {
        try {
          for (const s of steps) await runStep(p, s, host, target, maySkip, back !== undefined && back.length > 0);
          return;
        } catch (err) {
          if (!(err instanceof HostRollback) || !back) throw err;
          progress.phase(`${p.title}: rolling back ${host}`);
          for (const s of back) await runStep(p, s, host, target, maySkip);
          rolledBack.push(host);
          await failed({
            phase: p.id,
            host,
            step: 'rollback',
            error: 'rolled back as decided: retry upgrades it again from its first step',
            maySkip,
          });
          progress.phase(p.title);
        }
      }
    } catch (err) {
      if (err instanceof HostSkipped) {
        skipped.add(host);
        progress.skipRemaining(host, 'skipped by decision');
      } else if (err instanceof StepFailed) {
        failures.push(err.failure);
        progress.skipRemaining(host, `${err.failure.step} failed`);
      } else {
        progress.skipRemaining(host, aborted ? 'run aborted' : 'run stopped');
        throw err;
      }
    }
  };

  const runHostPhase = async (p: HostPhase) => {
    const hosts = p.hosts.filter((h) => !skipped.has(h.target.name));
    if (p.approval?.scope === 'phase')
      await approval(
        p,
        hosts.map((h) => h.target.name),
      );
    // A host's history share: its steps, plus its approval when it has one.
    const stepsPerHost = Math.max(0, ...hosts.map((h) => h.steps.length)) + (p.approval?.scope === 'host' ? 1 : 0);
    const perChild = role.kind === 'run' ? (rb.hostsPerChild ?? hostsPerHistory(stepsPerHost)) : Infinity;
    for (const batch of batchesOf(hosts, p.rollout, rb.ssh.maxConcurrency)) {
      // After a failure (onFailure abort) or an abort, start no further host.
      if (failures.length || aborted) break;
      const inChildren = childPlan(batch.items, batch.limit, perChild);
      if (inChildren) {
        await runChildren(p, inChildren);
        continue;
      }
      let next = 0;
      const lane = async () => {
        while (next < batch.items.length && !failures.length && !aborted) {
          const h: HostRun = batch.items[next++]!;
          const name = h.target.name;
          if (p.approval?.scope === 'host') {
            try {
              await approval(p, [name], name, h.maySkip);
            } catch (err) {
              if (!(err instanceof HostSkipped)) throw err;
              skipped.add(name);
              progress.skipRemaining(name, 'skipped by decision');
              continue;
            }
          }
          await runChain(p, name, h.steps, h.target, h.maySkip, h.rollback);
        }
      };
      // Every lane runs to its end before the phase is judged: an abort must not undo while steps still run.
      const settled = await Promise.allSettled(Array.from({ length: Math.min(batch.limit, batch.items.length) }, lane));
      const rejected = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (rejected) throw rejected.reason;
    }
  };

  // --- a child phase: another operation as a child workflow --------------------------------------------------
  /** Started again on retry under a new id; it picks up what the last attempt left (a push resumes, skips what
   * arrived). Its failure parks this run like a failed step: retry or abort. */
  const runChildPhase = async (p: ChildPhase) => {
    await approval(p, [ONCE]);
    const key = stepKey(p.id, p.workflow);
    for (let attempt = 1; ; attempt++) {
      if (aborted) throw new Aborted();
      const workflowId = `${workflowInfo().workflowId}/${p.id}${attempt > 1 ? `/${attempt}` : ''}`;
      progress.set(ONCE, key, 'running', `child workflow ${workflowId}`);
      try {
        // Children get the same workflow task timeout as the run (the server's 10 s default times out tasks on a
        // loaded worker, and they run again from their last recorded point).
        await executeChild(p.workflow, { workflowId, args: [p.input], workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT });
        progress.set(ONCE, key, 'done', `child workflow ${workflowId}`);
        return;
      } catch (err) {
        if (isCancellation(err)) throw err;
        const inner = err instanceof ChildWorkflowFailure && err.cause ? err.cause : err;
        const message = `${workflowId}: ${failureMessage(inner)}`;
        progress.set(ONCE, key, 'failed', message);
        const type = inner instanceof ApplicationFailure ? (inner.type ?? undefined) : undefined;
        await failed({ phase: p.id, host: ONCE, step: p.workflow, error: message, maySkip: false }, type);
      }
    }
  };

  // --- child workflows for big phases ------------------------------------------------------------------------
  /** The results a child's bindings may read: once phases', its hosts', and every host's for fromEachHost. */
  const seedFor = (p: HostPhase, names: Set<string>): StepOutcome[] => {
    const eachHost = new Set<string>();
    const scan = (b: Binding): void => {
      if ('record' in b) Object.values(b.record).forEach(scan);
      else if ('fromEachHost' in b) eachHost.add(b.fromEachHost);
    };
    for (const h of p.hosts) for (const s of h.steps) Object.values(s.bind ?? {}).forEach(scan);
    return outcomes.filter((o) => o.host === ONCE || names.has(o.host) || eachHost.has(o.step));
  };
  const takeOver = (r: RunbookBatchResult): void => {
    outcomes.push(...r.outcomes);
    // Its undo entries are newer than everything the run had when the child started.
    undoList.unshift(...r.undo);
    for (const h of r.skipped) skipped.add(h);
    failures.push(...r.failures);
    for (const h of r.hosts) progress.replaceHostSteps(h.name, h.steps);
  };
  const runChildren = async (p: HostPhase, plan: NonNullable<ReturnType<typeof childPlan<HostRun>>>) => {
    let next = 0;
    const lane = async () => {
      while (next < plan.chunks.length && !failures.length && !aborted) {
        const n = next++;
        const chunk = plan.chunks[n]!;
        const names = new Set(chunk.map((h) => h.target.name));
        const child: Runbook = {
          ...rb,
          // The run already waited for a phase-wide approval; per-host approvals happen in the child.
          phases: [
            {
              ...p,
              hosts: chunk,
              rollout: { kind: 'parallel', limit: plan.limitPerChild },
              ...(p.approval?.scope !== 'host' && { approval: undefined }),
            },
          ],
        };
        const workflowId = `${workflowInfo().workflowId}/${p.id}/${n + 1}`;
        // Its progress is the child's (query it for the live view); the run shows where each host is being run.
        for (const h of chunk) {
          const first = p.approval?.scope === 'host' ? 'approve' : h.steps[0]?.id;
          if (first) progress.set(h.target.name, stepKey(p.id, first), 'running', `in child workflow ${workflowId}`);
        }
        const handle = await startChild(runbookBatch, {
          workflowId,
          args: [{ runbook: child, outcomes: seedFor(p, names) }],
          workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT,
        });
        children.set(workflowId, handle);
        // An abort that came while it started reaches it too.
        const abortedMeanwhile = aborted;
        if (abortedMeanwhile) await tell(workflowId, () => handle.signal(batchAbortSignal, abortedMeanwhile));
        try {
          takeOver(await handle.result());
        } finally {
          children.delete(workflowId);
        }
      }
    };
    // Tell every running child once the run is aborted: they start no further step and come back.
    let lanesEnded = false;
    const lanes = Array.from({ length: Math.min(plan.concurrentChildren, plan.chunks.length) }, lane);
    const lanesDone = Promise.allSettled(lanes).then((r) => {
      lanesEnded = true;
      return r;
    });
    await condition(() => lanesEnded || aborted !== undefined);
    const abortedNow = aborted;
    if (!lanesEnded && abortedNow) {
      for (const [id, h] of [...children]) await tell(id, () => h.signal(batchAbortSignal, abortedNow));
    }
    const settled = await lanesDone;
    await Promise.all(forwards.splice(0));
    const rejected = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (rejected) throw rejected.reason;
    if (aborted) throw new Aborted();
  };

  // --- undo and the end of a failed run ---------------------------------------------------------------------
  const undo = async (): Promise<{ undone: string[]; undoErrors: string[] }> => {
    const undone: string[] = [];
    const undoErrors: string[] = [];
    progress.phase('undoing this run');
    for (const u of undoList) {
      const what = `${u.host}: ${u.call.id}`;
      try {
        await invoke('hostStep', u.call, argsOf(u.call, u.host, u.target));
        undone.push(what);
      } catch (err) {
        // Go on with the rest: the list is newest first, and an operator finishes by hand what is logged here.
        const message = `${what}: ${failureMessage(err)}`;
        log.error(`undo failed: ${message}`);
        undoErrors.push(message);
      }
    }
    return { undone, undoErrors };
  };
  const endFailed = async (): Promise<never> => {
    const { undone, undoErrors } = await undo();
    const lines = failures.map((f) => `${f.host}: ${f.step}: ${f.message}`);
    const undoNote =
      `${undone.length ? `; undone: ${undone.join(', ')}` : ''}` +
      `${undoErrors.length ? `; undo FAILED: ${undoErrors.join('; ')}` : ''}`;
    const details: RunFailureDetails = { failures, undone, undoErrors, gates };
    refreshWaiting();
    if (aborted) {
      throw ApplicationFailure.create({
        type: FailureType.RunAborted,
        nonRetryable: true,
        message:
          `${rb.title} aborted by ${aborted.by}${aborted.reason ? ` (${aborted.reason})` : ''}` +
          `${lines.length ? `: ${lines.join('; ')}` : ''}${undoNote}`,
        details: [details],
      });
    }
    throw ApplicationFailure.create({
      type: FailureType.RunFailed,
      nonRetryable: true,
      message: `${rb.title} failed: ${lines.join('; ')}${undoNote}`,
      details: [details],
    });
  };

  // --- the run ------------------------------------------------------------------------------------------------
  if (role.kind === 'batch') {
    try {
      for (const p of rb.phases) if (p.kind === 'hosts') await runHostPhase(p);
    } catch (err) {
      if (err instanceof StepFailed) failures.push(err.failure);
      else if (!(err instanceof Aborted) && !aborted) throw err;
    }
    const mine = new Set(rb.phases.flatMap((p) => (p.kind === 'hosts' ? p.hosts.map((h) => h.target.name) : [])));
    return {
      outcomes: outcomes.slice(role.seed.length),
      undo: undoList,
      skipped: [...skipped],
      failures,
      hosts: [...mine].map((name) => ({ name, steps: progress.hostSteps(name) })),
    };
  }
  try {
    for (const p of rb.phases) {
      progress.phase(p.title);
      if (p.kind === 'once') {
        await approval(p, [ONCE]);
        await runChain(p, ONCE, p.steps);
      } else if (p.kind === 'child') {
        await runChildPhase(p);
      } else {
        await runHostPhase(p);
      }
      if (failures.length) return await endFailed();
    }
  } catch (err) {
    // A phase approval that timed out with nobody to ask (onFailure abort) fails outside any host's chain.
    if (err instanceof StepFailed) failures.push(err.failure);
    if (err instanceof StepFailed || err instanceof Aborted || aborted) return await endFailed();
    throw err;
  }
  progress.finish();
  return { steps: outcomes, skipped: [...skipped], gates, ...(rolledBack.length && { rolledBack }) };
}

/** The latest completed run of an activity on a host (or of a once step, host ONCE), optionally in one phase. */
export function outcomeOf(r: RunbookResult, host: string, step: ActivityName, phase?: string): StepOutcome | undefined {
  for (let i = r.steps.length - 1; i >= 0; i--) {
    const o = r.steps[i]!;
    if (o.host === host && o.step === step && (phase === undefined || o.phase === phase)) return o;
  }
  return undefined;
}

export const resultOf = <T>(r: RunbookResult, host: string, step: ActivityName, phase?: string): T | undefined =>
  outcomeOf(r, host, step, phase)?.result as T | undefined;
