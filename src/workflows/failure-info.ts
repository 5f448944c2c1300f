// Reading activity failures in workflow code: which failure type ended an activity, and a message fit to show.
import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import { FailureType } from '../errors.js';

export function failureType(err: unknown): string | undefined {
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) return err.cause.type ?? undefined;
  return undefined;
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
