/**
 * Per-call cost: what one call's usage costs at a price table's rates.
 *
 * Pure: plain data in, plain data out, no I/O. It never throws for a call's usage: a model,
 * provider or trunk the table does not know is priced at the table's fallback entry, a bad number
 * is counted as 0, and either way the result says `estimated: true` and why, in `notes`.
 *
 * Amounts keep full floating-point precision (no rounding); only `describeCost` rounds, for
 * people. Sum or compare them with a tolerance, not `===`.
 */
import type { PriceTable } from './prices.js';

export type CallDirection = 'inbound' | 'outbound' | 'browser';
/** A key of PriceTable.sip; 'twilio' and 'telnyx' are built in, an override file may add more. */
export type TrunkName = 'twilio' | 'telnyx' | (string & {});

/** One LLM's usage in the call. Field meanings follow OpenAI's usage and LiveKit's LLMMetrics. */
export interface LlmUsage {
  /** As the provider reports it; a dated snapshot (gpt-4.1-mini-2025-04-14) prices as its model. */
  model: string;
  /** All prompt tokens, cached ones included (LLMMetrics.promptTokens). */
  inputTokens: number;
  /** The part of `inputTokens` served from the prompt cache (LLMMetrics.promptCachedTokens). */
  cachedInputTokens: number;
  /** Completion tokens (LLMMetrics.completionTokens). */
  outputTokens: number;
}

export interface SttUsage {
  /** A key of PriceTable.stt, e.g. 'deepgram'. */
  provider: string;
  /**
   * Seconds of audio sent to this STT (sum of STTMetrics.audioDurationMs / 1000). A streaming STT
   * fed the whole call bills the whole call, silence included — not just the caller's speech.
   */
  audioSeconds: number;
}

export interface TtsUsage {
  /** A key of PriceTable.tts, e.g. 'cartesia'. */
  provider: string;
  /** Characters sent to this TTS (TTSMetrics.charactersCount). */
  characters: number;
  /** Seconds of audio it synthesized (TTSMetrics.audioDurationMs / 1000). */
  audioSeconds: number;
}

export interface CallUsage {
  /** Agent-session length in seconds: what LiveKit bills, and the SIP leg's length. */
  durationSeconds: number;
  direction: CallDirection;
  /** The carrier of the SIP leg; null for browser calls (no SIP leg). */
  trunk: TrunkName | null;
  /** One entry per STT used (more than one after a fallback). */
  stt: SttUsage[];
  /** One entry per LLM used (or per request; entries are summed). */
  llm: LlmUsage[];
  /** One entry per TTS used. */
  tts: TtsUsage[];
}

/** USD per component. */
export interface CostBreakdown {
  livekit: number;
  stt: number;
  llm: number;
  tts: number;
  sip: number;
}

export interface CallCost {
  /** USD, full precision. */
  totalUsd: number;
  /** totalUsd per minute of `durationSeconds`; null for a call of 0 seconds. */
  perMinuteUsd: number | null;
  breakdown: CostBreakdown;
  /** True when any part was priced by a fallback entry or from repaired input; `notes` say which. */
  estimated: boolean;
  /** Why the cost is estimated, and anything else a reader of this cost should know. */
  notes: string[];
}

/**
 * Characters of English speech per second of audio (~150 words/min × ~6 characters a word,
 * space included), used only to estimate audio minutes when a per-minute TTS reports characters
 * but no audio duration.
 */
export const SPEECH_CHARACTERS_PER_SECOND = 15;

const COMPONENTS = ['livekit', 'stt', 'llm', 'tts', 'sip'] as const;

