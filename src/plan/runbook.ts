// The runbook: what an operation does, as plain serialisable data. Planners (src/plan/*) build one from the
// inventory and gathered facts; `--dry-run` prints it; the one executor (src/workflows/runbook.ts) runs exactly it
// and serves it back through `runbookQuery`, so what was shown is what runs. Nothing else orders steps.
//
// Shape (after k0sctl's phases and the "runbook" a person would follow):
//   Runbook → ordered phases → (per-host phase) hosts × steps, fanned out by a rollout
//                            → (once phase) steps that run one time for the whole cluster (the CA on the
//                              operator's machine, a cluster-wide health gate)
// A step's id IS the activity that runs it, with its arguments; the executor adds the host.
//
// Pure and workflow-safe: types and small functions only; activities are referenced by `import type`.
import type { Activities } from '../activities/index.js';
import type { Inventory, SshSettings } from '../inventory/schema.js';
import type { HostPlan, HostTarget } from './types.js';

export type ActivityName = keyof Activities;
export type ActivityInput<K extends ActivityName> = Parameters<Activities[K]>[0];

/**
 * Timeout and retry class of a step (the constants live in src/workflows/activity-options.ts):
 * quick — local or read-only work; hostStep — one change on one host over SSH; install — long package work that
 * heartbeats; wait — waiting for the cluster to converge (health gates), heartbeats; transfer — streaming large
 * content (images) that reports its bytes in heartbeats, so a cut connection is noticed and retried within seconds.
 */
export type ActivityClass = 'quick' | 'hostStep' | 'install' | 'wait' | 'transfer';

/**
 * Why bindings: a step often needs what an earlier step found out at run time (the etcd binary's path comes from
 * the install step and feeds the config and service steps; the certificates need the CA's fingerprint from the
 * CA phase). The planner cannot know these values, and letting activities read each other's results would couple
 * them. So a step names, as data, which earlier result fills which argument; the executor fills it in from the
 * record of completed steps. The dependency is visible in the dry-run and in history, and activities keep plain
 * inputs.
 *
 * Lookup: the latest result of activity `from` on the same host, else from a once phase.
 */
export type Binding =
  /** The value of `field` (dot path; '' for the whole result) of that result. */
  | { from: ActivityName; field: string }
  /** True when any of those fields is true or a non-empty array ("did anything change in this run?"). */
  | { anyOf: { from: ActivityName; field: string }[] }
  /** { hostName: value } over every host of the run that has that result (a cluster-wide step needs each host's). */
  | { fromEachHost: ActivityName; field: string }
  /** An object whose members are bindings (e.g. { 'etcd-ca': fingerprint }). */
  | { record: Record<string, Binding> }
  /** These hosts minus those an operator skipped in this run (a skipped worker was never joined: a cluster-wide
   *  step that waits for "every node" must not wait for it). */
  | { notSkipped: string[] };

/** An activity call. `args` excludes `host` (added by the executor on per-host steps) and bound arguments. */
export interface StepCall {
  id: ActivityName;
  args: Record<string, unknown>;
  bind?: Record<string, Binding>;
}

/**
 * A step-specific way to retry, offered at the decision gate (`kubeadm2ha decide <cluster> retry --option <name>`)
 * when the step failed with `whenFailure` (any failure when absent): the retry runs with `args` merged over the
 * step's. A drain blocked by a PodDisruptionBudget offers `evict-anyway` (disableEviction), for instance.
 */
export interface RetryOption {
  name: string;
  /** What it does, for the gate's description: "delete the pods, ignoring their disruption budgets". */
  title: string;
  whenFailure?: string;
  args: Record<string, unknown>;
}

export interface Step extends StepCall {
  title: string;
  class: ActivityClass;
  /** Registered once the step succeeded; an abort runs the undo list of the run newest first. */
  undo?: StepCall;
  retryOptions?: RetryOption[];
}

export type Rollout =
  | { kind: 'serial' }
  /** At most `limit` hosts at once (default: inventory ssh.maxConcurrency). */
  | { kind: 'parallel'; limit?: number }
  /** Batch after batch, each batch in parallel: `size` hosts, or `percent` of the phase's hosts, at least one. */
  | { kind: 'batches'; size: number }
  | { kind: 'batches'; percent: number };

/** Wait for `kubeadm2ha approve` before the phase (scope phase) or before each of its hosts (scope host). */
export interface ApprovalGate {
  scope: 'phase' | 'host';
  /** Without approval by then the run parks at the decision gate ("approval timed out"); it never goes on by itself. */
  timeoutSeconds?: number;
}

export interface HostRun {
  target: HostTarget;
  steps: Step[];
  /** May an operator skip this host when a step fails for good? Workers yes; masters and etcd members no. */
  maySkip: boolean;
  /** What the decision `rollback` runs to put this host back as it was before this run (an upgrade's node: its
   * configuration copy, its previous packages); without it, rollback is not offered. */
  rollback?: Step[];
}

