/**
 * What a tool knows of the call it runs in: the call's userdata, and the port it asks the call
 * through. The bottom of the agents' floor: tools, agents and the call lifecycle all import it,
 * and it imports none of them, so the flow of imports stays one-way (lifecycle → agents → tools).
 *
 * The userdata (`CallUserdata`) is the one typed object both agents read and write
 * (`session.userData`). Plain data only: it is stored as the call record's final userdata, so
 * services (store, clock, call control) are passed to the agent factories instead of living there.
 *
 * The port (`CallControl`) is implemented by the call lifecycle; tools only know the interface.
 * Its call-control parts (transfer, keypad, hold filler) are optional: a call that cannot do them
 * (a browser session has no SIP leg to transfer or send tones on) leaves them out, and the agents
 * then do not offer the tools at all, so the model is never tempted to promise what cannot happen.
 */
import type { llm, voice } from '@livekit/agents';
import { z } from 'zod';
import type { CallOutcome } from '../src/store/types.js';

/**
 * Who an outbound call is for. One schema for the job metadata that carries it (src/call/jobMetadata.ts
 * validates dispatches with it) and the userdata the agents read it from.
 */
export const OutboundContact = z.object({
  /** The person we meant to reach. */
  name: z.string().min(1),
  /** Appointment this call is about, if any. */
  appointmentId: z.string().min(1).optional(),
  /** Extra CSV columns, passed through untouched. */
  fields: z.record(z.string()).default({}),
});
export type OutboundContact = z.infer<typeof OutboundContact>;

export interface CallUserdata {
  callId: string;
  direction: 'inbound' | 'outbound' | 'browser';
  /** E.164 of the far end, when the call came over the phone. */
  callerNumber: string | null;
  businessName: string;
  timezone: string;

  /** What the intro agent learned. */
  callerName?: string;
  reason?: string;

  /** Outbound only: who we are calling, and whether they confirmed it is them. */
  contact?: OutboundContact;
  identityConfirmed: boolean;

  /** The appointment the conversation is about, once known. */
  appointment?: { id: string; start: string; status: string };
  /** Set while the call is being recorded: what the greeting discloses, and whether the caller stopped it. */
  recording?: { disclosure: string; state: 'on' | 'stopped'; stoppedAt?: string };
  /** The caller gave the second factor (IDENTITY_CHECK) for the appointments on their number. */
  identityVerified?: boolean;
  /** The caller described an emergency; nothing is booked after this. */
  emergency?: { what: string; at: string };
  /** A booking read back to the caller, waiting for their yes (book_appointment's first call). */
  pendingBooking?: { start: string; name: string; callerTurns: number; dateOfBirth?: string };
  /** Messages and callbacks taken on this call (also in the store): the end-of-call webhook carries them. */
  messages?: { id: string; text: string; callback: 'none' | 'pending'; callbackNumber: string | null }[];
  /** Short structured result for the call record (outbound work: confirmed, rescheduled, …). */
  result?: Record<string, unknown>;
}

export function newUserdata(init: Pick<CallUserdata, 'callId' | 'direction' | 'callerNumber' | 'businessName' | 'timezone'> & {
  contact?: OutboundContact;
}): CallUserdata {
  return { ...init, identityConfirmed: false };
}

/** What a tool's `execute` receives on a call: `ctx.userData` is this call's `CallUserdata`. */
export type CallToolOptions = llm.ToolOptions<CallUserdata>;

// The port: what tools may ask of the call they run in.

export interface EndCallRequest {
  outcome: Extract<CallOutcome, { kind: 'completed' }> | Extract<CallOutcome, { kind: 'voicemail' }>;
  /** Spoken before the line is closed. */
  goodbye: string;
  /** The speech that carried the tool call: the goodbye waits for it to finish. */
  after?: voice.SpeechHandle;
}

export interface TransferRequest {
  /** Where the model asked to send the caller; omitted means the first allowed destination. */
  destination?: string;
  /** Said to the caller before the line is handed over ("Let me put you through to the front desk."). */
  handoff: string;
  /** Why the caller wants a person, in a line: briefs the human on a warm transfer. */
  reason?: string;
  /** Resolves once what the agent said before calling the tool has played (so the handoff follows it). */
  waitForSpeech?: () => Promise<unknown>;
  /** One line for whoever picks up (a SIP header on a cold transfer, where the carrier passes it on). */
  summary?: string;
  /** The conversation so far, for the warm-transfer briefing. */
  history?: llm.ChatContext;
  /** The speech that carried the tool call: a call ended by the transfer closes once it is done. */
  speech?: voice.SpeechHandle;
}

export type TransferMode = 'cold' | 'warm';

export type TransferResult =
  /** The caller is with a person now; the call is over for the agent. */
  | { status: 'transferred'; to: string; mode: TransferMode }
  /** Not an allowed destination: nothing was dialled. */
  | { status: 'refused'; requested: string }
  /** The transfer was tried and did not connect; the caller is still with the agent. */
  | { status: 'failed'; to: string; mode: TransferMode; error: string; timedOut: boolean; sipStatus?: number; callbackPromised: boolean }
  /** The caller hung up while the transfer was under way. */
  | { status: 'caller_left'; to: string };

export interface TransferControl {
  /** Where this call may be transferred (TRANSFER_ALLOWLIST), in config order; never empty. */
  readonly destinations: readonly string[];
  /** Says the handoff, then transfers (warm first where configured and possible). Never throws. */
  transfer(request: TransferRequest): Promise<TransferResult>;
}

export interface CollectDigitsRequest {
  /** Stop after this many digits (the terminator is not counted). */
  maxDigits?: number;
  /** Key that ends the entry early ('#' by default; null for none). */
  terminator?: string | null;
  /** Seconds to wait for the first key, and then for each further key. */
  timeoutSeconds?: number;
  /** Called on the first key: the tool stops asking (keypad barge-in). */
  onFirstKey?: () => void;
  /** The wait for the first key starts once this settles (the question has been asked). */
  startTimerAfter?: Promise<unknown>;
  signal?: AbortSignal;
}

export interface CollectDigitsResult {
  digits: string;
  ended: 'count' | 'terminator' | 'timeout' | 'cancelled';
}

export interface KeypadControl {
  /** Waits for the caller to key in a code. */
  collect(request: CollectDigitsRequest): Promise<CollectDigitsResult>;
  /** Sends tones to the far end (another company's phone menu). `w` pauses half a second. */
  send(keys: string): Promise<{ sent: string } | { error: string }>;
}

export interface HoldFiller {
  /** A tool that runs longer than this gets the filler line. */
  afterMs: number;
  /** What the agent says ("One moment, please."). */
  line: string;
}

export interface CallControl {
  /** Ends the call: the goodbye plays out, then the room is deleted (once). */
  endCall(request: EndCallRequest): void;
  /** Present on phone calls with at least one allowed destination. */
  readonly transfer?: TransferControl;
  /** Present on phone calls. */
  readonly keypad?: KeypadControl;
  /** True while the caller is pressing keys: what the STT hears then is tones, not words. */
  readonly keysBeingPressed?: () => boolean;
  /** Present while the call is recorded: stops the recording for the rest of the call (the caller objected). */
  readonly recording?: { stop(): void };
  /** Present unless HOLD_FILLER_MS is 0. */
  readonly holdFiller?: HoldFiller;
}
