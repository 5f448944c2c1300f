import { describe, expect, it } from 'vitest';
import { childPlan, CHILD_EVENT_BUDGET, EVENTS_PER_STEP, hostsPerHistory } from '../../../src/plan/scale.js';

const hosts = (n: number) => Array.from({ length: n }, (_, i) => `h${i + 1}`);

describe('cutting a big phase into child workflows', () => {
  it('fits as many hosts in one history as the event budget allows, at least one', () => {
    expect(hostsPerHistory(12)).toBe(Math.floor(CHILD_EVENT_BUDGET / (EVENTS_PER_STEP * 12)));
    expect(hostsPerHistory(12) * 12 * EVENTS_PER_STEP).toBeLessThanOrEqual(CHILD_EVENT_BUDGET);
    expect(hostsPerHistory(10_000)).toBe(1);
    expect(hostsPerHistory(0)).toBe(hostsPerHistory(1));
  });

  it('leaves a batch that fits in the run itself (small runs unchanged)', () => {
    expect(childPlan(hosts(41), 50, 41)).toBeUndefined();
  });

  it('cuts 500 hosts into chunks in order, keeping the rollout limit across children', () => {
    const p = childPlan(hosts(500), 50, 41)!;
    expect(p.chunks).toHaveLength(13);
    expect(p.chunks.flat()).toEqual(hosts(500));
    expect(p.chunks.every((c) => c.length <= 41)).toBe(true);
    expect(p.limitPerChild).toBe(41);
    expect(p.concurrentChildren).toBe(1);
    // A wide limit runs several children at once, never more hosts in flight than the limit.
    const wide = childPlan(hosts(500), 100, 20)!;
    expect(wide.limitPerChild * wide.concurrentChildren).toBeLessThanOrEqual(100);
    expect(wide.concurrentChildren).toBe(5);
    // Serial stays serial: one child at a time, one host at a time inside it.
    expect(childPlan(hosts(10), 1, 3)).toMatchObject({ limitPerChild: 1, concurrentChildren: 1 });
  });
});
