// A counting semaphore with a FIFO queue. Used twice: channels per connection (sshd refuses sessions beyond its
// MaxSessions, default 10) and connections being opened at once (sshd drops unauthenticated connections at random
// beyond MaxStartups, default 10:30:100, which looks like a flaky network).
export class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly max: number) {
    if (!(max >= 1)) throw new RangeError(`limit must be at least 1, got ${max}`);
  }

  /** Wait for a slot; returns its release function (safe to call more than once). */
  async acquire(): Promise<() => void> {
    if (this.active < this.max) this.active++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next)
        next(); // hand the slot over directly; `active` stays the same
      else this.active--;
    };
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await fn();
    } finally {
      release();
    }
  }

  get inUse(): number {
    return this.active;
  }
}
