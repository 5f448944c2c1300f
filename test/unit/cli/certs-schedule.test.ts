// The certificate schedule's pure parts: the --every flag and the --show text.
import { describe, expect, it } from 'vitest';
import { certsScheduleId, formatCertsSchedule, parseEvery } from '../../../src/cli/certs-schedule.js';
import { InvalidInputError } from '../../../src/errors.js';

describe('certs schedule', () => {
  it('reads --every as a duration of at least a minute', () => {
    expect(parseEvery('24h')).toBe(86_400_000);
    expect(parseEvery('30m')).toBe(1_800_000);
    expect(parseEvery('7d')).toBe(604_800_000);
    expect(parseEvery('60s')).toBe(60_000);
    for (const bad of ['59s', '0h', '1.5h', 'daily', '24', '-1d', '']) {
      expect(() => parseEvery(bad), bad).toThrow(InvalidInputError);
    }
  });

  it('names one schedule per cluster', () => {
    expect(certsScheduleId('prod')).toBe('prod/certs-schedule');
  });

  it('shows the interval, next runs and what recent runs found', () => {
    const lines = formatCertsSchedule({
      scheduleId: 'prod/certs-schedule',
      everyMs: [86_400_000],
      thresholdDays: 30,
      taskQueue: 'kubeadm2ha',
      overlap: 'SKIP',
      paused: false,
      nextRuns: ['2030-01-02T00:00:00.000Z'],
      actionsTaken: 2,
      recentRuns: [
        {
          workflowId: 'prod/certs-2030-01-01T00:00:00Z',
          runId: 'r1',
          startedAt: '2030-01-01T00:00:00.000Z',
          status: 'COMPLETED',
          minDaysLeft: 12,
        },
        {
          workflowId: 'prod/certs-2030-01-01T12:00:00Z',
          runId: 'r2',
          startedAt: '2030-01-01T12:00:00.000Z',
          status: 'RUNNING',
        },
      ],
    });
    expect(lines[0]).toBe(
      'prod/certs-schedule: every 1d, threshold 30 days, task queue kubeadm2ha, overlap SKIP; 2 runs so far',
    );
    expect(lines).toContain('  2030-01-02T00:00:00.000Z');
    expect(lines).toContain(
      '  2030-01-01T00:00:00.000Z  COMPLETED, fewest days left: 12  prod/certs-2030-01-01T00:00:00Z',
    );
    expect(lines.at(-1)).toBe('  2030-01-01T12:00:00.000Z  RUNNING  prod/certs-2030-01-01T12:00:00Z');
  });
});