/** What a call with `usage` costs at `prices`. Never throws for bad usage; see `notes`. */
export function callCost(usage: CallUsage, prices: PriceTable): CallCost {
  const notes: string[] = [];
  let estimated = false;
  const estimate = (note: string) => {
    estimated = true;
    notes.push(note);
  };
  /** A usage quantity: a finite number ≥ 0, or 0 with a note. */
  const qty = (value: unknown, what: string): number => {
    if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
    estimate(`${what}: ${JSON.stringify(value) ?? String(value)} is not a usable quantity, counted as 0`);
    return 0;
  };
  const list = <T>(value: T[] | undefined, what: string): T[] => {
    if (Array.isArray(value)) return value.filter((x) => x !== null && typeof x === 'object');
    if (value !== undefined && value !== null) estimate(`${what}: not a list, ignored`);
    return [];
  };

  const u = (usage ?? {}) as Partial<CallUsage>;
  const duration = qty(u.durationSeconds, 'durationSeconds');
  const breakdown: CostBreakdown = { livekit: 0, stt: 0, llm: 0, tts: 0, sip: 0 };

  // LiveKit: every agent-session minute.
  {
    const lk = prices.livekit;
    const minutes = billableMinutes(duration, lk.billingIncrementSeconds);
    let rate = lk.perMinute;
    if (lk.feeAttribution === 'amortised') {
      const m = lk.expectedMonthlyMinutes ?? lk.includedMinutes;
      if (m > 0) {
        rate = (lk.monthlyFee + lk.perMinute * Math.max(0, m - lk.includedMinutes)) / m;
        notes.push(
          `livekit: plan fee amortised over ${m} min/month: $${rate.toFixed(6)}/min instead of the marginal $${lk.perMinute}/min`,
        );
      } else {
        estimate('livekit: amortised fee attribution with no monthly minutes to spread it over; marginal rate used');
      }
    }
    breakdown.livekit = minutes * rate;
  }

  // STT: minutes of audio sent.
  for (const [i, s] of list(u.stt, 'stt').entries()) {
    const entry = lookup(prices.stt, prices.fallback.stt, s.provider, `stt[${i}] provider`, estimate);
    const seconds = qty(s.audioSeconds, `stt[${i}].audioSeconds`);
    if (entry) breakdown.stt += (seconds / 60) * entry.perMinute;
  }

  // LLM: tokens; cached input is the part of input served from the prompt cache.
  for (const [i, l] of list(u.llm, 'llm').entries()) {
    const entry = lookup(prices.llm, prices.fallback.llm, l.model, `llm[${i}] model`, estimate);
    const input = qty(l.inputTokens, `llm[${i}].inputTokens`);
    let cached = qty(l.cachedInputTokens ?? 0, `llm[${i}].cachedInputTokens`);
    const output = qty(l.outputTokens, `llm[${i}].outputTokens`);
    if (cached > input) {
      estimate(`llm[${i}]: cachedInputTokens (${cached}) exceeds inputTokens (${input}); counted as ${input}`);
      cached = input;
    }
    if (entry) {
      breakdown.llm +=
        ((input - cached) * entry.inputPerMTokens + cached * entry.cachedInputPerMTokens + output * entry.outputPerMTokens) /
        1e6;
    }
  }

  // TTS: minutes of synthesized audio, or characters when the entry is priced per character.
  for (const [i, t] of list(u.tts, 'tts').entries()) {
    const entry = lookup(prices.tts, prices.fallback.tts, t.provider, `tts[${i}] provider`, estimate);
    const characters = qty(t.characters ?? 0, `tts[${i}].characters`);
    let seconds = qty(t.audioSeconds ?? 0, `tts[${i}].audioSeconds`);
    if (!entry) continue;
    if (entry.perMCharacters !== null) {
      breakdown.tts += (characters / 1e6) * entry.perMCharacters;
    } else {
      if (seconds === 0 && characters > 0) {
        seconds = characters / SPEECH_CHARACTERS_PER_SECOND;
        estimate(
          `tts[${i}]: no audio duration reported; ${characters} characters taken as ${seconds.toFixed(1)} s of speech`,
        );
      }
      breakdown.tts += (seconds / 60) * entry.perMinute;
    }
  }

  // SIP: inbound pays origination, outbound termination; browser calls have no SIP leg.
  if (u.direction === 'browser') {
    if (u.trunk) notes.push(`sip: browser call has no SIP leg; trunk '${u.trunk}' not billed`);
  } else if (u.direction === 'inbound' || u.direction === 'outbound') {
    if (u.trunk === null || u.trunk === undefined || u.trunk === '') {
      estimate(`sip: ${u.direction} phone call with no trunk named; SIP leg not priced`);
    } else {
      const entry = lookup(prices.sip, prices.fallback.sip, u.trunk, 'trunk', estimate);
      if (entry) {
        const rate = u.direction === 'inbound' ? entry.originationPerMinute : entry.terminationPerMinute;
        breakdown.sip = billableMinutes(duration, entry.billingIncrementSeconds) * rate;
      }
    }
  } else {
    estimate(`sip: unknown direction ${JSON.stringify(u.direction)}; SIP leg not priced`);
  }

  const totalUsd = COMPONENTS.reduce((sum, k) => sum + breakdown[k], 0);
  return {
    totalUsd,
    perMinuteUsd: duration > 0 ? totalUsd / (duration / 60) : null,
    breakdown,
    estimated,
    notes,
  };
}

