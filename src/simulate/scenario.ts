/**
 * Scenario files (`scenarios/*.yaml`): one simulated call each. The format is documented in
 * `scenarios/README.md`; this module is its schema and parser.
 *
 * A scenario says what the caller does (lines, pauses, barge-in, hang-up, silence, keys), what the
 * emulated model decides on each turn, and what must hold when the call is over. A malformed file
 * is reported with the file, the line and what is wrong.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { fieldName, lineOfPath, syntaxProblems } from '../yamlLocation.js';

const e164 = z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be E.164, e.g. +15551234567');
/** How a dialled number or a transfer destination answers (the LiveKit API emulator's outcomes). */
const Answer = z.enum(['answer', 'busy', 'no_answer', 'rejected', 'invalid', 'voicemail', 'timeout', 'error']);
const transferDest = z.string().regex(/^(\+[1-9]\d{6,14}|sip:[^\s]+|tel:\+[1-9]\d{6,14})$/, 'E.164, tel: or sip: URI');

const ModelReply = z.union([
  z.object({ say: z.string().min(1) }).strict(),
  z.object({ call: z.string().min(1), args: z.record(z.unknown()).default({}) }).strict(),
  z.object({ fail: z.number().int().min(400).max(599), message: z.string().default('emulated provider failure') }).strict(),
]);
export type ModelReply = z.infer<typeof ModelReply>;

export const FAULTS = ['store', 'stt-drop', 'stt-down', 'tts'] as const;
export type Fault = (typeof FAULTS)[number];

