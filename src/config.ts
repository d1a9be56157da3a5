/**
 * Configuration: one schema over the environment (and `.env`), checked once at start-up.
 *
 * A leaf module: it imports nothing from the rest of the project but the business template's
 * loader (src/business.ts, a leaf too), so every layer may read it. The business file
 * (BUSINESS_FILE) gives the values the variables below leave unset: a variable set in the
 * environment overrides the file, so one deployment can differ without editing the template.
 * Every problem is reported at once, by variable name and purpose, because an operator fixing a
 * deployment one error per restart is an operator who stops trusting the tool. Secret values are
 * never echoed, not even when they are the thing that is wrong.
 */
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { z } from 'zod';
import { type Business, BusinessFileError, SHIPPED_BUSINESS_FILE, ianaZone, loadBusiness } from './business.js';

/** Variables whose values must never be printed, logged or put in an error message. */
export const SECRET_VARS = [
  'LIVEKIT_API_SECRET',
  'DEEPGRAM_API_KEY',
  'OPENAI_API_KEY',
  'LLM_FALLBACK_API_KEY',
  'CARTESIA_API_KEY',
  'TWILIO_AUTH_TOKEN',
  'TELNYX_API_KEY',
  'SIP_OUTBOUND_PASSWORD',
  'SIP_INBOUND_PASSWORD',
  'WEBHOOK_SECRET',
] as const;

const SECRET_SET = new Set<string>(SECRET_VARS);

const csv = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x.length > 0),
  );

const seconds = (def: number) => z.coerce.number().positive().max(86_400).default(def);
const wsUrl = z
  .string()
  .regex(/^(wss?|https?):\/\/[^\s]+$/, 'must be a ws://, wss://, http:// or https:// URL');
const httpUrl = z.string().regex(/^https?:\/\/[^\s]+$/, 'must be an http:// or https:// URL');
const e164 = z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be an E.164 number such as +15551234567');

/**
 * Each entry: the schema, and what the variable is for (shown in errors and in `.env.example`).
 * Order matters only for how errors are listed.
 */
