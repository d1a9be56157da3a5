/**
 * The business the agents answer for, as a template: a YAML file (business.yaml, BUSINESS_FILE)
 * with the name, time zone, opening hours, appointment rules and every line the agent says word
 * for word. Changing the business is editing that file, not the code.
 *
 * A leaf, like config (which loads the file through it): it imports only yaml, zod and
 * yamlLocation. The file is checked whole at start-up, and every problem names the file, the line
 * and the field (`business.yaml:12: hours.open: expected HH:mm`), because the person fixing it is
 * editing that file, not reading a zod path.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Document, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { type FieldPath, fieldName, lineOfPath, syntaxProblems } from './yamlLocation.js';

/** The clinic template shipped at the package root (dist/src/ → ../../): the business when no other is given. */
export const SHIPPED_BUSINESS_FILE = fileURLToPath(new URL('../../business.yaml', import.meta.url));

/** An IANA zone this runtime knows: a typo must stop start-up, not fail every booking later. */
export const ianaZone = z.string().min(1).refine((zone) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}, 'not an IANA time zone this runtime knows (e.g. America/New_York, Europe/London)');

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** "09:00" → minutes after local midnight (24:00 is the end of the day, for a closing time). */
const clock = z
  .string({ invalid_type_error: 'expected HH:mm (quoted, e.g. "09:00")' })
  .regex(/^(([01]?\d|2[0-3]):[0-5]\d|24:00)$/, 'expected HH:mm')
  .transform((hhmm) => {
    const [h, m] = hhmm.split(':').map(Number);
    return h! * 60 + m!;
  });

const PLACEHOLDER = /\{([^{}]*)\}/g;

/**
 * A line as the file writes it, without the surrounding whitespace: a YAML block scalar (`>`, `|`)
 * ends the value with a newline, and the call compares what was said with its own lines.
 */
const spoken = () => z.string().trim();

/** A fixed line with nothing filled in: a `{` in it would be read out as written. */
const text = (max = 300) =>
  spoken().min(1).max(max).refine((s) => !s.includes('{') && !s.includes('}'), 'this line takes no {placeholders}');

/**
 * A line with `{placeholders}` filled in when it is said. Only the placeholders the line may use
 * are allowed, the ones that carry its point (the read-back's name and time, the emergency
 * number) must be there, and no other brace may be. Parsed into a function, so a caller can only
 * fill in those names.
 */
function line<const K extends string>(may: readonly K[], must: readonly K[] = []) {
  const allowed = new Set<string>(may);
  return spoken()
    .min(1)
    .max(300)
    .superRefine((s, ctx) => {
      for (const [, name] of s.matchAll(PLACEHOLDER)) {
        if (!allowed.has(name!)) {
          ctx.addIssue({ code: 'custom', message: `{${name}} is not a placeholder this line has (it may use ${may.map((p) => `{${p}}`).join(', ')})` });
        }
      }
      for (const name of must) if (!s.includes(`{${name}}`)) ctx.addIssue({ code: 'custom', message: `must say {${name}}` });
      // What is not a placeholder is said as written, a stray brace too (`{business.`).
      if (/[{}]/.test(s.replace(PLACEHOLDER, ''))) {
        ctx.addIssue({ code: 'custom', message: 'a { or } that is not part of a {placeholder} would be read out as written' });
      }
    })
    .transform((s) => (values: Record<K, string>) => s.replace(PLACEHOLDER, (_, name: K) => values[name]));
}

const hours = z
  .object({
    /** Days the book is open. */
    days: z
      .array(z.enum(WEEKDAYS, { errorMap: () => ({ message: `expected one of ${WEEKDAYS.join(', ')}` }) }))
      .min(1, 'at least one day')
      .refine((d) => new Set(d).size === d.length, 'a day is listed twice'),
    /** Local opening and closing time, the same on every open day. */
    open: clock,
    close: clock,
  })
  .strict()
  .refine((h) => h.close > h.open, { message: 'must be after hours.open', path: ['close'] });

