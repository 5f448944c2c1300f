import { describe, expect, it } from 'vitest';
import { FailureType, HostUnreachableError } from '../../../src/errors.js';
import { forwardError } from '../../../src/ssh/pool.js';

describe('bastion forward failures', () => {
  const fail = (reason: number): Error & { reason: number } =>
    Object.assign(new Error('(SSH) Channel open failure: open failed'), { reason });

  it('names both hops and is final when the bastion forbids forwarding', () => {
    const e = forwardError('m2', 'root@10.0.0.5:22', '10.0.1.2:22', fail(1));
    expect(e.message).toBe(
      'm2: bastion root@10.0.0.5:22 could not open a connection to 10.0.1.2:22: ' +
        'administratively prohibited (AllowTcpForwarding or PermitOpen on the bastion)',
    );
    expect(e.type).toBe(FailureType.HostNotSuitable);
    expect(e.retryable).toBe(false);
  });

  it('is retryable when the target just does not answer yet', () => {
    const e = forwardError('m2', 'root@10.0.0.5:22', '10.0.1.2:22', fail(2));
    expect(e).toBeInstanceOf(HostUnreachableError);
    expect(e.retryable).toBe(true);
    expect(e.message).toMatch(/connect failed/);
    expect(forwardError('m2', 'b', 't', new Error('Not connected')).message).toMatch(/: Not connected$/);
  });
});
