import { describe, expect, it } from 'vitest';
import { Limiter } from '../../../src/ssh/limiter.js';

describe('Limiter', () => {
  it('never runs more than max at once and serves waiters in order', async () => {
    const limiter = new Limiter(3);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        limiter.run(async () => {
          running++;
          peak = Math.max(peak, running);
          order.push(i);
          await new Promise((r) => setImmediate(r));
          running--;
        }),
      ),
    );
    expect(peak).toBe(3);
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(limiter.inUse).toBe(0);
  });

  it('ignores a second release', async () => {
    const limiter = new Limiter(1);
    const release = await limiter.acquire();
    release();
    release();
    expect(limiter.inUse).toBe(0);
  });
});
