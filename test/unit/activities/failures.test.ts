import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { toFailure } from '../../../src/activities/failures.js';
import { CommandFailedError, FailureType } from '../../../src/errors.js';

const token = 'abcdef.0123456789abcdef';
const certKey = 'ab'.repeat(32);

describe('toFailure redacts secrets from every kind of error', () => {
  it('our errors keep type and retryability, lose the secret', () => {
    const f = toFailure(
      new CommandFailedError('cp1', 'kubeadm join', 1, `--token ${token} refused`),
    ) as ApplicationFailure;
    expect(f.message).not.toContain(token);
    expect(f.type).toBe(FailureType.CommandFailed);
    expect(f.nonRetryable).toBe(false);
  });

  it('plain errors become retryable failures with a redacted message and stack', () => {
    const f = toFailure(new Error(`kubeadm init --upload-certs --certificate-key ${certKey}`)) as ApplicationFailure;
    expect(f.message).toBe('kubeadm init --upload-certs --certificate-key [redacted]');
    expect(f.stack).not.toContain(certKey);
  });

  it('ApplicationFailures made elsewhere are redacted too, keeping type, retryability and details', () => {
    const original = ApplicationFailure.create({
      message: `join with ${token} failed`,
      type: 'JoinFailed',
      nonRetryable: true,
      details: [{ host: 'cp2' }],
    });
    const f = toFailure(original) as ApplicationFailure;
    expect(f.message).toBe('join with [redacted] failed');
    expect(f.stack).not.toContain(token);
    expect(f.type).toBe('JoinFailed');
    expect(f.nonRetryable).toBe(true);
    expect(f.details).toEqual([{ host: 'cp2' }]);
    // Nothing to hide: the very same object comes back.
    const clean = ApplicationFailure.retryable('dpkg lock busy', 'CommandFailed');
    expect(toFailure(clean)).toBe(clean);
  });
});
