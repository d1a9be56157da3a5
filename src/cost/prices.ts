/**
 * Price table for the per-call cost model: the built-in list prices, and an optional JSON
 * override file (PRICES_FILE) deep-merged over them.
 *
 * Every price is in US dollars. Every entry says where its numbers come from (`source`) and when
 * they were true (`asOf`), because a price without a date is a guess nobody can check.
 *
 * A pure module apart from `loadPriceTable` reading the file: no config, no network, no clock.
 */
import { readFileSync, statSync } from 'node:fs';
import { z } from 'zod';

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

/** Where a price comes from and when it was true. */
export interface PriceMeta {
  source: string;
  /** YYYY-MM-DD or YYYY-MM. */
  asOf: string;
}

/**
 * How the LiveKit plan's fixed monthly fee is attributed to a call minute:
 * - `marginal` (default): only the per-minute rate, i.e. what one more minute costs once the
 *   plan's included minutes are used up. The fee is treated as a fixed cost of running at all,
 *   outside any one call.
 * - `amortised`: the average cost of a minute at `expectedMonthlyMinutes` (default: the included
 *   minutes), fee included: (monthlyFee + perMinute × max(0, M − includedMinutes)) / M. This
 *   replaces the marginal rate; it is not added to it.
 */
export type FeeAttribution = 'marginal' | 'amortised';

export interface LivekitPrice extends PriceMeta {
  /** USD per agent-session minute beyond the included minutes (the marginal rate). */
  perMinute: number;
  /** USD per month for the plan. */
  monthlyFee: number;
  /** Agent-session minutes the monthly fee includes. */
  includedMinutes: number;
  feeAttribution: FeeAttribution;
  /** Monthly minutes to spread the fee over when `amortised`; null means `includedMinutes`. */
  expectedMonthlyMinutes: number | null;
  /** Each call's minutes are rounded up to this many seconds; 0 bills pro rata. */
  billingIncrementSeconds: number;
}

export interface SttPrice extends PriceMeta {
  /** USD per minute of audio sent to the STT. */
  perMinute: number;
}

export interface LlmPrice extends PriceMeta {
  /** USD per million uncached input (prompt) tokens. */
  inputPerMTokens: number;
  /** USD per million input tokens served from the provider's prompt cache. */
  cachedInputPerMTokens: number;
  /** USD per million output (completion) tokens. */
  outputPerMTokens: number;
}

export interface TtsPrice extends PriceMeta {
  /** USD per minute of synthesized audio. Used unless `perMCharacters` is set. */
  perMinute: number;
  /** USD per million characters sent to the TTS; when set, characters are billed, not minutes. */
  perMCharacters: number | null;
}

export interface SipPrice extends PriceMeta {
  /** USD per minute for calls the carrier brings in to us (our inbound calls). */
  originationPerMinute: number;
  /** USD per minute for calls we send out through the carrier (our outbound calls). */
  terminationPerMinute: number;
  /** Each call's minutes are rounded up to this many seconds; 0 bills pro rata. */
  billingIncrementSeconds: number;
}

/** The entry used when a call names a model, provider or trunk the table does not have. */
export interface FallbackKeys {
  stt: string;
  llm: string;
  tts: string;
  sip: string;
}

export interface PriceTable {
  livekit: LivekitPrice;
  stt: Record<string, SttPrice>;
  llm: Record<string, LlmPrice>;
  tts: Record<string, TtsPrice>;
  /** Keyed by trunk (carrier) name, as in CallUsage.trunk. */
  sip: Record<string, SipPrice>;
  fallback: FallbackKeys;
}

// ---------------------------------------------------------------------------------------------
// Defaults: public list prices, May 2025
// ---------------------------------------------------------------------------------------------

/**
 * All from R. Piacquadio, "How Much Does It Really Cost to Run a Voice-AI Agent at Scale?",
 * dev.to, 2025-05-20, which quotes the providers' public pricing pages as of May 2025
 * (reproduced in /work/shared/reference/README.md).
 */
const ARTICLE = 'R. Piacquadio, "How Much Does It Really Cost to Run a Voice-AI Agent at Scale?", dev.to, 2025-05-20';
const MAY_2025 = '2025-05';

