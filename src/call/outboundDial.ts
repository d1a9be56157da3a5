/**
 * Dialling an outbound call, and what a failed dial means. The SIP status code decides the
 * outcome, and the outcome decides whether a campaign tries again, so the mapping lives here,
 * once: busy (486, 600), no answer (480, 408, or our own ringing timeout), rejected (603),
 * invalid number (404, 484), anything else failed.
 */
import { inSpan } from '../observe/tracing.js';
import type { CallOutcome } from '../store/index.js';
import { assertDialable } from '../telephony/dialPolicy.js';
import type { OutboundJob } from './jobMetadata.js';

export interface DialRequest {
  trunkId: string;
  number: string;
  room: string;
  participantIdentity: string;
  /** The number the callee sees. */
  callerId?: string;
  ringTimeoutSeconds: number;
  maxCallSeconds: number;
}

/** The part of LiveKit's SIP API a dial needs (livekit-server-sdk's SipClient satisfies it). */
export interface SipDialer {
  createSipParticipant(
    trunkId: string,
    number: string,
    room: string,
    opts: {
      participantIdentity: string;
      participantName?: string;
      fromNumber?: string;
      waitUntilAnswered: boolean;
      ringingTimeout: number;
      maxCallDuration: number;
      playDialtone?: boolean;
    },
  ): Promise<unknown>;
}

/** Time our time-limit goodbye gets before LiveKit's own max call duration ends the call. */
export const GOODBYE_ALLOWANCE_SECONDS = 30;

export type DialResult = { answered: true } | { answered: false; outcome: CallOutcome };

export function outcomeForSipStatus(status: number | undefined, message: string): CallOutcome {
  switch (status) {
    case 486:
    case 600:
      return { kind: 'busy', sipStatus: status };
    case 480:
    case 408:
      return { kind: 'no_answer', sipStatus: status };
    case 603:
      return { kind: 'rejected', sipStatus: status };
    case 404:
    case 484:
      return { kind: 'invalid_number', sipStatus: status };
    default:
      return { kind: 'failed', ...(status ? { sipStatus: status } : {}), error: message };
  }
}

export interface DialConfig {
  SIP_OUTBOUND_TRUNK_ID?: string;
  CALLER_ID?: string;
  RING_TIMEOUT_SECONDS: number;
  MAX_CALL_SECONDS: number;
  DEFAULT_REGION: string;
  ALLOWED_COUNTRIES: string[];
}

/**
 * The dial of an outbound job; throws (and nothing is dialled) without a trunk, or for a number
 * no dispatch may make us ring: emergency, premium rate, short code, and, when ALLOWED_COUNTRIES is
 * set here, another country. This is the last check before SIP, whoever created the dispatch; the
 * queueing side (campaign import, `switchboard call`) applies the same policy with its defaults.
 * Only the job's number is read: the simulator, which builds its setup with `callSetupFor` as the
 * worker does, passes an outbound party made from its scenario, not a whole job.
 */
export function dialRequest(job: Pick<OutboundJob, 'phoneNumber'>, room: string, config: DialConfig): DialRequest {
  if (!config.SIP_OUTBOUND_TRUNK_ID) {
    throw new Error('SIP_OUTBOUND_TRUNK_ID is not set: outbound calls need the LiveKit outbound trunk id (see `switchboard setup sip`)');
  }
  const allowedCountries = config.ALLOWED_COUNTRIES.length > 0 ? config.ALLOWED_COUNTRIES : ['*'];
  assertDialable(job.phoneNumber, { defaultRegion: config.DEFAULT_REGION, allowedCountries }, { requireValid: false });
  return {
    trunkId: config.SIP_OUTBOUND_TRUNK_ID,
    number: job.phoneNumber,
    room,
    participantIdentity: `sip_${job.phoneNumber}`,
    callerId: config.CALLER_ID,
    ringTimeoutSeconds: config.RING_TIMEOUT_SECONDS,
    // LiveKit's limit is only the backstop: our own time limit (MAX_CALL_SECONDS) says a goodbye
    // first, and LiveKit hanging up in the middle of it would cut it off.
    maxCallSeconds: config.MAX_CALL_SECONDS + GOODBYE_ALLOWANCE_SECONDS,
  };
}

/** Dials and waits until the callee answers (LiveKit's `waitUntilAnswered`), or says why not. */
export function dial(sip: SipDialer, req: DialRequest): Promise<DialResult> {
  return inSpan('dial', {}, async (span) => {
    const result = await placeCall(sip, req);
    span.setAttribute('switchboard.dial.outcome', result.answered ? 'answered' : result.outcome.kind);
    return result;
  });
}

async function placeCall(sip: SipDialer, req: DialRequest): Promise<DialResult> {
  try {
    await sip.createSipParticipant(req.trunkId, req.number, req.room, {
      participantIdentity: req.participantIdentity,
      participantName: req.number,
      fromNumber: req.callerId,
      waitUntilAnswered: true,
      ringingTimeout: req.ringTimeoutSeconds,
      maxCallDuration: req.maxCallSeconds,
    });
    return { answered: true };
  } catch (err) {
    const status = (err as { sipStatusCode?: number }).sipStatusCode;
    // LiveKit SIP cancels the INVITE itself when our ringing timeout passes; the server then answers
    // Twirp `canceled` with no SIP status (seen on livekit-server 1.8.4 with LiveKit SIP 1.0).
    if (status === undefined && (err as { code?: string }).code === 'canceled') {
      return { answered: false, outcome: { kind: 'no_answer' } };
    }
    return { answered: false, outcome: outcomeForSipStatus(status, (err as Error).message) };
  }
}
