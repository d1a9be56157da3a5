// What a dialled number (or a transfer destination) does when the emulator
// "calls" it, and how that becomes a SIP final status.

export type DialOutcomeKind =
  | 'answer'
  | 'voicemail'
  | 'busy'
  | 'no_answer'
  | 'rejected'
  | 'invalid'
  | 'timeout'
  | 'error';

export interface DialOutcome {
  kind: DialOutcomeKind;
  /** How long the far end rings before the outcome plays. Defaults to the emulator's ringMs (invalid/error: 0). */
  ringMs?: number;
  /** SIP final status for failing kinds (defaults: busy 486, no_answer 480, rejected 603, invalid 404, timeout 408, error 500). */
  sipStatus?: number;
  /** Reason phrase to send with sipStatus; defaults to the standard phrase. */
  sipReason?: string;
  /** Answered calls only: the callee hangs up this long after answering. */
  hangupAfterMs?: number;
}

export type OutcomeInput = DialOutcome | DialOutcomeKind;

export const DEFAULT_SIP_STATUS: Readonly<Record<Exclude<DialOutcomeKind, 'answer' | 'voicemail'>, number>> = {
  busy: 486,
  no_answer: 480,
  rejected: 603,
  invalid: 404,
  timeout: 408,
  error: 500,
};

const KINDS: ReadonlySet<string> = new Set(['answer', 'voicemail', 'busy', 'no_answer', 'rejected', 'invalid', 'timeout', 'error']);

export function toOutcome(input: OutcomeInput): DialOutcome {
  const outcome = typeof input === 'string' ? { kind: input } : { ...input };
  if (!KINDS.has(outcome.kind)) {
    throw new TypeError(`unknown dial outcome kind "${String(outcome.kind)}"; expected one of ${[...KINDS].join(', ')}`);
  }
  for (const key of ['ringMs', 'hangupAfterMs', 'sipStatus'] as const) {
    const v = outcome[key];
    if (v !== undefined && (!Number.isFinite(v) || v < 0)) throw new TypeError(`dial outcome ${key} must be a non-negative number`);
  }
  return outcome;
}

/** An outcome with every timing and status decided, as it will play. */
export interface PlayedOutcome {
  kind: DialOutcomeKind;
  /** True when the far end picks up (answer, voicemail). */
  answered: boolean;
  /** True for voicemail: the simulated callee should behave as an answering machine. */
  answeringMachine: boolean;
  /** Time spent ringing before the outcome played (ms). */
  ringMs: number;
  /** True when the request's ringing timeout cut the ringing short (SIP 408). */
  ringingTimedOut: boolean;
  /** SIP final status: 200 when answered. */
  sipStatusCode: number;
  sipStatus?: string;
  hangupAfterMs?: number;
}

export function playOutcome(outcome: DialOutcome, defaultRingMs: number, ringingTimeoutMs: number): PlayedOutcome {
  const answered = outcome.kind === 'answer' || outcome.kind === 'voicemail';
  const quickFail = outcome.kind === 'invalid' || outcome.kind === 'error';
  const wantedRing = outcome.ringMs ?? (quickFail ? 0 : defaultRingMs);
  if (wantedRing > ringingTimeoutMs) {
    return {
      kind: outcome.kind,
      answered: false,
      answeringMachine: false,
      ringMs: ringingTimeoutMs,
      ringingTimedOut: true,
      sipStatusCode: 408,
    };
  }
  const played: PlayedOutcome = {
    kind: outcome.kind,
    answered,
    answeringMachine: outcome.kind === 'voicemail',
    ringMs: wantedRing,
    ringingTimedOut: false,
    sipStatusCode: answered ? 200 : (outcome.sipStatus ?? DEFAULT_SIP_STATUS[outcome.kind as keyof typeof DEFAULT_SIP_STATUS]),
  };
  if (!answered && outcome.sipReason) played.sipStatus = outcome.sipReason;
  if (answered && outcome.hangupAfterMs !== undefined) played.hangupAfterMs = outcome.hangupAfterMs;
  return played;
}

const NUMBER_RE = /^\+?[\d\- ()]+$/;

/** livekit/protocol sip.NormalizeNumber: strip formatting, force a leading "+". */
export function normalizeNumber(num: string): string {
  if (num === '' || !NUMBER_RE.test(num)) return num;
  const digits = num.replace(/[ \-()]/g, '');
  return digits.startsWith('+') ? digits : `+${digits}`;
}

/** The user part of a `tel:` / `sip:` URI, or the string itself. */
export function uriUser(dest: string): string {
  const m = /^(?:tel|sips?):([^@;>]+)/i.exec(dest.trim());
  return m?.[1] ?? dest.trim();
}

/** A table of outcomes keyed by number / destination, matched exactly first, then by normalized number. */
export class OutcomeTable {
  readonly #exact = new Map<string, DialOutcome>();
  readonly #normalized = new Map<string, DialOutcome>();

  set(key: string, input: OutcomeInput | null | undefined): void {
    const norm = normalizeNumber(uriUser(key));
    if (input === null || input === undefined) {
      this.#exact.delete(key);
      this.#normalized.delete(norm);
      return;
    }
    const outcome = toOutcome(input);
    this.#exact.set(key, outcome);
    this.#normalized.set(norm, outcome);
  }

  get(key: string): DialOutcome | undefined {
    return this.#exact.get(key) ?? this.#normalized.get(normalizeNumber(uriUser(key)));
  }

  clear(): void {
    this.#exact.clear();
    this.#normalized.clear();
  }

  entries(): Array<[string, DialOutcome]> {
    return [...this.#exact.entries()].map(([k, v]) => [k, { ...v }]);
  }
}
