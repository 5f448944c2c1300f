// Queries, signals and updates, defined once and imported by both workflows and the CLI, so a rename breaks the
// build instead of a run.
//
// Decisions and approvals come two ways with the same meaning and the same checks (src/plan/gates.ts):
//  - an update (`kubeadm2ha decide|approve`): its validator rejects what fits no waiting gate, with the reason;
//  - a signal carrying one JSON object, for the Web UI's "Send a signal" dialog (payloads: README, "Decisions and
//    approvals"). A signal cannot be rejected: an invalid one is logged and ignored.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Approval, Decision, GateRecord } from '../plan/gates.js';
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
