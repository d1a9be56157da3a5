/**
 * The one typed object both agents read and write during a call (`session.userData`).
 *
 * Plain data only: it is stored as the call record's final userdata, so services (store, clock,
 * call control) are passed to the agent factories instead of living here.
 */
import type { llm } from '@livekit/agents';
export interface OutboundContact {
  /** The person we meant to reach. */
  name: string;
  /** Appointment this call is about, if any. */
  appointmentId?: string;
  /** Extra CSV columns, passed through untouched. */
  fields: Record<string, string>;
}

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
