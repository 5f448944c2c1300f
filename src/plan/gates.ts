// The two human gates of a runbook run, as data: a step that failed for good waits for a decision (retry, skip,
// rollback, abort), a phase or host waits for an approval. The same checks serve the update validators (the CLI gets the
// reason back) and the signals (the Web UI's "Send a signal" dialog; a signal cannot be rejected, so an invalid one
// is logged and ignored). Pure and workflow-safe.

export const decisionActions = ['retry', 'skip', 'rollback', 'abort'] as const;
export type DecisionAction = (typeof decisionActions)[number];

/** What `kubeadm2ha decide` sends (update `decide`), and the JSON object the `decide` signal carries. */
export interface Decision {
  action: DecisionAction;
  /** Which waiting host; required when several hosts wait. */
  host?: string;
  reason?: string;
  /** Who decided: the CLI sends user@host; from the Web UI, whatever the operator typed. */
  by?: string;
  /** With retry only: one of the waiting step's `options` (a step-specific retry, e.g. evict-anyway). */
  option?: string;
}

/** What `kubeadm2ha approve` sends (update `approve`), and the JSON object the `approve` signal carries. */
export interface Approval {
  /** Phase id; required when several phases wait (they cannot today, but a later rollout may). */
  phase?: string;
  host?: string;
  reason?: string;
  by?: string;
}

/** A step that failed for good, or an approval that timed out, waiting for a person. */
export interface WaitingDecision {
  kind: 'decide';
  phase: string;
  host: string;
  step: string;
  error: string;
  /** False for masters and etcd members (and once-phase steps): skipping them would break the cluster. */
  maySkip: boolean;
  /** The host has rollback steps (an upgrade's node): `rollback` puts it back, then asks again. */
  mayRollback?: boolean;
  since: string;
  /** Step-specific retries offered for this failure (RetryOption name and title); absent when there are none. */
  options?: { name: string; title: string }[];
}

export interface WaitingApproval {
  kind: 'approve';
  phase: string;
  /** Set when the phase approves host by host. */
  host?: string;
  since: string;
  deadline?: string;
}

export type Waiting = WaitingDecision | WaitingApproval;

/** Who decided or approved what, when, why, and how it arrived: kept in the run's state and result. */
export interface GateRecord {
  kind: 'decide' | 'approve';
  action?: DecisionAction;
  /** The retry option chosen, when one was. */
  option?: string;
  phase: string;
  host?: string;
  step?: string;
  /** The error the decision was about. */
  error?: string;
  reason?: string;
  by: string;
  at: string;
  via: 'update' | 'signal';
  /** True when the payload reached the worker without our encryption (the Web UI cannot encrypt). */
  unencrypted: boolean;
}

const str = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 500;

function checkFields(o: Record<string, unknown>, allowed: string[]): string | undefined {
  const extra = Object.keys(o).filter((k) => !allowed.includes(k));
  if (extra.length) return `unknown field(s) ${extra.join(', ')}; allowed: ${allowed.join(', ')}`;
  for (const k of allowed.filter((k) => k !== 'action')) {
    if (o[k] !== undefined && !str(o[k])) return `${k} must be a non-empty string of at most 500 characters`;
  }
  return undefined;
}

/** A decision from an untrusted JSON value (signal payload), or why it is not one. */
export function parseDecision(v: unknown): Decision | string {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'a decision is a JSON object';
  const o = v as Record<string, unknown>;
  if (!decisionActions.includes(o.action as DecisionAction))
    return `action must be one of ${decisionActions.join(', ')}`;
  const bad = checkFields(o, ['action', 'host', 'reason', 'by', 'option']);
  if (bad) return bad;
  if (o.option !== undefined && o.action !== 'retry') return 'option goes with retry only';
  return o as unknown as Decision;
}

export function parseApproval(v: unknown): Approval | string {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'an approval is a JSON object';
  return checkFields(v as Record<string, unknown>, ['phase', 'host', 'reason', 'by']) ?? v;
}

/** The waiting decisions a decision applies to, or why it fits none. */
export function decisionTargets(waiting: Waiting[], d: Decision): WaitingDecision[] | string {
  const open = waiting.filter((w): w is WaitingDecision => w.kind === 'decide');
  if (open.length === 0) return 'no step is waiting for a decision';
  let targets = open;
  if (d.host !== undefined) {
    targets = open.filter((w) => w.host === d.host);
    if (targets.length === 0)
      return `${d.host} is not waiting for a decision; waiting: ${open.map((w) => w.host).join(', ')}`;
  } else if (open.length > 1 && d.action !== 'abort') {
    return `several hosts wait (${open.map((w) => w.host).join(', ')}); name one with --host`;
  }
  if (d.option !== undefined) {
    const without = targets.filter((w) => !(w.options ?? []).some((o) => o.name === d.option));
    if (without.length) {
      const offered = [...new Set(without.flatMap((w) => (w.options ?? []).map((o) => o.name)))];
      return `${without.map((w) => w.host).join(', ')}: no retry option ${d.option}${offered.length ? `; offered: ${offered.join(', ')}` : ' is offered'}`;
    }
  }
  if (d.action === 'skip') {
    const fixed = targets.filter((w) => !w.maySkip);
    if (fixed.length) {
      return `${fixed.map((w) => w.host).join(', ')} may not be skipped (a master, an etcd member or a cluster-wide step); retry or abort`;
    }
  }
  if (d.action === 'rollback') {
    const fixed = targets.filter((w) => !w.mayRollback);
    if (fixed.length) {
      return `${fixed.map((w) => w.host).join(', ')} cannot be rolled back (no rollback for this step); retry${fixed.every((w) => w.maySkip) ? ', skip' : ''} or abort`;
    }
  }
  return targets;
}

export function approvalTargets(waiting: Waiting[], a: Approval): WaitingApproval[] | string {
  const open = waiting.filter((w): w is WaitingApproval => w.kind === 'approve');
  if (open.length === 0) return 'nothing is waiting for an approval';
  const targets = open.filter(
    (w) => (a.phase === undefined || w.phase === a.phase) && (a.host === undefined || w.host === a.host),
  );
  if (targets.length === 0) {
    return `no approval waits for ${[a.phase && `phase ${a.phase}`, a.host && `host ${a.host}`].filter(Boolean).join(' and ')}; waiting: ${open.map((w) => `${w.phase}${w.host ? `/${w.host}` : ''}`).join(', ')}`;
  }
  return targets;
}

/** One line per waiting gate, for the CLI, `status` and the Web UI's current details. */
export function describeWaiting(cluster: string, waiting: Waiting[]): string[] {
  return waiting.map((w) =>
    w.kind === 'decide'
      ? `${w.host}: ${w.step}: ${w.error} — waiting for \`kubeadm2ha decide ${cluster} retry|${w.maySkip ? 'skip|' : ''}${w.mayRollback ? 'rollback|' : ''}abort --host ${w.host}\`` +
        (w.options ?? []).map((o) => `, or \`retry --option ${o.name}\` (${o.title})`).join('')
      : `${w.phase}${w.host ? ` on ${w.host}` : ''} waits for \`kubeadm2ha approve ${cluster} --phase ${w.phase}${w.host ? ` --host ${w.host}` : ''}\`${w.deadline ? ` until ${w.deadline}` : ''}`,
  );
}
