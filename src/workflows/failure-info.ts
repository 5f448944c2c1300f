// Reading activity failures in workflow code: which failure type ended an activity, and a message fit to show.
import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import { FailureType } from '../errors.js';

/**
 * The type of an activity's ApplicationFailure. An activity's failure reaches the workflow as an ActivityFailure whose
 * cause is the activity's ApplicationFailure; a local activity's as that ApplicationFailure itself (SDK 1.24: no
 * ActivityFailure around it).
 */
export function failureType(err: unknown): string | undefined {
  const failure = err instanceof ActivityFailure ? err.cause : err;
  return failure instanceof ApplicationFailure ? (failure.type ?? undefined) : undefined;
}

export function failureMessage(err: unknown): string {
  if (err instanceof ActivityFailure) return err.cause?.message ?? err.message;
  return err instanceof Error ? err.message : String(err);
}

/** Failures after which nothing else on that host can work: skip its remaining steps. */
export const hostLevelFailures: string[] = [
  FailureType.HostUnreachable,
  FailureType.HostKeyMismatch,
  FailureType.HostKeyUnknown,
  FailureType.AuthFailed,
];
