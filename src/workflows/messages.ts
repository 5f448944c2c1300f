// Queries, signals and updates, defined once and imported by both workflows and the CLI, so a rename breaks the
// build instead of a run.
//
// Decisions and approvals come two ways with the same meaning and the same checks (src/plan/gates.ts):
//  - an update (`kubeadm2ha decide|approve`): its validator rejects what fits no waiting gate, with the reason;
//  - a signal carrying one JSON object, for the Web UI's "Send a signal" dialog (payloads: README, "Decisions and
//    approvals"). A signal cannot be rejected: an invalid one is logged and ignored.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Approval, Decision, GateRecord, Waiting } from '../plan/gates.js';
import type { Runbook } from '../plan/runbook.js';
import type { Progress } from '../plan/types.js';

/** Per-host, per-step state of a running (or finished) operation; the CLI polls it to draw progress. */
export const progressQuery = defineQuery<Progress>('progress');

/** The runbook a run executes: the very object `--dry-run` prints. */
export const runbookQuery = defineQuery<Runbook>('runbook');

/** Retry, skip or abort a step that failed for good. Returns what was recorded. */
export const decideUpdate = defineUpdate<GateRecord[], [Decision]>('decide');
/** The same from the Web UI: one JSON object `{ "action": "retry"|"skip"|"abort", "host"?, "reason"?, "by"? }`. */
export const decideSignal = defineSignal<[unknown]>('decide');

/** Let a phase (or one host of it) that waits for approval go on. */
export const approveUpdate = defineUpdate<GateRecord[], [Approval]>('approve');
/** The same from the Web UI: one JSON object `{ "phase"?, "host"?, "reason"?, "by"? }`. */
export const approveSignal = defineSignal<[unknown]>('approve');

// Between a run and the child workflows that run batches of a big phase's hosts for it (src/plan/scale.ts). The
// operator only ever talks to the run: a child that parks at a gate tells the run (batchGateSignal), the run shows
// it with its own gates and sends back whatever the operator decided (batchSettledSignal), or abort to every child
// (batchAbortSignal). Workflow-to-workflow only: each side ignores such a signal unless it came encrypted with the
// worker's keyring, so the Web UI's signal dialog (or anyone without the keyring) cannot answer a gate unchecked.

/** A child's gate waits for a person. `id` is the child's own count of its gates. */
export interface BatchGate {
  child: string;
  id: number;
  waiting: Waiting;
}
export const batchGateSignal = defineSignal<[BatchGate]>('runbookBatchGate');
/** What the operator decided about a child's gate (as recorded by the run). */
export const batchSettledSignal = defineSignal<[{ id: number; record: GateRecord }]>('runbookBatchSettled');
/** The run was aborted: the child starts nothing more and returns what it did. */
export const batchAbortSignal = defineSignal<[GateRecord]>('runbookBatchAbort');
