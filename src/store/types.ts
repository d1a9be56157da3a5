/**
 * What the store keeps, as types every layer above may use. No behaviour lives here.
 */

/**
 * How a call ended. A discriminated union so a record can never say "completed" and carry a SIP
 * error, or "error" without saying what broke.
 */
export type CallOutcome =
  /** The agent finished the conversation and said goodbye. */
  | { kind: 'completed'; summary?: string }
  /** The caller (or callee) hung up before the agent finished. */
  | { kind: 'hung_up' }
  /** The call reached MAX_CALL_SECONDS. */
  | { kind: 'max_duration' }
  /** The caller stayed silent through a reprompt. */
  | { kind: 'silence_timeout' }
  /** The worker was shutting down; the agent wrapped up. */
  | { kind: 'shutdown' }
  /** Handed to a person. */
  | { kind: 'transferred'; to: string }
  /** Outbound: an answering machine picked up; `messageLeft` says whether we spoke. */
  | { kind: 'voicemail'; messageLeft: boolean }
  /** Outbound dial failures, mapped from SIP status codes. */
  | { kind: 'busy'; sipStatus?: number }
  | { kind: 'no_answer'; sipStatus?: number }
  | { kind: 'rejected'; sipStatus?: number }
  | { kind: 'invalid_number'; sipStatus?: number }
  | { kind: 'failed'; sipStatus?: number; error: string }
  /** Something in the worker, a tool or a provider broke and the call could not go on. */
  | { kind: 'error'; error: string };

export type OutcomeKind = CallOutcome['kind'];

export type Direction = 'inbound' | 'outbound' | 'browser';

export interface ToolCallRecord {
  name: string;
  args: unknown;
  output?: string;
  isError: boolean;
  at: string;
}

export interface TranscriptLine {
  role: 'caller' | 'agent' | 'system';
  text: string;
  at: string;
  agent?: string;
}

export interface CallStart {
  id: string;
  room: string;
  direction: Direction;
  /** E.164 where known; null for browser participants. */
  callerNumber: string | null;
  startedAt: string;
  campaignId?: string | null;
  contactId?: string | null;
  /** The process running the call (store/owner.ts); null for records written by other tools. */
  owner?: string | null;
}

export interface CallFinish {
  endedAt: string;
  outcome: CallOutcome;
  agents: string[];
  toolCalls: ToolCallRecord[];
  userdata: unknown;
  transcript: TranscriptLine[];
  /** A short structured result for outbound work (confirmed, rescheduled, …). */
  result?: Record<string, unknown> | null;
  recordingPath?: string | null;
  latency?: unknown;
  cost?: unknown;
  /** What ran the call and how it went, for comparing calls across versions (CallMeta). */
  meta?: CallMeta | null;
}

/** Milliseconds at the 50th and 95th percentile of a call's turns (null: no turn had the stage). */
export interface StagePercentiles {
  p50: number | null;
  p95: number | null;
}

export interface CallMeta {
  /** The primary LLM model configured. */
  model: string;
  /** Agent id → hash of its instructions (src/call/promptVersion.ts). */
  promptVersions: Record<string, string>;
  /** BUILD_VERSION, or the package version. */
  buildVersion: string;
  /** Providers that actually answered (after fallbacks), as `provider/model`, in order of first answer. */
  providers: { stt: string[]; llm: string[]; tts: string[] };
  /** Agent replies the caller cut off. */
  interruptions: number;
  /** Per stage of a turn (TurnLatency's fields): p50/p95 over the call's turns. */
  turnLatency: Record<string, StagePercentiles>;
}

export interface CallRecord extends CallStart, Partial<CallFinish> {
  /** True once `finish` was written; a record without it is a call in progress or one lost to a crash. */
  finished: boolean;
}

export type AppointmentStatus = 'booked' | 'confirmed' | 'cancelled';

export interface Appointment {
  id: string;
  name: string;
  phone: string | null;
  /** ISO instant, UTC. */
  start: string;
  durationMin: number;
  reason: string | null;
  status: AppointmentStatus;
  callId: string | null;
  /**
   * The patient's date of birth (YYYY-MM-DD), the second factor IDENTITY_CHECK=dob checks. Never
   * read out; cleared by `switchboard purge` once the appointment is past the retention.
   */
  dateOfBirth: string | null;
}

export type NewAppointment = Omit<Appointment, 'id' | 'status' | 'dateOfBirth'> & { dateOfBirth?: string | null };

/** Booking can lose a race with another call for the same slot; that is an answer, not an error. */
export type BookResult = { ok: true; appointment: Appointment } | { ok: false; reason: 'slot_taken' };
