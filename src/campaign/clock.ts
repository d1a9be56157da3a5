/**
 * Time, injected: the dispatcher asks a Clock for "now" and for sleeps, so tests can run a whole
 * day of calling windows and retry backoff in milliseconds with `FakeClock`.
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Resolves after `ms` of this clock's time (or earlier if `signal` aborts). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener('abort', done, { once: true });
    }),
};

/**
 * A clock that only moves when told. With `auto: true` every sleep advances time by its duration
 * at once (after letting pending I/O and promises run), so a dispatcher runs in virtual time.
 */
export class FakeClock implements Clock {
  private t: number;
  private readonly timers: { at: number; resolve: () => void }[] = [];

  constructor(
    start: number | string | Date,
    private readonly options: { auto?: boolean } = {},
  ) {
    this.t = typeof start === 'number' ? start : new Date(start).getTime();
  }

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.options.auto) {
      return new Promise((resolve) =>
        setImmediate(() => {
          if (!signal?.aborted) this.t += Math.max(0, ms);
          resolve();
        }),
      );
    }
    return new Promise((resolve) => {
      const timer = { at: this.t + Math.max(0, ms), resolve };
      this.timers.push(timer);
      signal?.addEventListener(
        'abort',
        () => {
          const i = this.timers.indexOf(timer);
          if (i >= 0) this.timers.splice(i, 1);
          resolve();
        },
        { once: true },
      );
    });
  }

  /** Moves time forward, waking every sleeper whose time has come. */
  advance(ms: number): void {
    this.t += ms;
    for (const timer of [...this.timers].sort((a, b) => a.at - b.at)) {
      if (timer.at <= this.t) {
        this.timers.splice(this.timers.indexOf(timer), 1);
        timer.resolve();
      }
    }
  }
}