interface PhaseBase {
  /** Unique in the runbook; approvals name it (`--phase`). */
  id: string;
  title: string;
  approval?: ApprovalGate;
}

export interface HostPhase extends PhaseBase {
  kind: 'hosts';
  rollout: Rollout;
  hosts: HostRun[];
}

export interface OncePhase extends PhaseBase {
  kind: 'once';
  steps: Step[];
}

/**
 * Another operation, run as a child workflow of this one: setup and upgrade of an air-gapped cluster push the images
 * (`transferImages`) before kubeadm needs them. The child runs with onFailure 'abort' and fails whole; its failure
 * parks this run at the decision gate like a failed step (retry runs the child again, which picks up what arrived).
 */
export interface ChildPhase extends PhaseBase {
  kind: 'child';
  workflow: 'transferImages';
  /** The child's input, as its workflow accepts it. */
  input: Record<string, unknown>;
}

export type Phase = HostPhase | OncePhase | ChildPhase;

/** What a step does when it fails for good: park for a person (decide), or stop the run at once (abort). */
export type OnFailure = 'decide' | 'abort';

export interface Runbook {
  /** Operation name as in workflow ids and the Operation search attribute. */
  operation: string;
  title: string;
  cluster: string;
  kubernetesVersion: string;
  /** Paths and policies only; the executor builds each step's `host` from it and the phase's target. */
  ssh: SshSettings;
  onFailure: OnFailure;
  phases: Phase[];
  /** Hosts per child workflow when a phase has more (src/plan/scale.ts). Default: as many as fit one history. */
  hostsPerChild?: number;
  /** Planned from gathered facts: per host (ONCE for cluster-wide steps), the steps left out because the facts show
   * them done. Shown by `--dry-run` and the runbook query; the executor does not read it. */
  alreadyDone?: { host: string; steps: string[] }[];
}

/** A runbook for an inventory's cluster; a step that fails for good waits for a decision unless told otherwise. */
export function runbookFor(
  operation: string,
  title: string,
  inv: Inventory,
  onFailure: OnFailure | undefined,
  phases: Phase[],
): Runbook {
  return {
    operation,
    title,
    cluster: inv.cluster.name,
    kubernetesVersion: inv.cluster.kubernetesVersion,
    ssh: inv.ssh,
    onFailure: onFailure ?? 'decide',
    phases,
  };
}

/** Once-phase steps appear in progress and results under this name instead of a host's. */
export const ONCE = 'cluster';

/** A completed step's result as an executor keeps it: `host` is the host's name, or ONCE for a once-phase step. */
export interface StepResultRecord {
  host: string;
  step: ActivityName;
  result: unknown;
}

/** A step is bound to a result that no earlier step produced: a planning bug. */
export class UnboundStepError extends Error {
  override name = 'UnboundStepError';
}

