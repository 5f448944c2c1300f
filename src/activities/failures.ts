// One place where errors become Temporal failures. Our own errors carry a type and a retryable flag; anything else
// is unexpected and stays retryable (the workflow's retry policy bounds it). Messages are redacted once more here,
// because an error message is stored in history in plain text unless the failure converter encodes it.
import { ApplicationFailure } from '@temporalio/common';
import { KubeadmHaError } from '../errors.js';
import { redact } from '../ssh/redact.js';

export function toFailure(err: unknown): unknown {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof KubeadmHaError) {
    return ApplicationFailure.create({ message: redact(err.message), type: err.type, nonRetryable: !err.retryable });
  }
  if (err instanceof Error) return ApplicationFailure.create({ message: redact(err.message), type: err.name });
  return err;
}

export async function withFailures<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toFailure(err);
  }
}