const DEFAULTS: PriceTable = {
  // LiveKit Scale plan: $500/month, 45,000 minutes included, then $0.003/min; bills every call
  // (agent-session) minute. [ARTICLE, May 2025]
  // Default attribution is marginal ($0.003/min) with the fee left out; see FeeAttribution.
  livekit: {
    perMinute: 0.003,
    monthlyFee: 500,
    includedMinutes: 45_000,
    feeAttribution: 'marginal',
    expectedMonthlyMinutes: null,
    billingIncrementSeconds: 0,
    source: `${ARTICLE} — LiveKit Scale plan`,
    asOf: MAY_2025,
  },
  stt: {
    // Deepgram Nova-2, Enterprise, streaming: $0.0047/min of audio sent. [ARTICLE, May 2025]
    // The worker's default model is nova-3 (DEEPGRAM_MODEL); this is the Nova-2 price the
    // article quotes, used for any Deepgram model until an override says otherwise.
    deepgram: {
      perMinute: 0.0047,
      source: `${ARTICLE} — Deepgram Nova-2, Enterprise, streaming`,
      asOf: MAY_2025,
    },
  },
  llm: {
    // OpenAI GPT-4.1 mini: $0.10/M cached input, $0.40/M input, $1.60/M output. [ARTICLE, May 2025]
    'gpt-4.1-mini': {
      inputPerMTokens: 0.4,
      cachedInputPerMTokens: 0.1,
      outputPerMTokens: 1.6,
      source: `${ARTICLE} — OpenAI GPT-4.1 mini`,
      asOf: MAY_2025,
    },
  },
  tts: {
    // Cartesia, Scale plan: $0.0299/min of synthesized audio. [ARTICLE, May 2025]
    cartesia: {
      perMinute: 0.0299,
      perMCharacters: null,
      source: `${ARTICLE} — Cartesia, Scale plan`,
      asOf: MAY_2025,
    },
    // ElevenLabs, Business plan: $0.06/min overage (22,000 min for $1,320, also $0.06/min).
    // [ARTICLE, May 2025] The worker has no ElevenLabs plugin; this is the alternative TTS price.
    elevenlabs: {
      perMinute: 0.06,
      perMCharacters: null,
      source: `${ARTICLE} — ElevenLabs, Business plan`,
      asOf: MAY_2025,
    },
  },
  sip: {
    // Twilio SIP: termination $0.0011/min, origination $0.0034/min. [ARTICLE, May 2025]
    twilio: {
      originationPerMinute: 0.0034,
      terminationPerMinute: 0.0011,
      billingIncrementSeconds: 0,
      source: `${ARTICLE} — Twilio SIP`,
      asOf: MAY_2025,
    },
    // Telnyx SIP: termination $0.0050/min, origination $0.0035/min. [ARTICLE, May 2025]
    telnyx: {
      originationPerMinute: 0.0035,
      terminationPerMinute: 0.005,
      billingIncrementSeconds: 0,
      source: `${ARTICLE} — Telnyx SIP`,
      asOf: MAY_2025,
    },
  },
  // Unknown names are priced as the worker's default stack (config: OPENAI_MODEL gpt-4.1-mini,
  // STT deepgram, TTS cartesia) and flagged `estimated`; Twilio is the documented default trunk.
  fallback: { stt: 'deepgram', llm: 'gpt-4.1-mini', tts: 'cartesia', sip: 'twilio' },
};

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** The built-in price table (frozen). `loadPriceTable()` returns a mutable copy. */
export const DEFAULT_PRICES: Readonly<PriceTable> = deepFreeze(structuredClone(DEFAULTS));

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

const NON_NEG = 'must be a non-negative number';
const money = z
  .number({ invalid_type_error: NON_NEG, required_error: 'required' })
  .finite(NON_NEG)
  .nonnegative(NON_NEG);
const seconds = z
  .number({ invalid_type_error: 'must be a whole number of seconds, 0 or more', required_error: 'required' })
  .int('must be a whole number of seconds, 0 or more')
  .nonnegative('must be a whole number of seconds, 0 or more');
const meta = {
  source: z.string({ invalid_type_error: 'must be a non-empty string', required_error: 'required' }).min(1, 'must be a non-empty string'),
  asOf: z
    .string({ invalid_type_error: 'must be a date, YYYY-MM-DD or YYYY-MM', required_error: 'required' })
    .regex(/^\d{4}-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?$/, 'must be a date, YYYY-MM-DD or YYYY-MM'),
};

