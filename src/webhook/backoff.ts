/**
 * When a failed delivery is tried again: exponential (base × 2^(n−1), capped), with "equal jitter"
 * (a uniform draw in the upper half of the delay) so receivers that come back are not hit by every
 * worker's retries at once. Past the event's 24 h budget there is no next try.
 */
export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 5_000, maxMs: 3_600_000 };

/** `attempts`: tries made so far (≥ 1). Returns the epoch ms of the next, or null to give up. */
export function nextAttemptAt(attempts: number, now: number, giveUpAt: number, o: BackoffOptions = DEFAULT_BACKOFF, random = Math.random): number | null {
  const delay = Math.min(o.maxMs, o.baseMs * 2 ** Math.min(attempts - 1, 40));
  const at = now + Math.round(delay / 2 + random() * (delay / 2));
  return at > giveUpAt ? null : at;
}
