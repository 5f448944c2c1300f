// One place where errors become Temporal failures. Our own errors carry a type and a retryable flag; anything else
// is unexpected and stays retryable (the workflow's retry policy bounds it). Messages are redacted once more here,
// because an error message also reaches logs (the worker logs failed activities) and, although the failure
// converter (src/codec/failure-converter.js) encrypts it in history, defence in depth costs nothing. A new failure
// is built rather than the old one edited: the original's stack trace repeats the unredacted message.
import { ApplicationFailure } from '@temporalio/common';
import { KubeadmHaError } from '../errors.js';
import { redact } from '../ssh/redact.js';

export function toFailure(err: unknown): unknown {
  if (err instanceof ApplicationFailure) {
    // Someone else built it (a library, another activity helper): its message may still quote a secret.
    const message = redact(err.message);
    if (message === err.message) return err;
    return ApplicationFailure.create({
      message,
      type: err.type ?? undefined,
      nonRetryable: err.nonRetryable ?? undefined,
      details: err.details ?? undefined,
      // Duration comes from the `ms` package's types, which typescript-eslint cannot resolve here.
      // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment
      nextRetryDelay: err.nextRetryDelay ?? undefined,
      category: err.category ?? undefined,
    });
  }
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
