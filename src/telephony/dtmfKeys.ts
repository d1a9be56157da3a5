/**
 * The keypad's vocabulary (DTMF), as every layer writes it: the keys a phone keypad can send and
 * their RFC 4733 event codes, how a burst of keys reads in the transcript and to the model, and
 * the tone strings the agent may send (keys and `w` pauses). The call's keypad routing
 * (src/call/dtmf.ts), the worker's DTMF events and the keypad tools all speak it.
 */

/** Keys a phone keypad can send, in RFC 4733 event-code order: the index is the event code. */
export const DTMF_KEYS = '0123456789*#ABCD';

export function isDtmfKey(key: string): boolean {
  return key.length === 1 && DTMF_KEYS.includes(key);
}

/** RFC 4733 event code of a key: 0–9, * = 10, # = 11, A–D = 12–15 (what `publishDtmf` takes). */
export function dtmfCode(key: string): number {
  if (!isDtmfKey(key)) throw new RangeError(`not a DTMF key: ${JSON.stringify(key)}`);
  return DTMF_KEYS.indexOf(key);
}

/** How keypad input is written in the transcript and shown to the model. */
export function keypadLine(keys: string): string {
  return `[keypad] ${keys}`;
}

/**
 * Tones to send, as the model writes them: keypad keys, and `w` for a half-second pause (LiveKit's
 * convention for the `dtmf` dial option). Spaces and dashes are ignored.
 */
export function parseDtmfSequence(input: string): { keys: string[] } | { error: string } {
  const cleaned = input.replace(/[\s-]/g, '').replace(/[abcd]/g, (c) => c.toUpperCase()).replace(/W/g, 'w');
  if (!cleaned) return { error: 'no keys to send' };
  const bad = [...cleaned].find((k) => k !== 'w' && !isDtmfKey(k));
  if (bad !== undefined) return { error: `"${bad}" is not a keypad key (use 0-9, *, #, A-D, and w to pause)` };
  if (cleaned.length > 64) return { error: 'at most 64 keys at a time' };
  return { keys: [...cleaned] };
}
