/**
 * Keypad input (DTMF) on a call: keys arrive one at a time as events (LiveKit SIP turns RFC 4733
 * telephone-events into `RoomEvent.DtmfReceived`), never as audio the STT could mishear.
 *
 * A `Keypad` decides where each key goes:
 *  - to a collector, while a tool waits for a code ("key in your 4-digit code, then pound");
 *  - otherwise into a burst that ends on `#` or after a short gap, and the whole burst reaches the
 *    current agent as one input ("[keypad] 1" after "press 1 to confirm, 2 to reschedule").
 * It also knows when keys are being pressed (`busy`), so whatever the STT makes of tones that leak
 * into the caller's audio can be thrown away instead of answered.
 *
 * Pure logic on timers: no LiveKit, no session, so it is tested on its own.
 */
import { isDtmfKey } from '../telephony/dtmfKeys.js';

export interface CollectOptions {
  /** Stop after this many digits (the terminator is not counted). */
  maxDigits?: number;
  /** Key that ends the entry early, e.g. '#'; null for none. */
  terminator?: string | null;
  /** How long to wait for the first key (from `startTimerAfter`). */
  firstDigitTimeoutMs: number;
  /** How long to wait for each further key. */
  interDigitTimeoutMs: number;
}

export interface CollectResult {
  /** The keys pressed, without the terminator. */
  digits: string;
  /** Why collection stopped. */
  ended: 'count' | 'terminator' | 'timeout' | 'cancelled';
}

export interface CollectHooks {
  signal?: AbortSignal;
  /** Called on the first key (the question being asked can stop). */
  onFirstKey?: () => void;
  /** The first-key timer starts once this settles; keys are collected from the start anyway. */
  startTimerAfter?: Promise<unknown>;
}

export interface KeypadOptions {
  /** A burst of unsolicited keys ends after this long without another key (or on '#'). */
  interDigitMs: number;
  /** After the last key, speech is still treated as keypad noise for this long. */
  guardMs: number;
  /** A finished burst of keys nobody was collecting: hand it to the agent. */
  onBurst: (keys: string) => void;
  /** Every key as it arrives, before routing. */
  onKey?: (key: string, info: { collecting: boolean; startsBurst: boolean }) => void;
}

interface ActiveCollector {
  opts: CollectOptions;
  digits: string;
  timer: NodeJS.Timeout | undefined;
  timerArmed: boolean;
  finish: (ended: CollectResult['ended']) => void;
  onFirstKey?: () => void;
}

export class Keypad {
  private burst = '';
  private burstTimer: NodeJS.Timeout | undefined;
  private collector: ActiveCollector | undefined;
  private lastKeyAt = -Infinity;
  private closed = false;
  /** After a code filled up, a terminator the caller adds out of habit still belongs to it. */
  private trailingTerminator: { key: string; until: number } | undefined;

  constructor(private readonly opts: KeypadOptions) {}

  /** True while keys are being pressed, and for `guardMs` after the last one. */
  get busy(): boolean {
    return this.burst.length > 0 || (this.collector?.digits.length ?? 0) > 0 || Date.now() - this.lastKeyAt < this.opts.guardMs;
  }

  get collecting(): boolean {
    return this.collector !== undefined;
  }

  /** One key from the caller. Anything that is not a keypad key is ignored. */
  press(key: string): void {
    if (this.closed || !isDtmfKey(key)) return;
    this.lastKeyAt = Date.now();
    const trailing = this.trailingTerminator;
    this.trailingTerminator = undefined;
    if (trailing && key === trailing.key && this.lastKeyAt <= trailing.until && !this.collector) return;
    const collecting = this.collector !== undefined;
    this.opts.onKey?.(key, { collecting, startsBurst: !collecting && this.burst.length === 0 });
    if (this.collector) {
      this.feed(this.collector, key);
      return;
    }
    if (this.burstTimer) clearTimeout(this.burstTimer);
    this.burstTimer = undefined;
    this.burst += key;
    if (key === '#') {
      this.flushBurst();
      return;
    }
    this.burstTimer = setTimeout(() => this.flushBurst(), this.opts.interDigitMs);
  }

  /**
   * Waits for a code. Keys already pressed in the current burst (typed ahead) count towards it.
   * One collection at a time: a second one ends the first as cancelled.
   */
  collect(opts: CollectOptions, hooks: CollectHooks = {}): Promise<CollectResult> {
    if (this.closed || hooks.signal?.aborted) return Promise.resolve({ digits: '', ended: 'cancelled' });
    this.collector?.finish('cancelled');
    return new Promise<CollectResult>((resolve) => {
      const c: ActiveCollector = {
        opts,
        digits: '',
        timer: undefined,
        timerArmed: false,
        onFirstKey: hooks.onFirstKey,
        finish: (ended) => {
          if (this.collector !== c) return;
          if (c.timer) clearTimeout(c.timer);
          this.collector = undefined;
          hooks.signal?.removeEventListener('abort', onAbort);
          resolve({ digits: c.digits, ended });
        },
      };
      const onAbort = () => c.finish('cancelled');
      hooks.signal?.addEventListener('abort', onAbort, { once: true });
      this.collector = c;
      const typedAhead = this.takeBurst();
      for (const key of typedAhead) {
        if (this.collector !== c) return;
        this.feed(c, key);
      }
      const armFirst = () => {
        // A key that already came in armed the inter-digit timer; do not shorten or reset it.
        if (this.collector === c && !c.timerArmed) this.arm(c, opts.firstDigitTimeoutMs);
      };
      if (hooks.startTimerAfter) void hooks.startTimerAfter.then(armFirst, armFirst);
      else armFirst();
    });
  }

  /** Stops everything: a pending burst is dropped, a collection ends as cancelled. */
  close(): void {
    this.closed = true;
    if (this.burstTimer) clearTimeout(this.burstTimer);
    this.burstTimer = undefined;
    this.burst = '';
    this.collector?.finish('cancelled');
  }

  private feed(c: ActiveCollector, key: string): void {
    if (c.digits.length === 0) c.onFirstKey?.();
    if (c.opts.terminator && key === c.opts.terminator) {
      c.finish('terminator');
      return;
    }
    c.digits += key;
    if (c.opts.maxDigits !== undefined && c.digits.length >= c.opts.maxDigits) {
      if (c.opts.terminator) this.trailingTerminator = { key: c.opts.terminator, until: Date.now() + c.opts.interDigitTimeoutMs };
      c.finish('count');
      return;
    }
    this.arm(c, c.opts.interDigitTimeoutMs);
  }

  private arm(c: ActiveCollector, ms: number): void {
    if (c.timer) clearTimeout(c.timer);
    c.timerArmed = true;
    c.timer = setTimeout(() => c.finish('timeout'), ms);
  }

  private takeBurst(): string {
    if (this.burstTimer) clearTimeout(this.burstTimer);
    this.burstTimer = undefined;
    const keys = this.burst;
    this.burst = '';
    return keys;
  }

  private flushBurst(): void {
    const keys = this.takeBurst();
    if (keys && !this.closed) this.opts.onBurst(keys);
  }
}
