// The Web UI's current details of a run (src/plan/run-details.ts): phase, hosts through, and for each waiting gate
// the host, step, error and both ways to answer.
import { describe, expect, it } from 'vitest';
import { runDetails } from '../../../src/plan/run-details.js';
import type { Progress } from '../../../src/plan/types.js';

const base: Progress = {
  operation: 'setup',
  cluster: 'prod',
  phase: 'workers',
  done: false,
  hosts: [
    { name: 'm1', steps: [{ id: 'a', title: 'a', state: 'done' }] },
    { name: 'w1', steps: [{ id: 'a', title: 'a', state: 'failed' }] },
    { name: 'w2', steps: [{ id: 'a', title: 'a', state: 'pending' }] },
  ],
};

describe('run details', () => {
  it('counts hosts through and names failed ones', () => {
    expect(runDetails(base)).toContain('hosts done: 2/3 (failed: w1)');
    expect(runDetails({ ...base, done: true })).toContain('**setup** of cluster **prod**: finished');
  });

  it('an approval says phase, host, deadline and both ways to answer', () => {
    const text = runDetails({
      ...base,
      waiting: [{ kind: 'approve', phase: 'workers', host: 'w2', since: 't0', deadline: 't1' }],
    });
    expect(text).toContain('### Waiting for approval: workers on w2');
    expect(text).toContain('until t1 (then it waits for a decision)');
    expect(text).toContain('`kubeadm2ha approve prod --phase workers --host w2 [--reason "…"]`');
    expect(text).toContain('Send Signal `approve` with `{"phase":"workers","host":"w2","reason":"…"}`');
  });

  it('an error holding backticks cannot end its code span early', () => {
    const text = runDetails({
      ...base,
      waiting: [
        { kind: 'decide', phase: 'workers', host: 'w1', step: 'a', error: 'bad `x` here', maySkip: true, since: 't0' },
      ],
    });
    expect(text).toContain('- error: `` bad `x` here ``');
    expect(text).toContain('retry|skip|abort --host w1');
  });
});
