// The runbook's pure parts: how rollouts cut hosts into batches, and which decisions and approvals fit the gates
// that wait (the same checks back the update validators and the signal handlers).
import { describe, expect, it } from 'vitest';
import {
  approvalTargets,
  decisionTargets,
  parseApproval,
  parseDecision,
  type Waiting,
} from '../../../src/plan/gates.js';
import { batchesOf } from '../../../src/plan/runbook.js';

const hosts = ['a', 'b', 'c', 'd', 'e'];

describe('rollout batches', () => {
  it('serial is one host at a time, parallel honours its limit or the default', () => {
    expect(batchesOf(hosts, { kind: 'serial' }, 4)).toEqual([{ items: hosts, limit: 1 }]);
    expect(batchesOf(hosts, { kind: 'parallel' }, 4)).toEqual([{ items: hosts, limit: 4 }]);
    expect(batchesOf(hosts, { kind: 'parallel', limit: 2 }, 4)).toEqual([{ items: hosts, limit: 2 }]);
  });
  it('batches of N and of N% (rounded up, at least one host)', () => {
    expect(batchesOf(hosts, { kind: 'batches', size: 2 }, 4).map((b) => b.items)).toEqual([
      ['a', 'b'],
      ['c', 'd'],
      ['e'],
    ]);
    expect(batchesOf(hosts, { kind: 'batches', percent: 40 }, 4).map((b) => b.items)).toEqual([
      ['a', 'b'],
      ['c', 'd'],
      ['e'],
    ]);
    expect(batchesOf(hosts, { kind: 'batches', percent: 1 }, 4)).toHaveLength(5);
    expect(batchesOf([], { kind: 'serial' }, 4)).toEqual([]);
  });
});

const waiting: Waiting[] = [
  { kind: 'decide', phase: 'p', host: 'm1', step: 's', error: 'e', maySkip: false, since: 't' },
  { kind: 'decide', phase: 'p', host: 'w1', step: 's', error: 'e', maySkip: true, since: 't' },
];

describe('decision and approval checks', () => {
  it('parses only the documented JSON object', () => {
    expect(parseDecision({ action: 'retry', host: 'w1', reason: 'r', by: 'me' })).toEqual({
      action: 'retry',
      host: 'w1',
      reason: 'r',
      by: 'me',
    });
    expect(parseDecision({ action: 'explode' })).toBe('action must be one of retry, skip, rollback, abort');
    expect(parseDecision({ action: 'skip', hosts: ['a'] })).toMatch(/^unknown field\(s\) hosts/);
    expect(parseDecision({ action: 'skip', host: 7 })).toMatch(/^host must be a non-empty string/);
    expect(parseDecision('retry')).toBe('a decision is a JSON object');
    expect(parseApproval({ phase: 'masters' })).toEqual({ phase: 'masters' });
    expect(parseApproval([])).toBe('an approval is a JSON object');
  });
  it('rejects skipping a master, a host that does not wait, and an ambiguous decision', () => {
    expect(decisionTargets(waiting, { action: 'skip', host: 'm1' })).toMatch(/^m1 may not be skipped/);
    // Rollback only where the runbook gave the host rollback steps (an upgrade's node).
    expect(decisionTargets(waiting, { action: 'rollback', host: 'w1' })).toMatch(/^w1 cannot be rolled back/);
    expect(decisionTargets(waiting, { action: 'skip', host: 'w2' })).toBe(
      'w2 is not waiting for a decision; waiting: m1, w1',
    );
    expect(decisionTargets(waiting, { action: 'retry' })).toBe('several hosts wait (m1, w1); name one with --host');
    expect(decisionTargets(waiting, { action: 'abort' })).toHaveLength(2);
    expect(decisionTargets([], { action: 'abort' })).toBe('no step is waiting for a decision');
    expect(decisionTargets(waiting, { action: 'skip', host: 'w1' })).toEqual([waiting[1]]);
  });
  it('takes a retry option only with retry, and only one the waiting step offers', () => {
    expect(parseDecision({ action: 'retry', option: 'evict-anyway' })).toEqual({
      action: 'retry',
      option: 'evict-anyway',
    });
    expect(parseDecision({ action: 'skip', option: 'evict-anyway' })).toBe('option goes with retry only');
    expect(parseDecision({ action: 'retry', option: '' })).toMatch(/^option must be a non-empty string/);
    const drain: Waiting[] = [
      {
        kind: 'decide',
        phase: 'workers',
        host: 'w1',
        step: 'drainNode',
        error: 'blocked',
        maySkip: true,
        since: 't',
        options: [{ name: 'evict-anyway', title: 'delete the pods' }],
      },
    ];
    expect(decisionTargets(drain, { action: 'retry', option: 'evict-anyway' })).toEqual(drain);
    expect(decisionTargets(drain, { action: 'retry', option: 'force' })).toBe(
      'w1: no retry option force; offered: evict-anyway',
    );
    // A step that offers nothing refuses any option; a plain retry is still fine everywhere.
    expect(decisionTargets(waiting, { action: 'retry', host: 'w1', option: 'evict-anyway' })).toBe(
      'w1: no retry option evict-anyway is offered',
    );
    expect(decisionTargets(drain, { action: 'retry' })).toEqual(drain);
  });
  it('matches approvals by phase and host', () => {
    const a: Waiting[] = [{ kind: 'approve', phase: 'workers', host: 'w1', since: 't' }];
    expect(approvalTargets(a, {})).toEqual(a);
    expect(approvalTargets(a, { phase: 'masters' })).toBe('no approval waits for phase masters; waiting: workers/w1');
    expect(approvalTargets(waiting, {})).toBe('nothing is waiting for an approval');
  });
});