const livekitSchema = z
  .object({
    perMinute: money,
    monthlyFee: money,
    includedMinutes: money,
    feeAttribution: z.enum(['marginal', 'amortised'], {
      errorMap: () => ({ message: "must be 'marginal' or 'amortised'" }),
    }),
    expectedMonthlyMinutes: z
      .number({ invalid_type_error: 'must be a positive number or null', required_error: 'required' })
      .finite('must be a positive number or null')
      .positive('must be a positive number or null')
      .nullable(),
    billingIncrementSeconds: seconds,
    ...meta,
  })
  .strict();
const sttSchema = z.object({ perMinute: money, ...meta }).strict();
const llmSchema = z
  .object({ inputPerMTokens: money, cachedInputPerMTokens: money, outputPerMTokens: money, ...meta })
  .strict();
const ttsSchema = z
  .object({
    perMinute: money,
    perMCharacters: z
      .number({ invalid_type_error: 'must be a non-negative number or null', required_error: 'required' })
      .finite('must be a non-negative number or null')
      .nonnegative('must be a non-negative number or null')
      .nullable(),
    ...meta,
  })
  .strict();
const sipSchema = z
  .object({ originationPerMinute: money, terminationPerMinute: money, billingIncrementSeconds: seconds, ...meta })
  .strict();
const keyName = z.string({ invalid_type_error: 'must be the name of an entry', required_error: 'required' }).min(1);
const fallbackSchema = z.object({ stt: keyName, llm: keyName, tts: keyName, sip: keyName }).strict();

const record = <T extends z.ZodTypeAny>(entry: T) =>
  z.record(z.string(), entry, { invalid_type_error: 'must be an object keyed by name' });

const tableSchema = z
  .object({
    livekit: livekitSchema,
    stt: record(sttSchema),
    llm: record(llmSchema),
    tts: record(ttsSchema),
    sip: record(sipSchema),
    fallback: fallbackSchema,
  })
  .strict()
  .superRefine((t, ctx) => {
    for (const kind of ['stt', 'llm', 'tts', 'sip'] as const) {
      const name = t.fallback[kind];
      if (!Object.hasOwn(t[kind], name)) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['fallback', kind],
          message: `'${name}' is not an entry of ${kind} (entries: ${Object.keys(t[kind]).join(', ') || 'none'})`,
        });
      }
    }
    const lk = t.livekit;
    if (lk.feeAttribution === 'amortised' && (lk.expectedMonthlyMinutes ?? lk.includedMinutes) <= 0) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['livekit', 'expectedMonthlyMinutes'],
        message: "must be set when feeAttribution is 'amortised' and includedMinutes is 0",
      });
    }
  });

/** The override file: any subset of the table, every given field checked, no unknown fields. */
const overrideSchema = z
  .object({
    $comment: z.string().optional(),
    livekit: livekitSchema.partial().strict().optional(),
    stt: record(sttSchema.partial().strict()).optional(),
    llm: record(llmSchema.partial().strict()).optional(),
    tts: record(ttsSchema.partial().strict()).optional(),
    sip: record(sipSchema.partial().strict()).optional(),
    fallback: fallbackSchema.partial().strict().optional(),
  })
  .strict();

type Override = z.infer<typeof overrideSchema>;

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

/** A price file that cannot be used; every problem named by file and field. Exit code 2. */
export class PriceTableError extends Error {
  readonly exitCode = 2;
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(problems.map((p) => `${file}: ${p}`).join('\n'));
    this.name = 'PriceTableError';
  }
}

function issueText(issue: z.ZodIssue): string {
  const path = issue.path.join('.');
  if (issue.code === z.ZodIssueCode.unrecognized_keys) {
    return issue.keys.map((k) => `${path ? `${path}.` : ''}${k}: unknown field`).join('\n');
  }
  const message =
    issue.code === z.ZodIssueCode.invalid_type && issue.received === 'undefined' ? 'required' : issue.message;
  return `${path || '(top level)'}: ${message}`;
}

