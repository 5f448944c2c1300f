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
import {
  ApplicationFailure,
  condition,
  isCancellation,
  log,
  setCurrentDetails,
  setHandler,
} from '@temporalio/workflow';
import type { SignalDefinition, UpdateDefinition } from '@temporalio/common';
import { unwrapUnencrypted } from '../codec/unencrypted.js';
import { FailureType } from '../errors.js';
import {
  approvalTargets,
  decisionTargets,
  describeWaiting,
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
  stepKey,
  type ActivityName,
  type Binding,
  type HostPhase,
  type HostRun,
  type Phase,
  type Runbook,
  type Step,
  type StepCall,
} from '../plan/runbook.js';
import type { HostTarget } from '../plan/types.js';
import { activities } from './activity-options.js';
import { failureMessage, failureType } from './failure-info.js';
import { approveSignal, approveUpdate, decideSignal, decideUpdate, runbookQuery } from './messages.js';
import { beginOperation } from './operation.js';

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

const now = (): string => new Date(Date.now()).toISOString();
/** Activity messages already start with the host ("h1: unreachable: …"); say it once. */
const withoutHost = (host: string, message: string): string =>
  message.startsWith(`${host}: `) ? message.slice(host.length + 2) : message;

/** A field of a step result by dot path; '' is the whole result. */
function get(value: unknown, path: string): unknown {
  if (path === '') return value;
  let v = value;
  for (const k of path.split('.'))
    v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

export async function runRunbook(rb: Runbook, hooks: RunbookHooks = {}): Promise<RunbookResult> {
  const progress = beginOperation(rb.operation, rb.title, {
    cluster: rb.cluster,
    kubernetesVersion: rb.kubernetesVersion,
    hosts: progressPlan(rb),
  });
  const outcomes: StepOutcome[] = [];
  const skipped = new Set<string>();
  const gates: GateRecord[] = [];
  const undoList: { host: string; target?: HostTarget; call: StepCall }[] = [];
  const failures: StepFailure[] = [];
  const decisions: DecisionEntry[] = [];
  const approvals: ApprovalEntry[] = [];
  let aborted: GateRecord | undefined;

  const waiting = (): Waiting[] => [...decisions.map((d) => d.w), ...approvals.map((a) => a.w)];
  const refreshWaiting = () => {
    const w = waiting();
    progress.setWaiting(w);
    // The Web UI shows this on the workflow's page: what waits, and the command that lets it go on.
    setCurrentDetails(w.length ? describeWaiting(rb.cluster, w).join('\n\n') : '');
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
    fields: (w: W) => Pick<GateRecord, 'kind' | 'phase' | 'host' | 'action' | 'step' | 'error'>,
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
  handle(decideUpdate, decideSignal, parseDecision, decisionTargets, decide);
  handle(approveUpdate, approveSignal, parseApproval, approvalTargets, approve);

  // --- gates --------------------------------------------------------------------------------------------------
  /** A step failed for good: ask (or, with onFailure 'abort', stop). Returns only for retry. */
  const failed = async (w: Omit<WaitingDecision, 'kind' | 'since'>, type?: string): Promise<void> => {
    const failure: StepFailure = {
      phase: w.phase,
      host: w.host,
      step: w.step,
      message: w.error,
      ...(type && { type }),
    };
    if (rb.onFailure === 'abort') throw new StepFailed(failure);
    const entry: DecisionEntry = { w: { kind: 'decide', ...w, since: now() } };
    decisions.push(entry);
    refreshWaiting();
    await condition(() => entry.record !== undefined || aborted !== undefined);
    decisions.splice(decisions.indexOf(entry), 1);
    refreshWaiting();
    const action = entry.record?.action ?? 'abort';
    if (action === 'abort') {
      failures.push(failure);
      throw new Aborted();
    }
    if (action === 'skip') throw new HostSkipped();
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
      approvals.push(entry);
      refreshWaiting();
      for (const h of progressHosts) progress.set(h, key, 'running', 'waiting for approval');
      const done = () => entry.record !== undefined || aborted !== undefined;
      let inTime = true;
      if (gate.timeoutSeconds) inTime = await condition(done, gate.timeoutSeconds * 1000);
      else await condition(done);
      approvals.splice(approvals.indexOf(entry), 1);
      refreshWaiting();
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
  const lookup = (host: string, from: ActivityName): unknown => {
    for (let i = outcomes.length - 1; i >= 0; i--) {
      const o = outcomes[i]!;
      if (o.step === from && o.host === host) return o.result;
    }
    for (let i = outcomes.length - 1; i >= 0; i--) {
      const o = outcomes[i]!;
      if (o.step === from && o.host === ONCE) return o.result;
    }
    return undefined;
  };
  const resolve = (b: Binding, host: string): unknown => {
    if ('record' in b) return Object.fromEntries(Object.entries(b.record).map(([k, v]) => [k, resolve(v, host)]));
    if ('anyOf' in b) {
      return b.anyOf.some((x) => {
        const v = get(lookup(host, x.from), x.field);
        return v === true || (Array.isArray(v) && v.length > 0);
      });
    }
    if ('fromEachHost' in b) {
      const byHost: Record<string, unknown> = {};
      for (const o of outcomes)
        if (o.step === b.fromEachHost && o.host !== ONCE) byHost[o.host] = get(o.result, b.field);
      return byHost;
    }
    const r = lookup(host, b.from);
    if (r === undefined) {
      // The planner bound a step to one that did not run before it: a planning bug, not a host problem.
      throw ApplicationFailure.nonRetryable(`no earlier result of ${b.from} for ${host}`, FailureType.InvalidInput);
    }
    return get(r, b.field);
  };
  const argsOf = (call: StepCall, host: string, target?: HostTarget): Record<string, unknown> => {
    const bound = Object.fromEntries(Object.entries(call.bind ?? {}).map(([k, b]) => [k, resolve(b, host)]));
    return { ...call.args, ...bound, ...(target && { host: { target, ssh: rb.ssh } }) };
  };
  const invoke = (cls: Step['class'], call: StepCall, args: Record<string, unknown>): Promise<unknown> =>
    (activities[cls] as unknown as Record<string, (a: unknown) => Promise<unknown>>)[call.id]!(args);

  /** One step, retried for as long as an operator says retry. */
  const runStep = async (p: Phase, s: Step, host: string, target: HostTarget | undefined, maySkip: boolean) => {
    const key = stepKey(p.id, s.id);
    for (;;) {
      if (aborted) throw new Aborted();
      progress.set(host, key, 'running');
      try {
        const result = await invoke(s.class, s, argsOf(s, host, target));
        outcomes.push({ phase: p.id, host, step: s.id, result, at: now() });
        if (s.undo) undoList.unshift({ host, ...(target && { target }), call: s.undo });
        progress.set(host, key, 'done', hooks.describe?.(s, result));
        return;
      } catch (err) {
        if (isCancellation(err)) throw err;
        const message = withoutHost(host, failureMessage(err));
        progress.set(host, key, 'failed', message);
        await failed({ phase: p.id, host, step: s.id, error: message, maySkip }, failureType(err));
      }
    }
  };

  /** A host's (or the once phase's) steps; skip and failures end here, abort and cancellation go on up. */
  const runChain = async (p: Phase, host: string, steps: Step[], target?: HostTarget, maySkip = false) => {
    try {
      for (const s of steps) await runStep(p, s, host, target, maySkip);
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
    for (const batch of batchesOf(hosts, p.rollout, rb.ssh.maxConcurrency)) {
      // After a failure (onFailure abort) or an abort, start no further host.
      if (failures.length || aborted) break;
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
          await runChain(p, name, h.steps, h.target, h.maySkip);
        }
      };
      // Every lane runs to its end before the phase is judged: an abort must not undo while steps still run.
      const settled = await Promise.allSettled(Array.from({ length: Math.min(batch.limit, batch.items.length) }, lane));
      const rejected = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (rejected) throw rejected.reason;
    }
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
  try {
    for (const p of rb.phases) {
      progress.phase(p.title);
      if (p.kind === 'once') {
        await approval(p, [ONCE]);
        await runChain(p, ONCE, p.steps);
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
  return { steps: outcomes, skipped: [...skipped], gates };
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