const spec = {
  // LiveKit: defaults match `livekit-server --dev`, so a local dev server needs no settings.
  LIVEKIT_URL: [wsUrl.default('ws://localhost:7880'), 'LiveKit server URL the worker registers with'],
  LIVEKIT_API_KEY: [z.string().min(1).default('devkey'), 'LiveKit API key'],
  LIVEKIT_API_SECRET: [z.string().min(1).default('secret'), 'LiveKit API secret'],
  AGENT_NAME: [
    z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, - and _ only').default('switchboard'),
    'agent name used for explicit dispatch (SIP dispatch rules and the CLI dispatch to it)',
  ],
  CALLS_PER_PROCESS: [
    z.coerce.number().int().min(1).max(100).default(13),
    'calls one worker process hosts at once, sharing its runtimes and VAD (1: the framework\'s process per call)',
  ],
  WORKER_MAX_CALLS: [
    z.coerce.number().int().min(0).max(10_000).default(0),
    'calls at once the worker reports as full load to LiveKit (0: machine CPU, the framework\'s measure)',
  ],
  WORKER_ID: [
    z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, ., - and _ only').optional(),
    'names this worker in its call records, so after a crash its restart ends the calls it left open (default: the host name; set it where that changes at each restart, as in containers)',
  ],
  HEALTH_PORT: [
    z.coerce.number().int().min(1).max(65_535).default(8081),
    'port of the worker\'s HTTP health check',
  ],
  HOST_MEMORY_LIMIT_MB: [
    z.coerce.number().int().min(0).max(65_536).default(1536),
    'resident memory past which a call process takes no new calls and is replaced once its calls end (0: no limit)',
  ],

  // Providers. Keys are optional in the schema and required by `requireProviderKeys` for the
  // providers actually selected, so a sandbox run needs none.
  STT_PROVIDERS: [
    csv.pipe(z.array(z.enum(['deepgram', 'cartesia'])).min(1)).default('deepgram'),
    'speech-to-text providers in fallback order (deepgram, cartesia)',
  ],
  TTS_PROVIDERS: [
    csv.pipe(z.array(z.enum(['cartesia', 'deepgram'])).min(1)).default('cartesia'),
    'text-to-speech providers in fallback order (cartesia, deepgram)',
  ],
  DEEPGRAM_API_KEY: [z.string().min(1).optional(), 'Deepgram API key (STT, and Aura TTS if selected)'],
  DEEPGRAM_MODEL: [z.string().min(1).default('nova-3'), 'Deepgram STT model'],
  DEEPGRAM_TTS_MODEL: [z.string().min(1).default('aura-2-thalia-en'), 'Deepgram Aura TTS model'],
  DEEPGRAM_BASE_URL: [wsUrl.optional(), 'Deepgram endpoint override (sandbox or proxy)'],
  STT_LANGUAGE: [z.string().min(2).default('en-US'), 'language spoken by callers'],
  OPENAI_API_KEY: [z.string().min(1).optional(), 'OpenAI API key'],
  OPENAI_MODEL: [z.string().min(1).default('gpt-4.1-mini'), 'LLM model'],
  OPENAI_BASE_URL: [httpUrl.optional(), 'OpenAI-compatible endpoint override'],
  LLM_FALLBACK_MODEL: [z.string().min(1).optional(), 'second LLM, used when the first fails'],
  LLM_FALLBACK_BASE_URL: [httpUrl.optional(), 'OpenAI-compatible endpoint of the fallback LLM'],
  LLM_FALLBACK_API_KEY: [z.string().min(1).optional(), 'API key of the fallback LLM'],
  CARTESIA_API_KEY: [z.string().min(1).optional(), 'Cartesia API key'],
  CARTESIA_MODEL: [z.string().min(1).default('sonic-2'), 'Cartesia TTS model'],
  CARTESIA_VOICE: [
    z.string().min(1).default('f786b574-daa5-4673-aa0c-cbe3e8534c02'),
    'Cartesia voice id',
  ],
  CARTESIA_BASE_URL: [httpUrl.optional(), 'Cartesia endpoint override (sandbox or proxy)'],
  SIMULATE_CALLER_VOICE: [
    z.string().min(1).default('a0e99841-438c-4a64-b679-ae501e7d6091'),
    'Cartesia voice id the emulated caller speaks with in `switchboard simulate --live` (not the agent\'s voice)',
  ],

  // Turn taking tuned for the phone: a PSTN leg already adds 100–200 ms, so endpointing is kept
  // short; see README "Latency".
  ENDPOINTING_MS: [z.coerce.number().int().min(0).max(5000).default(400), 'silence before a turn ends'],
  INPUT_FRAME_MS: [
    // 20 by default: a phone packet is 20 ms, so 10 ms frames carry no news and double the
    // per-frame work (FFI events, VAD, STT pushes); bench/README.md has the measurements.
    z.enum(['10', '20']).default('20').transform(Number),
    "size of the caller's audio frames rtc-node hands the session, in ms (20: one phone packet; 10: rtc-node's own default, twice the per-frame work)",
  ],
  PREEMPTIVE_TTS: [
    z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
    'start speech synthesis before the end of turn is confirmed (faster replies; discarded replies cost TTS)',
  ],
  MIN_INTERRUPTION_MS: [
    z.coerce.number().int().min(0).max(5000).default(400),
    'caller speech needed to interrupt the agent',
  ],
  MIN_INTERRUPTION_WORDS: [
    z.coerce.number().int().min(0).max(10).default(2),
    'phone calls: words the caller must say to interrupt the agent, so "uh-huh" or a cough does not cut it off (browser: 1)',
  ],
  STT_KEYTERMS: [
    csv.default(''),
    'words the STT should expect: staff, street and product names (Deepgram keyterms; BUSINESS_NAME is always one)',
  ],

  // The business the reference agents serve: a template file, and the variables that override it.
  BUSINESS_FILE: [
    z.string().min(1).default('business.yaml'),
    'the business template: name, hours, appointment rules and every line the agent says (relative to the working directory; unset and absent there: the clinic template shipped with Switchboard)',
  ],
  BUSINESS_NAME: [z.string().min(1).optional(), 'name the agent answers with (overrides `name` in BUSINESS_FILE)'],
  BUSINESS_TIMEZONE: [ianaZone.optional(), 'IANA zone of the appointment book (overrides `timezone` in BUSINESS_FILE)'],
  DEFAULT_REGION: [
    z.string().regex(/^[A-Z]{2}$/, 'two-letter ISO country code').default('US'),
    'region for numbers written without a country code',
  ],
  MAX_BOOKINGS_PER_CALLER: [
    z.coerce.number().int().min(1).max(100).optional(),
    'upcoming appointments one phone number may hold at once (overrides `appointments.maxPerCaller` in BUSINESS_FILE)',
  ],
  MAX_BOOKINGS_PER_CALL: [
    z.coerce.number().int().min(1).max(100).optional(),
    'appointments one call may book (overrides `appointments.maxPerCall` in BUSINESS_FILE)',
  ],
  BOOKING_HORIZON_DAYS: [
    z.coerce.number().int().min(1).max(3650).optional(),
    'how many days ahead appointments may be booked (overrides `appointments.horizonDays` in BUSINESS_FILE)',
  ],

  // Clinic safeguards (src/policy/): what the agent may say and do for the public.
  RECORDING_DISCLOSURE: [
    z.string().min(1).max(300).optional(),
    'first sentence of every greeting while RECORDING_DIR is set; the recording starts with it (overrides `lines.recordingDisclosure` in BUSINESS_FILE)',
  ],
  EMERGENCY_NUMBER: [z.string().regex(/^[0-9]{2,4}$/, '2-4 digits, e.g. 911').default('911'), 'local emergency number callers are told to call'],
  EMERGENCY_ACTION: [
    z.enum(['end', 'transfer']).default('end'),
    'after telling a caller in an emergency to call EMERGENCY_NUMBER: end the call, or transfer to EMERGENCY_TRANSFER_TO',
  ],
  EMERGENCY_TRANSFER_TO: [
    z.string().regex(/^(\+[1-9]\d{6,14}|sip:[^\s]+|tel:\+[1-9]\d{6,14})$/, 'E.164, tel: or sip: URI').optional(),
    'EMERGENCY_ACTION=transfer: where (a nurse line; must be on TRANSFER_ALLOWLIST)',
  ],
  IDENTITY_CHECK: [
    z.enum(['name', 'dob', 'off']).default('name'),
    'second factor before an existing appointment is read out or changed: name (the name on the booking), dob (the date of birth, also asked when booking; bookings without one fall back to the name) or off',
  ],
  REDACT_PII: [
    z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
    'mask card numbers, SSNs, dates of birth and emails in transcripts, tool calls, messages and logs we write (and ask Deepgram to)',
  ],
  RETENTION_DAYS: [
    z.coerce.number().int().min(0).max(36_500).default(0),
    '`switchboard purge` clears transcripts, recordings, userdata and messages of calls older than this (0: keep; bookings are always kept)',
  ],

  // Call limits.
  MAX_CALL_SECONDS: [seconds(900), 'longest a call may last before the agent wraps up'],
  DRAIN_SECONDS: [
    z.coerce.number().positive().max(86_400).optional(),
    'on SIGTERM, how long calls in progress may go on before each is ended with a goodbye (default MAX_CALL_SECONDS + 30; keep it under your orchestrator\'s kill grace period)',
  ],
  SILENCE_REPROMPT_SECONDS: [seconds(8), 'caller silence before the agent asks "are you still there?"'],
  SILENCE_TIMEOUT_SECONDS: [seconds(8), 'further silence after the reprompt before hanging up'],

  // Store and artefacts.
  STORE_URL: [
    z.string().regex(/^(sqlite:.+|postgres(ql)?:\/\/.+)$/, 'must be sqlite:<file> or postgres://user@host:port/db').default('sqlite:./data/switchboard.db'),
    'where calls, bookings, campaigns and the webhook outbox live: sqlite:<file>, or postgres://… shared by a fleet (password in PGPASSWORD)',
  ],
  STORE_PATH: [z.string().min(1).optional(), 'deprecated alias of STORE_URL=sqlite:<this file>; used only when STORE_URL is unset'],
  RECORD_JOURNAL_PATH: [
    z.string().min(1).default('./data/record-journal.ndjson'),
    'local file call records are spooled to when the store refuses them; replayed into the store on the next worker start',
  ],
  RECORDING_DIR: [z.string().optional(), 'directory for stereo µ-law call recordings (unset: off)'],
  LATENCY_LOG_PATH: [z.string().optional(), 'NDJSON file for per-turn latency (unset: call record only)'],
  PRICES_FILE: [z.string().optional(), 'JSON price table overriding the built-in list prices'],
  SIP_CARRIER: [z.enum(['twilio', 'telnyx']).default('twilio'), 'carrier of the SIP trunk, for per-call cost'],

  // Observability (src/observe/).
  METRICS_PORT: [
    z.coerce.number().int().min(1).max(65_535).optional(),
    'port of a separate Prometheus /metrics listener (unset: /metrics on HEALTH_PORT, beside the health check)',
  ],
  OTEL_EXPORTER_OTLP_ENDPOINT: [httpUrl.optional(), 'OTLP/HTTP collector base URL for call traces (unset: no tracing)'],
  OTEL_TRACE_CONTENT: [
    z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
    'let transcripts, chat history and tool arguments into traces (default: names and timings only)',
  ],
  BUILD_VERSION: [z.string().min(1).optional(), 'build recorded on every call record and trace (unset: the package version)'],

  // Outbound.
  ALLOWED_COUNTRIES: [
    csv.pipe(z.array(z.string().regex(/^([A-Z]{2}|\*)$/, 'two-letter ISO country codes, or *'))).default(''),
    'countries outbound calls and transfers may reach, e.g. US,CA (unset: DEFAULT_REGION only; *: any); emergency, premium-rate and short-code numbers are never dialled',
  ],
  SIP_OUTBOUND_TRUNK_ID: [z.string().optional(), 'LiveKit outbound trunk id used to dial'],
  CALLER_ID: [e164.optional(), 'number shown to people we call'],
  RING_TIMEOUT_SECONDS: [seconds(30), 'how long an outbound call may ring'],
  VOICEMAIL_ACTION: [z.enum(['leave_message', 'hang_up']).default('leave_message'), 'what to do on an answering machine'],

  // Outbound campaigns: read by `switchboard campaign run` and `switchboard call` (src/campaign).
  CAMPAIGN_MAX_CONCURRENT: [z.coerce.number().int().min(1).max(10_000).default(10), 'campaign calls in flight at once'],
  CAMPAIGN_CPS: [
    z.coerce.number().min(0).max(1000).default(1),
    'campaign calls started per second, the trunk CPS limit (0: unlimited)',
  ],
  CALLING_WINDOW: [
    z.string().regex(/^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$/, 'HH:MM-HH:MM, e.g. 09:00-20:00').default('09:00-20:00'),
    "hours a campaign may call, in each contact's local time zone",
  ],
  CALLING_DAYS: [
    csv.pipe(z.array(z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'])).min(1)).default('mon,tue,wed,thu,fri,sat,sun'),
    "days a campaign may call, in each contact's local time zone (mon,…,sun)",
  ],
  RETRY_MAX_ATTEMPTS: [z.coerce.number().int().min(1).max(20).default(3), 'dial attempts per campaign contact, the first included'],
  RETRY_BACKOFF_SECONDS: [
    z.coerce.number().min(0).max(7 * 86_400).default(900),
    'wait before the first retry of a campaign contact; doubles with each further attempt',
  ],
  RETRY_OUTCOMES: [
    csv
      .pipe(
        z.array(
          z.enum([
            'completed', 'hung_up', 'voicemail', 'busy', 'no_answer', 'rejected', 'invalid_number', 'failed', 'error',
            'max_duration', 'silence_timeout', 'shutdown', 'transferred',
          ]),
        ),
      )
      .default('busy,no_answer'),
    'call outcomes after which a campaign contact is dialled again (others are final)',
  ],
  DNC_FILE: [z.string().optional(), 'do-not-call list for campaigns: one number per line (or the first CSV column)'],
  CAMPAIGN_CALL_TIMEOUT_SECONDS: [
    seconds(1800),
    'how long a dispatched campaign call may go without a finished call record before it counts as an error',
  ],

  // End-of-call webhooks (src/webhook), signed per Standard Webhooks and delivered from the outbox.
  WEBHOOK_URL: [
    csv.pipe(z.array(z.string().url('must be a URL').regex(/^https?:\/\//, 'must be an http:// or https:// URL'))).default(''),
    'endpoints (comma-separated) that get a signed end-of-call report for every call (unset: no webhooks)',
  ],
  WEBHOOK_SECRET: [
    z.string().regex(/^(whsec_)?[A-Za-z0-9+/]{32,}={0,2}$/, 'must be whsec_ followed by base64 (at least 24 random bytes)').optional(),
    'signing secret for WEBHOOK_URL (whsec_<base64>), shared with the receivers',
  ],
  WEBHOOK_TIMEOUT_SECONDS: [seconds(10), 'how long a receiver may take to answer one delivery before it is retried'],

  // Call control.
  TRANSFER_ALLOWLIST: [
    csv.pipe(z.array(z.string().regex(/^(\+[1-9]\d{6,14}|sip:[^\s]+|tel:\+[1-9]\d{6,14})$/))).default(''),
    'destinations a call may be transferred to (E.164, tel: or sip: URIs)',
  ],
  TRANSFER_MODE: [
    z.enum(['cold', 'warm']).default('cold'),
    'cold: hand the caller straight over (SIP REFER); warm: dial a person on the outbound trunk and brief them first',
  ],
  TRANSFER_FALLBACK: [
    z.enum(['callback', 'cold']).default('callback'),
    'when nobody takes a warm transfer: promise a callback, or ring the destination directly (cold)',
  ],
  TRANSFER_SUMMARY_HEADER: [
    z.string().regex(/^X-[A-Za-z0-9-]{1,60}$/, 'an X- header name').default('X-Switchboard-Summary'),
    'SIP header on a cold transfer (REFER) carrying a one-line summary for the person who answers, where the carrier passes it on',
  ],
  TRANSFER_RING_SECONDS: [z.coerce.number().int().min(5).max(120).default(20), 'how long a transfer destination may ring'],
  HOLD_FILLER_MS: [z.coerce.number().int().min(0).max(60_000).default(1500), 'tool time before a "one moment" filler (0: off)'],
  HOLD_FILLER_TEXT: [
    z.string().min(1).max(200).optional(),
    'what the agent says while a slow tool runs (overrides `lines.holdFiller` in BUSINESS_FILE)',
  ],
  DTMF_INTERDIGIT_MS: [
    z.coerce.number().int().min(200).max(10_000).default(1000),
    'keypad keys pressed unprompted reach the agent after this long without another key (or on #)',
  ],

  // Telephony setup: read by `switchboard setup sip|twilio` (numbers are checked there, with
  // libphonenumber, so a typo here never stops the worker from starting).
  SIP_TRUNK_NAME: [
    z.string().regex(/^[A-Za-z0-9_-]{1,48}$/, 'letters, digits, - and _ only, at most 48').default('switchboard'),
    'name the setup commands give (and find) the trunks and dispatch rule by',
  ],
  ROOM_PREFIX: [
    z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'letters, digits, - and _ only').default('call'),
    'prefix of the per-caller room names the SIP dispatch rule creates',
  ],
  LIVEKIT_SIP_URI: [
    z.string().optional(),
    'LiveKit SIP endpoint the carrier sends calls to (sip:<project>.sip.livekit.cloud or sip:<your-host>:5060)',
  ],
  SIP_INBOUND_NUMBERS: [csv.default(''), 'E.164 numbers callers dial to reach the agent (inbound trunk)'],
  SIP_INBOUND_ALLOWED_ADDRESSES: [csv.default(''), 'IPs/CIDRs the carrier signals from (inbound trunk allow list)'],
  SIP_INBOUND_USERNAME: [z.string().optional(), 'digest username the carrier must use on inbound calls'],
  SIP_INBOUND_PASSWORD: [z.string().optional(), 'digest password the carrier must use on inbound calls'],
  SIP_OUTBOUND_ADDRESS: [
    z.string().optional(),
    'carrier host outbound calls go to (e.g. <name>.pstn.twilio.com or sip.telnyx.com), no sip: prefix',
  ],
  SIP_OUTBOUND_NUMBERS: [csv.default(''), 'E.164 numbers outbound calls may show (outbound trunk; defaults to CALLER_ID)'],
  SIP_OUTBOUND_TRANSPORT: [z.enum(['auto', 'udp', 'tcp', 'tls']).default('auto'), 'SIP transport to the carrier'],
  SIP_OUTBOUND_USERNAME: [z.string().optional(), 'digest username LiveKit uses with the carrier on outbound calls'],
  SIP_OUTBOUND_PASSWORD: [z.string().optional(), 'digest password LiveKit uses with the carrier on outbound calls'],
  TWILIO_ACCOUNT_SID: [
    z.string().regex(/^AC[0-9a-fA-F]{32}$/, 'must look like AC followed by 32 hex digits').optional(),
    'Twilio account SID (setup twilio)',
  ],
  TWILIO_AUTH_TOKEN: [z.string().optional(), 'Twilio auth token (setup twilio)'],
  TWILIO_TRUNK_DOMAIN: [
    z.string().regex(/^[a-z0-9-]+\.pstn\.twilio\.com$/, 'must be <name>.pstn.twilio.com').optional(),
    'termination domain of the Twilio trunk (unset: derived from SIP_TRUNK_NAME and the account)',
  ],
  TWILIO_API_BASE_URL: [
    httpUrl.optional(),
    'Twilio API override (sandbox or proxy): https://<product>.twilio.com/<path> goes to <this>/<product>/<path>',
  ],
  TELNYX_API_KEY: [z.string().optional(), 'Telnyx API v2 key (setup telnyx)'],
  TELNYX_AUTH: [
    z.enum(['credentials', 'ip']).default('credentials'),
    'how Telnyx accepts LiveKit\'s outbound calls: credentials (SIP_OUTBOUND_USERNAME/PASSWORD) or ip (the addresses of LIVEKIT_SIP_URI\'s host; self-hosted SIP only)',
  ],
  TELNYX_API_BASE_URL: [httpUrl.optional(), 'Telnyx API v2 override (sandbox or proxy), e.g. http://127.0.0.1:4010/v2'],
  SIP_WIDEBAND: [
    z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
    'the carrier trunk offers G.722 wideband (setup telnyx asks for it): phone calls then run at 16 kHz end to end instead of 8 kHz',
  ],
  LOG_LEVEL: [
    z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).optional(),
    'log level (trace, debug, info, warn, error, fatal); unset: info for `start`, debug for `dev`, warn for the CLI',
  ],
} as const;

type Spec = typeof spec;
type FromEnv = { [K in keyof Spec]: z.output<Spec[K][0]> };
export type ConfigKey = keyof Spec;

/**
 * The variables the business file fills in when they are unset, and the file's value for each.
 * Code reads these values from the variables only (the file's copy is not kept), so an override
 * can never be missed by reading the wrong one.
 */
const FROM_BUSINESS_FILE = {
  BUSINESS_NAME: (b) => b.name,
  BUSINESS_TIMEZONE: (b) => b.timezone,
  BOOKING_HORIZON_DAYS: (b) => b.appointments.horizonDays,
  MAX_BOOKINGS_PER_CALLER: (b) => b.appointments.maxPerCaller,
  MAX_BOOKINGS_PER_CALL: (b) => b.appointments.maxPerCall,
  RECORDING_DISCLOSURE: (b) => b.lines.recordingDisclosure,
  HOLD_FILLER_TEXT: (b) => b.lines.holdFiller,
} satisfies { [K in ConfigKey]?: (b: Business) => NonNullable<FromEnv[K]> };
type BusinessVar = keyof typeof FROM_BUSINESS_FILE;

/** The rest of the business file: what no variable overrides. */
export interface BusinessConfig {
  hours: Business['hours'];
  appointments: Pick<Business['appointments'], 'slotMinutes'>;
  lines: Omit<Business['lines'], 'recordingDisclosure' | 'holdFiller'>;
}

export type Config = Omit<FromEnv, BusinessVar> & { [K in BusinessVar]: NonNullable<FromEnv[K]> } & { business: BusinessConfig };

/** A business file as config reads it when no variable overrides it: the variables' values, and the rest. */
export type BusinessSettings = Pick<Config, BusinessVar | 'business'>;

function businessSettings(b: Business): BusinessSettings {
  const { recordingDisclosure: _disclosure, holdFiller: _filler, ...lines } = b.lines;
  const vars = Object.fromEntries(Object.entries(FROM_BUSINESS_FILE).map(([key, of]) => [key, of(b)])) as Pick<Config, BusinessVar>;
  return { ...vars, business: { hours: b.hours, appointments: { slotMinutes: b.appointments.slotMinutes }, lines } };
}

let shipped: BusinessSettings | undefined;
/** The clinic template shipped with Switchboard, read once: for agents and rules built without a config (tests, prompt versions). */
export function shippedBusiness(): BusinessSettings {
  return (shipped ??= businessSettings(loadBusiness(SHIPPED_BUSINESS_FILE)));
}

export class ConfigError extends Error {
  readonly exitCode = 2;
  constructor(readonly problems: string[]) {
    super(`Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
      problems.map((p) => `  - ${p}`).join('\n'));
    this.name = 'ConfigError';
  }
}

/** What a variable is for, for error messages and docs. */
export function describeVar(key: ConfigKey): string {
  return spec[key][1];
}

export const CONFIG_KEYS = Object.keys(spec) as ConfigKey[];

let defaultEnvFile = '.env';

/**
 * Makes `readEnv()` read `file` instead of `./.env` (the CLI's `--env-file`). Unlike `.env`, a
 * file asked for by name must exist.
 */
export function useEnvFile(file: string): void {
  if (!existsSync(file)) throw new ConfigError([`--env-file: ${file} does not exist — give the path of a file of NAME=value lines (see .env.example)`]);
  defaultEnvFile = file;
}

/**
 * Reads `.env` (if present) under the real environment: real variables win, so a deployment can
 * override a checked-out `.env` without editing it.
 */
export function readEnv(envFile = defaultEnvFile, env: NodeJS.ProcessEnv = process.env): Record<string, string | undefined> {
  const fromFile = existsSync(envFile) ? parseDotenv(readFileSync(envFile)) : {};
  return { ...fromFile, ...env };
}

export interface LoadOptions {
  /** Also require the API keys of the selected providers (the production worker). */
  requireProviderKeys?: boolean;
}

export function loadConfig(env: Record<string, string | undefined> = readEnv(), options: LoadOptions = {}): Config {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const key of CONFIG_KEYS) {
    const [schema, purpose] = spec[key];
    const raw = env[key];
    // An empty assignment (`FOO=` in .env) means "not set", as operators expect.
    const value = raw === undefined || raw.trim() === '' ? undefined : raw.trim();
    const parsed = (schema as z.ZodTypeAny).safeParse(value);
    if (parsed.success) {
      out[key] = parsed.data;
    } else {
      const why = parsed.error.issues.map((i) => i.message).join('; ');
      // A URL may carry credentials (scheme://user:password@host): the password is not shown either.
      const safe = value === undefined ? undefined : hidePassword(value);
      const shown = SECRET_SET.has(key) || safe === undefined ? '' : ` (got ${JSON.stringify(safe)})`;
      problems.push(`${key}: ${why}${shown} — ${purpose}`);
    }
  }
  if (out.BUSINESS_FILE !== undefined) {
    const business = readBusinessFile(out.BUSINESS_FILE as string, env.BUSINESS_FILE?.trim() ? 'set' : 'default', problems);
    if (business) {
      const file = businessSettings(business);
      for (const key of Object.keys(FROM_BUSINESS_FILE) as BusinessVar[]) out[key] ??= file[key];
      out.business = file.business;
    }
    problems.push(...shippedTemplateProblems(out.BUSINESS_FILE as string));
  }
  if (problems.length === 0) problems.push(...crossFieldProblems(out as Config));
  if (options.requireProviderKeys) problems.push(...missingProviderKeys(out as Partial<Config>));
  if ((out.WEBHOOK_URL as string[] | undefined)?.length && !out.WEBHOOK_SECRET) {
    problems.push(`WEBHOOK_SECRET: not set — ${describeVar('WEBHOOK_SECRET')} (needed because WEBHOOK_URL is set)`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  // STORE_PATH still works for deployments that set it, as long as STORE_URL is not set as well.
  if (out.STORE_PATH && !env.STORE_URL?.trim()) out.STORE_URL = `sqlite:${out.STORE_PATH as string}`;
  return out as Config;
}

/**
 * The business file BUSINESS_FILE names, from the working directory. Unset and absent there (a
 * CLI run elsewhere, a checkout without its own), the clinic template shipped with Switchboard;
 * a file asked for by name must exist.
 */
function readBusinessFile(file: string, given: 'set' | 'default', problems: string[]): Business | undefined {
  const path = resolve(file);
  if (!existsSync(path) && given === 'set') {
    problems.push(`BUSINESS_FILE: ${file} does not exist — ${describeVar('BUSINESS_FILE')}`);
    return undefined;
  }
  try {
    return existsSync(path) ? loadBusiness(file) : loadBusiness(SHIPPED_BUSINESS_FILE);
  } catch (err) {
    if (!(err instanceof BusinessFileError)) throw err;
    problems.push(...err.problems);
    return undefined;
  }
}

/**
 * When BUSINESS_FILE is another file, the problems of the template shipped with Switchboard: its
 * lines and rules are the agents' defaults (CLINIC_POLICY, defaultRules: every call's prompt
 * versions), read on first use, so a mistake in it is reported now, with the rest, not when a
 * call ends.
 */
function shippedTemplateProblems(file: string): string[] {
  const path = resolve(file);
  if (path === SHIPPED_BUSINESS_FILE || !existsSync(path)) return []; // read above already
  try {
    shippedBusiness();
    return [];
  } catch (err) {
    if (!(err instanceof BusinessFileError)) throw err;
    return err.problems;
  }
}

let warnedStorePath = false;
/** The store to open, and the setting it came from (for error messages); warns once about STORE_PATH. */
export function storeTarget(config: Pick<Config, 'STORE_URL' | 'STORE_PATH'>): { url: string; setting: 'STORE_URL' | 'STORE_PATH' } {
  if (config.STORE_PATH && config.STORE_URL === `sqlite:${config.STORE_PATH}`) {
    if (!warnedStorePath) {
      warnedStorePath = true;
      process.stderr.write('warning: STORE_PATH is deprecated: set STORE_URL=sqlite:<file> instead\n');
    }
    return { url: config.STORE_URL, setting: 'STORE_PATH' };
  }
  return { url: config.STORE_URL, setting: 'STORE_URL' };
}

/** Settings that are each valid but do not fit together. */
function crossFieldProblems(c: Config): string[] {
  const problems: string[] = [];
  if (c.EMERGENCY_ACTION === 'transfer') {
    if (!c.EMERGENCY_TRANSFER_TO) problems.push(`EMERGENCY_TRANSFER_TO: not set — needed because EMERGENCY_ACTION=transfer`);
    else if (!c.TRANSFER_ALLOWLIST.includes(c.EMERGENCY_TRANSFER_TO)) {
      problems.push(`EMERGENCY_TRANSFER_TO: ${c.EMERGENCY_TRANSFER_TO} is not on TRANSFER_ALLOWLIST — calls are only ever transferred to allowed destinations`);
    }
  }
  return problems;
}

/** A key needed for something besides the selected providers, and why. */
export interface ExtraKey {
  key: ConfigKey;
  why: string;
}

/**
 * The keys the selected providers need (and `also` these); called where real providers are about
 * to be used.
 */
export function requireProviderKeys(config: Config, also: ExtraKey[] = []): void {
  const problems = missingProviderKeys(config, also);
  if (problems.length > 0) throw new ConfigError(problems);
}

function missingProviderKeys(config: Partial<Config>, also: ExtraKey[] = []): string[] {
  const problems: string[] = [];
  const stt = config.STT_PROVIDERS ?? ['deepgram'];
  const tts = config.TTS_PROVIDERS ?? ['cartesia'];
  const need = (key: ConfigKey, why: string) => {
    if (!config[key]) problems.push(`${key}: not set — ${describeVar(key)} (needed because ${why})`);
  };
  if (stt.includes('deepgram')) need('DEEPGRAM_API_KEY', 'STT_PROVIDERS includes deepgram');
  if (stt.includes('cartesia')) need('CARTESIA_API_KEY', 'STT_PROVIDERS includes cartesia');
  if (tts.includes('cartesia')) need('CARTESIA_API_KEY', 'TTS_PROVIDERS includes cartesia');
  if (tts.includes('deepgram')) need('DEEPGRAM_API_KEY', 'TTS_PROVIDERS includes deepgram');
  need('OPENAI_API_KEY', 'the agents think with an OpenAI-compatible LLM');
  for (const { key, why } of also) need(key, why);
  // One line per variable, even when two providers need the same key.
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = p.split(':')[0]!;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** A URL's password (postgres://user:pw@host) is a secret even where the rest of the value is not. */
const hidePassword = (v: string) => v.replace(/(\/\/[^:/@\s]*:)[^@/\s]+@/g, '$1***@');

/** The config as it may be shown to a person: every secret replaced by whether it is set. */
export function redactedConfig(config: Config): Record<string, unknown> {
  const shown: Record<string, unknown> = {};
  for (const key of CONFIG_KEYS) {
    const v = config[key];
    shown[key] = SECRET_SET.has(key) ? (v ? '[set]' : '[unset]') : typeof v === 'string' ? hidePassword(v) : v;
  }
  return shown;
}

/**
 * How long a SIGTERM lets calls in progress run on (the framework's drain) before the rest are
 * ended the way a shutdown ends them: a goodbye, then the room deleted. Past MAX_CALL_SECONDS every
 * call has wrapped up on its own, so by default the drain never cuts one short.
 */
export function drainMs(config: Pick<Config, 'DRAIN_SECONDS' | 'MAX_CALL_SECONDS'>): number {
  return (config.DRAIN_SECONDS ?? config.MAX_CALL_SECONDS + 30) * 1000;
}

/** This worker's name in the call records it owns (WORKER_ID, or the host name). */
export function workerId(config: Pick<Config, 'WORKER_ID'>): string {
  return config.WORKER_ID ?? hostname();
}

/** `.env.example` content, generated from the schema so it can never drift from it. */
export function envExample(): string {
  const lines = ['# Switchboard configuration. Real environment variables override this file.', ''];
  for (const key of CONFIG_KEYS) {
    const [schema, purpose] = spec[key];
    const def = (schema as z.ZodTypeAny).safeParse(undefined);
    const value = def.success && def.data !== undefined ? String(def.data) : '';
    lines.push(`# ${purpose}${SECRET_SET.has(key) ? ' (secret)' : ''}`);
    lines.push(`${key}=${SECRET_SET.has(key) && key !== 'LIVEKIT_API_SECRET' ? '' : value}`);
    lines.push('');
  }
  return lines.join('\n');
}