const Step = z.union([
  z
    .object({
      caller: z.string().min(1),
      /** Speak this many ms after the agent STARTS its next reply (barge-in) instead of after it ends. */
      bargeIn: z.number().int().min(0).optional(),
      /** Extra wait before speaking, after the agent is done. */
      after: z.number().int().min(0).optional(),
      /** A phone menu: speak once the agent has pressed these keys (instead of when it stops talking). */
      afterKeys: z.string().regex(/^[0-9*#A-D]+$/, 'digits, *, # and A-D only').optional(),
      model: z.array(ModelReply).default([]),
    })
    .strict(),
  z.object({ pause: z.number().int().positive() }).strict(),
  z.object({ hangup: z.literal(true), midReply: z.boolean().default(false) }).strict(),
  z.object({ silence: z.literal(true) }).strict(),
  /** The caller presses keys once the agent has stopped talking (each key a DTMF event). */
  z
    .object({
      dtmf: z.string().regex(/^[0-9*#A-D]+$/, 'digits, *, # and A-D only'),
      /** Also play the tones down the audio path, as a line where they leak would (the STT hears them). */
      inBand: z.boolean().default(false),
      /** What the STT makes of the leaked tones, if anything (a transcript the agent must not answer). */
      misheardAs: z.string().min(1).optional(),
      /** Extra wait before pressing, after the agent is done. */
      after: z.number().int().min(0).optional(),
      model: z.array(ModelReply).default([]),
    })
    .strict(),
  /**
   * Something outside the worker fails, from the end of the agent's turn on: `store` (the
   * appointment database), `stt-drop` (Deepgram closes this call's socket; a new one is accepted),
   * `stt-down` (Deepgram closes it and refuses new ones), `tts` (every Cartesia generation fails).
   */
  z.object({ fault: z.enum(FAULTS) }).strict(),
  /** From now on every appointment-store call takes this long (a slow database): the hold filler's cue. */
  z.object({ slowStore: z.number().int().positive() }).strict(),
  /** The worker is told to stop (SIGTERM past the drain): the agent must wrap up. */
  z.object({ shutdown: z.literal(true) }).strict(),
]);
export type Step = z.infer<typeof Step>;

export const Scenario = z
  .object({
    name: z.string().min(1),
    description: z.string().optional(),
    /**
     * Why this scenario cannot be played with real providers (`simulate --live`), e.g. it scripts
     * provider failures or what the STT mishears. Unset: it plays both ways.
     */
    offlineOnly: z.string().min(1).optional(),
    direction: z.enum(['inbound', 'outbound', 'browser']).default('inbound'),
    /** The caller's number (inbound) or the number dialled (outbound). */
    caller: e164.default('+15550001111'),
    /** The clock the tools see, so dates in the script stay valid. */
    now: z.string().datetime({ offset: true }).default('2026-11-23T13:00:00Z'),
    /** Outbound: who we call; their appointment is created before the call. */
    contact: z
      .object({
        name: z.string().min(1),
        appointment: z.object({ start: z.string().datetime({ offset: true }), reason: z.string().optional() }).strict().optional(),
      })
      .strict()
      .optional(),
    /** Outbound: how the callee's line answers (LiveKit API emulator outcome). */
    answer: z.enum(['answer', 'busy', 'no_answer', 'rejected', 'invalid', 'voicemail', 'error']).default('answer'),
    /**
     * Transfers on this call: the allow-list (TRANSFER_ALLOWLIST), the mode, and how each destination
     * answers. Outcomes are set in the shared LiveKit API emulator by destination, so scenarios that
     * run together must not give one destination two different answers.
     */
    transfer: z
      .object({
        allow: z.array(transferDest).min(1),
        mode: z.enum(['cold', 'warm']).default('cold'),
        fallback: z.enum(['callback', 'cold']).default('callback'),
        answers: z.record(transferDest, Answer).default({}),
        /**
         * Warm mode: how the person's line answers the dial. A simulated call has no LiveKit room to
         * brief anyone in, so only the dial is played (through the emulator); an answered dial
         * cannot continue and is reported as a failed warm transfer.
         */
        warmDial: Answer.optional(),
      })
      .strict()
      .optional(),
    /** Appointments that exist before the call. */
    seed: z
      .array(
        z
          .object({
            name: z.string(),
            phone: e164.nullable().default(null),
            start: z.string().datetime({ offset: true }),
            /** YYYY-MM-DD: the second factor under IDENTITY_CHECK=dob. */
            dateOfBirth: z.string().date().optional(),
          })
          .strict(),
      )
      .default([]),
    /** Call limits for this scenario (seconds), overriding config. */
    limits: z
      .object({
        maxCallSeconds: z.number().positive().optional(),
        silenceRepromptSeconds: z.number().positive().optional(),
        silenceTimeoutSeconds: z.number().positive().optional(),
        /** HOLD_FILLER_MS for this call (0: no filler). */
        holdFillerMs: z.number().int().min(0).optional(),
      })
      .strict()
      .default({}),
    /** The clinic safeguards' settings for this call (config), where a scenario needs other than the defaults. */
    settings: z
      .object({
        /** Record the call (RECORDING_DIR: a fresh directory): the greeting starts with the disclosure. */
        recording: z.boolean().optional(),
        /** IDENTITY_CHECK. */
        identityCheck: z.enum(['name', 'dob', 'off']).optional(),
        /** EMERGENCY_ACTION and EMERGENCY_TRANSFER_TO. */
        emergency: z.object({ action: z.enum(['end', 'transfer']), transferTo: transferDest.optional() }).strict().optional(),
        /** STT_KEYTERMS. */
        keyterms: z.array(z.string().min(1)).optional(),
        /** MIN_INTERRUPTION_WORDS. */
        minInterruptionWords: z.number().int().min(0).max(10).optional(),
      })
      .strict()
      .default({}),
    steps: z.array(Step).min(1),
    expect: z
      .object({
        outcome: z.string().min(1),
        agents: z.array(z.string()).optional(),
        toolCalls: z.array(z.string()).optional(),
        appointments: z.number().int().min(0).optional(),
        userdata: z.record(z.unknown()).optional(),
        heard: z.array(z.string()).optional(),
        /** Lines the agent must never have said. */
        notHeard: z.array(z.string()).optional(),
        /** Text some transcript line must contain (e.g. a caller's line the agent must have heard). */
        inTranscript: z.array(z.string()).optional(),
        /** Text no transcript line may contain, whoever it is from (e.g. what the STT made of tones). */
        notInTranscript: z.array(z.string()).optional(),
        /** Transfer attempts, in order. */
        transfers: z
          .array(
            z
              .object({
                to: z.string().nullable(),
                result: z.enum(['transferred', 'failed', 'refused', 'caller_left']),
                mode: z.enum(['cold', 'warm']).optional(),
              })
              .strict(),
          )
          .optional(),
        /** What the transcript shows the caller keyed in ("[keypad] …" lines), in order. */
        keypad: z.array(z.string()).optional(),
        /** Keypad tones the agent sent, in order. */
        keysSent: z.string().optional(),
        /** Messages this call left in the store, in order: whether each promised a callback. */
        messages: z.array(z.object({ callback: z.enum(['none', 'pending']) }).strict()).optional(),
        /** The recording: whether the caller stopped it. */
        recording: z
          .object({
            stopped: z.boolean(),
            /** Caller lines the WAV holds (a line spoken after the stop must not be in it). */
            callerLines: z.number().int().min(0).optional(),
          })
          .strict()
          .optional(),
        /** Query parameters the STT was opened with (Deepgram's keyterm, redact). */
        sttParams: z.record(z.array(z.string())).optional(),
        /** The one-line summary a cold transfer carried in its SIP header (TRANSFER_SUMMARY_HEADER). */
        transferSummary: z.string().optional(),
        roomDeleted: z.boolean().default(true),
      })
      .strict(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.direction === 'outbound' && !s.contact) {
      ctx.addIssue({ code: 'custom', path: ['contact'], message: 'an outbound scenario needs a contact' });
    }
  });
export type Scenario = z.infer<typeof Scenario>;

export class ScenarioError extends Error {
  readonly exitCode = 2;
}

export function parseScenario(text: string, file: string): Scenario {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) throw new ScenarioError(syntaxProblems(doc, lineCounter, file, { column: true })[0]!);
  const parsed = Scenario.safeParse(doc.toJS());
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues
    .flatMap(explainUnion)
    .map((issue) => `${file}:${lineOfPath(doc, lineCounter, issue.path)}: ${fieldName(issue.path) || '(top level)'}: ${issue.message}`);
  throw new ScenarioError(problems.join('\n'));
}

/**
 * A step matches none of the step kinds: zod says only "Invalid input". When one kind has exactly
 * the step's keys and only a value is wrong (e.g. an unknown fault), that kind's issues say more.
 */
function explainUnion(issue: z.ZodIssue): z.ZodIssue[] {
  if (issue.code !== 'invalid_union') return [issue];
  const shapeMismatch = (i: z.ZodIssue) => i.code === 'unrecognized_keys' || (i.code === 'invalid_type' && i.received === 'undefined');
  const fits = issue.unionErrors.filter((e) => !e.issues.some(shapeMismatch));
  return fits.length === 1 ? fits[0]!.issues.flatMap(explainUnion) : [issue];
}

export function loadScenario(file: string): Scenario {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ScenarioError(`${file}: cannot read the scenario (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return parseScenario(text, file);
}