function problemsOf(error: z.ZodError, hint?: (issue: z.ZodIssue) => string): string[] {
  return error.issues.flatMap((i) => issueText(i).split('\n').map((line) => line + (hint?.(i) ?? '')));
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Objects merge key by key; anything else (numbers, strings, null) replaces. */
function deepMerge(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return structuredClone(over);
  const out: Record<string, unknown> = structuredClone(base);
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    out[k] = Object.hasOwn(out, k) ? deepMerge(out[k], v) : structuredClone(v);
  }
  return out;
}

/**
 * An entry whose prices the file changes, without saying where the new numbers come from, must
 * not keep claiming the article as its source: it gets the file as source and, unless given,
 * the file's modification date as `asOf`.
 */
function stampProvenance(over: Override, file: string, fileDate: string): Override {
  const stamp = (entry: Record<string, unknown> | undefined) => {
    if (!entry) return;
    const changesPrices = Object.keys(entry).some((k) => k !== 'source' && k !== 'asOf');
    if (!changesPrices) return;
    entry['source'] ??= `override file ${file}`;
    entry['asOf'] ??= fileDate;
  };
  const out = structuredClone(over);
  stamp(out.livekit);
  for (const kind of ['stt', 'llm', 'tts', 'sip'] as const) {
    for (const entry of Object.values(out[kind] ?? {})) stamp(entry);
  }
  return out;
}

/** Keys that would reach an object's prototype when merged (`__proto__` survives JSON.parse). */
function reservedKeys(value: unknown, path: string[] = []): string[] {
  if (!isPlainObject(value)) return [];
  return Object.keys(value).flatMap((k) =>
    k === '__proto__' || k === 'constructor' || k === 'prototype'
      ? [[...path, k].join('.')]
      : reservedKeys(value[k], [...path, k]),
  );
}

function jsonErrorText(err: unknown, text: string): string {
  const message = err instanceof Error ? err.message : String(err);
  const pos = /at position (\d+)/.exec(message);
  if (pos && !/line \d+/.test(message)) {
    const upTo = text.slice(0, Number(pos[1]));
    const line = upTo.split('\n').length;
    const column = Number(pos[1]) - upTo.lastIndexOf('\n');
    return `not valid JSON: ${message} (line ${line}, column ${column})`;
  }
  return `not valid JSON: ${message}`;
}

/**
 * The price table: the defaults, or the defaults with `file` (JSON) deep-merged over them.
 *
 * The file may give any subset: `{"llm": {"gpt-4.1-mini": {"outputPerMTokens": 1.8}}}` changes
 * one price; a new key (`"llm": {"my-model": {...}}`) adds an entry and must give every field.
 * Throws PriceTableError (exitCode 2) naming the file and each bad field, e.g.
 * `prices.json: llm.gpt-4.1-mini.outputPerMTokens: must be a non-negative number`.
 */
export function loadPriceTable(file?: string): PriceTable {
  if (file === undefined || file.trim() === '') return structuredClone(DEFAULTS);

  let text: string;
  let fileDate: string;
  try {
    text = readFileSync(file, 'utf8');
    fileDate = statSync(file).mtime.toISOString().slice(0, 10);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new PriceTableError(file, [`cannot read the price file (${why})`]);
  }

  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new PriceTableError(file, [jsonErrorText(err, text)]);
  }
  if (!isPlainObject(json)) {
    throw new PriceTableError(file, ['(top level): must be a JSON object such as {"llm": {...}}']);
  }

  const reserved = reservedKeys(json);
  if (reserved.length > 0) throw new PriceTableError(file, reserved.map((path) => `${path}: reserved name, not allowed`));

  const over = overrideSchema.safeParse(json);
  if (!over.success) throw new PriceTableError(file, problemsOf(over.error));

  const { $comment: _comment, ...overrides } = stampProvenance(over.data, file, fileDate);
  const merged = tableSchema.safeParse(deepMerge(DEFAULTS, overrides));
  if (!merged.success) {
    // Fields missing from the merged table can only belong to entries the file adds.
    const hint = (i: z.ZodIssue) =>
      i.code === z.ZodIssueCode.invalid_type && i.received === 'undefined' && i.path.length === 3
        ? ` (${String(i.path[1])} is a new ${String(i.path[0])} entry, so it must give every field)`
        : '';
    throw new PriceTableError(file, problemsOf(merged.error, hint));
  }
  return merged.data as PriceTable;
}
