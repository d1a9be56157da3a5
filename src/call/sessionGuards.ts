/**
 * The guards every part of a call puts around the session. The session can close under any of
 * them at any moment (the caller hangs up, a provider fails), and a call must neither hang on
 * something that will never finish nor throw out of an event handler, which would take down
 * every call in the process.
 */
import { waitUntilTimeout } from '@livekit/agents';

/** Runs `fn`, ignoring a throw: a session that is closing refuses calls, and that changes nothing. */
export function ignoreError(fn: () => unknown): void {
  try {
    fn();
  } catch {
    // The session may be closing; a key or a transfer then changes nothing.
  }
}

/** `p`, or a rejection after `ms`. */
export const withTimeout = <T>(p: Promise<T>, ms: number) => waitUntilTimeout(p, ms, () => new Error(`timed out after ${ms} ms`));

/** A session error event in one line for the call record: its type, and the provider's message. */
export function describeError(err: { type: string }): string {
  const inner = (err as { error?: unknown }).error;
  return inner instanceof Error ? `${err.type}: ${inner.message}` : err.type;
}