const appointments = z
  .object({
    slotMinutes: z.number().int().min(5).max(480),
    /** How far ahead a start may be (BOOKING_HORIZON_DAYS overrides it). */
    horizonDays: z.number().int().min(1).max(3650),
    /** Upcoming appointments one phone number may hold (MAX_BOOKINGS_PER_CALLER overrides it). */
    maxPerCaller: z.number().int().min(1).max(100),
    /** Appointments one call may book (MAX_BOOKINGS_PER_CALL overrides it). */
    maxPerCall: z.number().int().min(1).max(100),
  })
  .strict();

const lines = z
  .object({
    /** First sentence of every greeting while calls are recorded (RECORDING_DISCLOSURE overrides it). */
    recordingDisclosure: text(300),
    greeting: z
      .object({
        inbound: line(['business']),
        /** Says who we are calling for, and nothing else, until they confirm it is them. */
        outbound: line(['business', 'contact'], ['contact']),
      })
      .strict(),
    /** Before a booking is made: the caller's yes books it. */
    readBack: line(['name', 'when'], ['name', 'when']),
    readBackWithBirthDate: line(['name', 'when', 'born'], ['name', 'when', 'born']),
    /** Said, and nothing else, to a caller who describes an emergency. */
    emergency: z
      .object({
        end: line(['emergencyNumber'], ['emergencyNumber']),
        transfer: line(['emergencyNumber'], ['emergencyNumber']),
      })
      .strict(),
    /** After the caller objected to the recording. */
    recordingStopped: text(),
    /** Before a failed warm transfer rings the destination directly. */
    transferFallback: text(),
    /** While a slow tool runs (HOLD_FILLER_TEXT overrides it). */
    holdFiller: text(200),
    /** Left on an answering machine: who called and how to call back, nothing about the appointment. */
    voicemail: z
      .object({
        forContact: line(['business', 'contact']),
        anyone: line(['business']),
      })
      .strict(),
    /** What the agent says on each way out the call lifecycle controls, by the outcome it ends with. */
    goodbyes: z
      .object({ max_duration: text(), silence_timeout: text(), shutdown: text(), error: text() })
      .strict(),
    /** After a silence, before the call is ended for it. */
    reprompt: text(),
    /** When the LLM failed a turn: the caller gets a second chance. */
    llmRetryApology: text(),
  })
  .strict();

export const BusinessFile = z
  .object({
    /** Said in the lines ({business}): without the whitespace around it, as they are. */
    name: z.string().trim().min(1).max(100),
    timezone: ianaZone,
    hours,
    appointments,
    lines,
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.appointments.slotMinutes > b.hours.close - b.hours.open) {
      ctx.addIssue({ code: 'custom', path: ['appointments', 'slotMinutes'], message: 'longer than the opening hours: no slot would fit' });
    }
  });
export type Business = z.output<typeof BusinessFile>;
export type SpokenLines = Business['lines'];

/** A business file that cannot be used; each problem is `file:line: field: what is wrong`. */
export class BusinessFileError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'BusinessFileError';
  }
}

/** Reads and checks a business file; throws BusinessFileError naming the file and line of each problem. */
export function loadBusiness(file: string): Business {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new BusinessFileError([`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`]);
  }
  return parseBusiness(text, file);
}

/** Checks a business file's text; `file` is how problems name it. */
export function parseBusiness(text: string, file: string): Business {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new BusinessFileError(syntaxProblems(doc, lineCounter, file));
  }
  const parsed = BusinessFile.safeParse(doc.toJS());
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => located(file, doc, lineCounter, [...issue.path, key], 'unknown key (not a setting of the business template)'))
      : [located(file, doc, lineCounter, issue.path, message(issue))],
  );
  throw new BusinessFileError([...new Set(problems)]);
}

function message(issue: z.ZodIssue): string {
  if (issue.code === 'invalid_type' && issue.received === 'undefined') return 'missing';
  return issue.message;
}

function located(file: string, doc: Document, lines: LineCounter, path: FieldPath, what: string): string {
  return `${file}:${lineOfPath(doc, lines, path)}: ${fieldName(path) || '(the file)'}: ${what}`;
}
