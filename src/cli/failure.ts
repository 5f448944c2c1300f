// How a failure reaches the person at the terminal: one exit code per failure type (one table), and the message
// unwrapped from Temporal's chain (workflow → activity → application failure) to the lines that matter:
// `host: step: message` for every failed host of a run. `--verbose` adds the whole chain. Only what is neither
// ours nor Temporal's (a real bug) gets the bug-report hint with a stack.
import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, TemporalFailure } from '@temporalio/common';
import { FailureType, KubeadmHaError } from '../errors.js';
import type { RunFailureDetails } from '../workflows/runbook.js';

/** Exit codes: 0 ok, 1 the operation failed or found problems, 2 bad input, 3 could not reach or trust a host,
 * 4 another operation of the cluster is running (try again after it). */
export const exitCodes: Record<FailureType, number> = {
  [FailureType.CommandFailed]: 1,
  [FailureType.HostUnreachable]: 3,
  [FailureType.HostKeyMismatch]: 3,
  [FailureType.HostKeyUnknown]: 3,
  [FailureType.AuthFailed]: 3,
  [FailureType.CommandTimeout]: 1,
  [FailureType.InvalidInput]: 2,
  [FailureType.HostNotSuitable]: 1,
  [FailureType.EtcdUnhealthy]: 1,
  [FailureType.RunFailed]: 1,
  [FailureType.RunAborted]: 1,
  [FailureType.DecisionRejected]: 2,
  [FailureType.OperationRunning]: 4,
  [FailureType.DrainBlocked]: 1,
};
/** Anything we did not expect: a bug. */
export const BUG_EXIT = 70;

const codeOf = (type: string | undefined | null): number =>
  type !== undefined && type !== null && type in exitCodes ? exitCodes[type as FailureType] : 1;

function chainOf(err: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e = err; e !== undefined && e !== null && out.length < 10; e = (e as { cause?: unknown }).cause) out.push(e);
  return out;
}

export interface FailureReport {
  code: number;
  /** What to print on stderr, one line per entry. */
  lines: string[];
}

export function explainFailure(err: unknown, verbose = false): FailureReport {
  const chain = chainOf(err);
  const verboseLines = verbose
    ? chain.map((e, i) => `  ${'  '.repeat(i)}${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`)
    : [];
  if (err instanceof WorkflowFailedError || err instanceof TemporalFailure) {
    const app = chain.filter((e): e is ApplicationFailure => e instanceof ApplicationFailure).pop();
    const details = app?.details?.[0] as Partial<RunFailureDetails> | undefined;
    const lines: string[] = [];
    let code = codeOf(app?.type);
    if (
      app &&
      Array.isArray(details?.failures) &&
      (details.failures.length > 0 || app.type === FailureType.RunAborted)
    ) {
      // A runbook run: its headline, then each failed host as host: step: message, then what was undone.
      lines.push(app.message.split(': ')[0] ?? app.message);
      for (const f of details.failures) lines.push(`  ${f.host}: ${f.step}: ${f.message}`);
      if (details.undone?.length) lines.push(`  undone: ${details.undone.join(', ')}`);
      for (const u of details.undoErrors ?? []) lines.push(`  undo FAILED (finish by hand): ${u}`);
      if (app.type === FailureType.RunFailed && details.failures[0]) code = codeOf(details.failures[0].type);
    } else if (app) {
      // An activity's failure already starts with its host; say which step it was.
      const activity = chain.find((e): e is ActivityFailure => e instanceof ActivityFailure);
      lines.push(activity?.activityType ? `${activity.activityType}: ${app.message}` : app.message);
    } else {
      const inner = chain[chain.length - 1];
      lines.push(inner instanceof Error ? inner.message : String(inner));
    }
    if (err instanceof WorkflowFailedError && !verbose) lines.push('(--verbose shows the whole failure chain)');
    return { code, lines: [...lines, ...verboseLines] };
  }
  if (err instanceof KubeadmHaError) return { code: codeOf(err.type), lines: [err.message, ...verboseLines] };
  const stack = err instanceof Error ? (err.stack ?? err.message) : String(err);
  return {
    code: BUG_EXIT,
    lines: [stack, 'kubeadm2ha: unexpected error; this is a bug, please report it with the output above.'],
  };
}
