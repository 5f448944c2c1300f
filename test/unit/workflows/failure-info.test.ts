// Which failure ended an activity, as workflow code reads it: an activity's failure arrives wrapped in an
// ActivityFailure, a local activity's as the bare ApplicationFailure (preflight's checks after a host's first are
// local activities: one that meets a changed host key or an unreachable host is a host-level failure too).
import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { FailureType } from '../../../src/errors.js';
import { failureMessage, failureType, hostLevelFailures } from '../../../src/workflows/failure-info.js';

const keyChanged = () => ApplicationFailure.nonRetryable('h3: host key changed', FailureType.HostKeyMismatch);

describe('failureType', () => {
  it('reads the type of an activity failure (wrapped) and of a local activity failure (bare)', () => {
    const wrapped = new ActivityFailure(
      'activity failed',
      'runPreflightCheck',
      '1',
      RetryState.NON_RETRYABLE_FAILURE,
      undefined,
      keyChanged(),
    );
    expect(failureType(wrapped)).toBe(FailureType.HostKeyMismatch);
    expect(failureType(keyChanged())).toBe(FailureType.HostKeyMismatch);
    expect(hostLevelFailures).toContain(failureType(keyChanged()));
    expect(failureMessage(wrapped)).toBe('h3: host key changed');
    expect(failureMessage(keyChanged())).toBe('h3: host key changed');
  });

  it('has no type for anything else', () => {
    expect(failureType(new Error('boom'))).toBeUndefined();
    expect(failureType(undefined)).toBeUndefined();
  });
});