function billableMinutes(seconds: number, incrementSeconds: number): number {
  if (incrementSeconds > 0) return (Math.ceil(seconds / incrementSeconds) * incrementSeconds) / 60;
  return seconds / 60;
}

/**
 * The entry for `name`: exact key, then case-insensitive, then without a date suffix
 * (gpt-4.1-mini-2025-04-14, model-20250514). Otherwise the fallback entry, flagged.
 */
function lookup<T>(
  entries: Record<string, T>,
  fallbackKey: string,
  name: unknown,
  what: string,
  estimate: (note: string) => void,
): T | undefined {
  if (typeof name === 'string' && name !== '') {
    const found = findEntry(entries, name);
    if (found) return found;
  }
  const fallback = Object.hasOwn(entries, fallbackKey) ? entries[fallbackKey] : undefined;
  const shown = typeof name === 'string' && name !== '' ? `'${name}'` : `${JSON.stringify(name) ?? 'missing'}`;
  if (fallback === undefined) {
    estimate(`${what} ${shown} is not in the price table and fallback '${fallbackKey}' is missing either; not priced`);
  } else {
    estimate(`${what} ${shown} is not in the price table; priced as '${fallbackKey}' (the fallback entry)`);
  }
  return fallback;
}

function findEntry<T>(entries: Record<string, T>, name: string): T | undefined {
  const candidates = [name, name.replace(/-(\d{4}-\d{2}-\d{2}|\d{8})$/, '')];
  for (const candidate of candidates) {
    if (Object.hasOwn(entries, candidate)) return entries[candidate];
    const lower = candidate.toLowerCase();
    const key = Object.keys(entries).find((k) => k.toLowerCase() === lower);
    if (key !== undefined) return entries[key];
  }
  return undefined;
}

/** Decimal rounding for display (half away from zero, exact on decimal inputs like 0.00705). */
function roundTo(value: number, decimals: number): number {
  // toPrecision(12) drops the binary noise (0.00705 × 1e4 = 70.49999999999999) before rounding.
  const scaled = Number((Math.abs(value) * 10 ** decimals).toPrecision(12));
  return (Math.sign(value) * Math.round(scaled)) / 10 ** decimals;
}

function usd(value: number): string {
  return `$${roundTo(value, 4).toFixed(4)}`;
}

/**
 * The cost for people: one line per component (with its share of the total), the total, the
 * cost per minute, then any notes. Amounts are rounded to 4 decimals here only.
 */
export function describeCost(cost: CallCost): string {
  const lines = COMPONENTS.map((k) => {
    const value = cost.breakdown[k];
    const share = cost.totalUsd > 0 ? ` (${Math.round((value / cost.totalUsd) * 100)}%)` : '';
    return `${k.padEnd(8)}${usd(value).padStart(10)}${share}`;
  });
  const perMinute = cost.perMinuteUsd === null ? 'n/a for a 0-second call' : `${usd(cost.perMinuteUsd)}/min`;
  lines.push(`${'total'.padEnd(8)}${usd(cost.totalUsd).padStart(10)}  ${perMinute}${cost.estimated ? '  (estimated)' : ''}`);
  for (const note of cost.notes) lines.push(`note: ${note}`);
  return lines.join('\n');
}
