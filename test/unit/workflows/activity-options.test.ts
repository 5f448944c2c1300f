// Every activity class has a heartbeat timeout well under its start-to-close timeout: that is what lets another
// worker take over an activity whose worker died, instead of waiting out the whole start-to-close
// (test/e2e/heartbeat-timeout.test.ts shows it with a SIGKILLed worker).
import { describe, expect, it } from 'vitest';
import * as options from '../../../src/workflows/activity-options.js';

/** The spellings activity-options.ts uses: '20 seconds', '1 minute', '2 minutes'. */
function seconds(d: string): number {
  const m = /^(\d+) (second|minute)s?$/.exec(d);
  if (!m) throw new Error(`unexpected duration ${d}`);
  return Number(m[1]) * (m[2] === 'minute' ? 60 : 1);
}

type Options = { startToCloseTimeout: string; heartbeatTimeout?: string; localRetryThreshold?: string };
const all = Object.entries(options).filter(
  (e): e is [string, Options] => typeof e[1] === 'object' && 'startToCloseTimeout' in e[1],
);
// Local activities run inside the worker that holds the workflow: they cannot heartbeat, and a worker that dies
// loses them with its workflow task, which the server hands to another worker after the task timeout.
const classes = all.filter(([, o]) => o.localRetryThreshold === undefined);
const local = all.filter(([, o]) => o.localRetryThreshold !== undefined);

describe('activity options', () => {
  it('finds the classes', () => {
    expect(classes.map(([n]) => n).sort()).toEqual([
      'CHECK',
      'HOST_STEP',
      'INSTALL',
      'QUICK',
      'READ',
      'TRANSFER',
      'WAIT',
    ]);
  });
  it('finds the local class, short enough to be repeated by the worker that takes over', () => {
    expect(local.map(([n]) => n)).toEqual(['LOCAL_CHECK']);
    for (const [, o] of local) expect(seconds(o.startToCloseTimeout)).toBeLessThanOrEqual(60);
  });
  it.each(classes)('%s has a heartbeat timeout at most half its start-to-close', (_name, o) => {
    expect(seconds(o.heartbeatTimeout ?? '')).toBeLessThanOrEqual(seconds(o.startToCloseTimeout) / 2);
  });
});
