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

  it('counts only real hosts: cluster-wide steps (progress host `cluster`) are the cluster, not a host', () => {
    const cluster = {
      name: 'cluster',
      steps: [
        { id: 'ca/ensureEtcdCa', title: 'etcd CA', state: 'failed' as const },
        { id: 'health/ensureEtcdHealthy', title: 'etcd health', state: 'pending' as const },
      ],
    };
    const text = runDetails({ ...base, hosts: [...base.hosts, cluster] });
    expect(text).toContain('hosts done: 2/3 (failed: w1)');
    expect(text).toContain('\n\ncluster-wide steps done: 1/2; cluster step failed: etcd CA');
    // Only cluster-wide steps (an etcd snapshot, a restore's check before any host): no "hosts done: 0/0".
    const only = runDetails({ ...base, hosts: [cluster] });
    expect(only).not.toContain('hosts done');
    expect(only).toContain('cluster-wide steps done: 1/2; cluster step failed: etcd CA');
  });

  it('a cluster-wide step waiting for a decision is shown as the cluster; its CLI line names it as decide takes it', () => {
    const text = runDetails({
      ...base,
      waiting: [
        {
          kind: 'decide',
          phase: 'ca',
          host: 'cluster',
          step: 'ensureEtcdCa',
          error: 'h1: unreachable',
          maySkip: false,
          since: 't0',
        },
      ],
    });
    expect(text).toContain('### Waiting for a decision: cluster-wide step ensureEtcdCa');
    expect(text).toContain('- cluster-wide step: **ensureEtcdCa** (phase ca), since t0');
    expect(text).not.toContain('host: **cluster**');
    // decisionTargets (src/plan/gates.ts) matches --host against the waiting entry's host: `cluster` here.
    expect(text).toContain('`kubeadm2ha decide prod retry|abort --host cluster [--reason "…"]`');
    expect(text).toContain('`{"action":"retry","host":"cluster","reason":"…"}` (action: retry, abort)');
  });

  it('a node that can be rolled back (an upgrade) offers rollback, as the CLI does', () => {
    const text = runDetails({
      ...base,
      waiting: [
        {
          kind: 'decide',
          phase: 'workers',
          host: 'w1',
          step: 'a',
          error: 'e',
          maySkip: true,
          mayRollback: true,
          since: 't0',
        },
      ],
    });
    expect(text).toContain('retry|skip|rollback|abort --host w1');
    expect(text).toContain('(action: retry, skip, rollback, abort)');
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
