// One line of `kubeadm2ha runs` per run: what the run is in words (its start's summary, else its workflow type and
// cluster), and for a run parked at a gate what it waits for and how many more gates wait.
import { describe, expect, it } from 'vitest';
import { runsLine, type RunSummary } from '../../../src/cli/commands/runs.js';
import type { Progress } from '../../../src/plan/types.js';
import type { Waiting } from '../../../src/plan/gates.js';

const base: RunSummary = {
  workflowId: 'lab1/cluster-change',
  runId: 'r1',
  operation: 'upgradeCluster',
  cluster: 'lab1',
  status: 'RUNNING',
  startTime: '2026-12-03T10:00:00.000Z',
};
const decide = (host: string) => ({ kind: 'decide', host }) as Waiting;

describe('kubeadm2ha runs: a line per run', () => {
  it('names the run by its summary, else by workflow type and cluster', () => {
    expect(runsLine({ ...base, status: 'COMPLETED', summary: 'upgrade of lab1 to 1.34.12' })).toBe(
      'COMPLETED  2026-12-03T10:00:00.000Z  upgrade of lab1 to 1.34.12',
    );
    expect(runsLine({ ...base, status: 'FAILED' })).toBe(
      'FAILED     2026-12-03T10:00:00.000Z  upgradeCluster (cluster lab1)',
    );
  });

  it('says what the run waits for, and how many more gates wait', () => {
    const waitingAt = 'm1: drain: timed out — waiting for `kubeadm2ha decide lab1 retry|abort --host m1`';
    const progress = (n: number) => ({ waiting: ['m1', 'w1', 'w2'].slice(0, n).map(decide) }) as Progress;
    expect(runsLine({ ...base, summary: 'upgrade of lab1', waitingAt, progress: progress(1) })).toBe(
      `RUNNING    2026-12-03T10:00:00.000Z  upgrade of lab1  waiting: ${waitingAt}`,
    );
    expect(runsLine({ ...base, summary: 'upgrade of lab1', waitingAt, progress: progress(3) })).toMatch(
      /waiting: m1: drain: .* --host m1` \(and 2 more waiting\)$/,
    );
    expect(runsLine({ ...base, note: 'no worker is serving it' })).toMatch(
      /\(cluster lab1\) {2}no worker is serving it$/,
    );
  });

  it('shows a control character in a summary (someone else’s start) as visible text', () => {
    expect(runsLine({ ...base, summary: 'evil\x1b[2J of lab1' })).toContain('evil\\x1b[2J of lab1');
  });
});