function get(value: unknown, path: string): unknown {
  if (path === '') return value;
  let v = value;
  for (const k of path.split('.'))
    v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

/** The latest result of `from` on `host`, else from a once phase. */
function lookup(outcomes: readonly StepResultRecord[], host: string, from: ActivityName): unknown {
  for (const h of [host, ONCE])
    for (let i = outcomes.length - 1; i >= 0; i--) {
      const o = outcomes[i]!;
      if (o.step === from && o.host === h) return o.result;
    }
  return undefined;
}

/** A binding's value for a step on `host`, from the results of the steps completed so far (oldest first) and the
 *  hosts skipped so far. */
export function resolveBinding(
  b: Binding,
  host: string,
  outcomes: readonly StepResultRecord[],
  skipped: ReadonlySet<string> = new Set(),
): unknown {
  if ('record' in b)
    return Object.fromEntries(
      Object.entries(b.record).map(([k, v]) => [k, resolveBinding(v, host, outcomes, skipped)]),
    );
  if ('notSkipped' in b) return b.notSkipped.filter((h) => !skipped.has(h));
  if ('anyOf' in b) {
    return b.anyOf.some((x) => {
      const v = get(lookup(outcomes, host, x.from), x.field);
      return v === true || (Array.isArray(v) && v.length > 0);
    });
  }
  if ('fromEachHost' in b) {
    const byHost: Record<string, unknown> = {};
    for (const o of outcomes) if (o.step === b.fromEachHost && o.host !== ONCE) byHost[o.host] = get(o.result, b.field);
    return byHost;
  }
  const r = lookup(outcomes, host, b.from);
  if (r === undefined) throw new UnboundStepError(`no earlier result of ${b.from} for ${host}`);
  return get(r, b.field);
}

/** Build a step with its arguments type-checked against the activity's input (minus host and bound ones). */
export function step<K extends ActivityName, B extends string = never>(
  id: K,
  title: string,
  cls: ActivityClass,
  args: Omit<ActivityInput<K>, 'host' | B>,
  opts: { bind?: Record<B, Binding>; undo?: StepCall } = {},
): Step {
  return {
    id,
    title,
    class: cls,
    args: args,
    ...(opts.bind && { bind: opts.bind }),
    ...(opts.undo && { undo: opts.undo }),
  };
}

/** Hosts of one batch after another, as the rollout orders them. Serial is batches of one. */
export function batchesOf<T>(items: T[], rollout: Rollout, defaultLimit: number): { items: T[]; limit: number }[] {
  if (items.length === 0) return [];
  switch (rollout.kind) {
    case 'serial':
      return [{ items, limit: 1 }];
    case 'parallel':
      return [{ items, limit: Math.max(1, rollout.limit ?? defaultLimit) }];
    case 'batches': {
      const size = 'size' in rollout ? rollout.size : Math.ceil((items.length * Math.min(100, rollout.percent)) / 100);
      const n = Math.max(1, size);
      const out: { items: T[]; limit: number }[] = [];
      for (let i = 0; i < items.length; i += n) out.push({ items: items.slice(i, i + n), limit: n });
      return out;
    }
  }
}

/** Progress key of a step: the same activity may run in two phases on one host. */
export const stepKey = (phase: string, id: string): string => `${phase}/${id}`;

/** Every host with every step it will go through, in order: what the progress query starts from. */
export function progressPlan(rb: Runbook): HostPlan<{ id: string; title: string }>[] {
  const hosts = new Map<string, HostPlan<{ id: string; title: string }>>();
  const entry = (target: HostTarget) => {
    let h = hosts.get(target.name);
    if (!h) hosts.set(target.name, (h = { target, steps: [] }));
    return h;
  };
  const once: HostTarget = { name: ONCE, address: '', roles: [] };
  for (const p of rb.phases) {
    const gate = (h: HostPlan<{ id: string; title: string }>) =>
      h.steps.push({ id: stepKey(p.id, 'approve'), title: `approval of ${p.title}` });
    if (p.kind === 'once') {
      const h = entry(once);
      if (p.approval) gate(h);
      for (const s of p.steps) h.steps.push({ id: stepKey(p.id, s.id), title: s.title });
    } else if (p.kind === 'child') {
      const h = entry(once);
      if (p.approval) gate(h);
      h.steps.push({ id: stepKey(p.id, p.workflow), title: p.title });
    } else {
      for (const r of p.hosts) {
        const h = entry(r.target);
        if (p.approval) gate(h);
        for (const s of r.steps) h.steps.push({ id: stepKey(p.id, s.id), title: s.title });
      }
    }
  }
  return [...hosts.values()];
}

/** One line per phase and host, for `--dry-run` without --json. */
export function describeRunbook(rb: Runbook): string[] {
  const lines = [`${rb.title} of ${rb.cluster} (on failure: ${rb.onFailure})`];
  const rollout = (r: Rollout): string =>
    r.kind === 'serial'
      ? 'one host at a time'
      : r.kind === 'parallel'
        ? `in parallel${r.limit ? `, at most ${r.limit}` : ''}`
        : 'size' in r
          ? `in batches of ${r.size}`
          : `in batches of ${r.percent}%`;
  const steps = (ss: Step[]) =>
    ss.map((s) => `${s.id}${s.bind ? `(${Object.keys(s.bind).join(', ')} from earlier steps)` : ''}`).join(' → ');
  rb.phases.forEach((p, i) => {
    const gate = p.approval ? `, after approval${p.approval.scope === 'host' ? ' of each host' : ''}` : '';
    if (p.kind === 'once') {
      lines.push(`${i + 1}. ${p.title} [${p.id}], once${gate}: ${steps(p.steps)}`);
    } else if (p.kind === 'child') {
      lines.push(`${i + 1}. ${p.title} [${p.id}], child workflow ${p.workflow}${gate}`);
    } else {
      lines.push(`${i + 1}. ${p.title} [${p.id}], ${rollout(p.rollout)}${gate}:`);
      for (const h of p.hosts) {
        lines.push(`   ${h.target.name} (${h.target.address})${h.maySkip ? '' : ' [no skip]'}: ${steps(h.steps)}`);
      }
    }
  });
  if (rb.alreadyDone) {
    if (rb.phases.length === 0) lines.push('nothing to do: the hosts show every step done');
    if (rb.alreadyDone.length > 0) lines.push('already done (from the facts read now):');
    for (const d of rb.alreadyDone) lines.push(`   ${d.host}: ${d.steps.join(', ')}`);
  }
  return lines;
}
