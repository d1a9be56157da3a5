/**
 * What a call is before it starts: its ids, who is on the other end, and, outbound, the dial.
 *
 * The worker (a LiveKit job) and the simulator (a scenario) both start calls; building the setup
 * here, once, keeps them from drifting apart: an outbound call always listens for a machine and
 * is dialled by the same `dialRequest`, whoever placed it.
 */
import type { OutboundContact } from '../../tools/callContext.js';
import type { ChannelProfile } from '../session/providers.js';
import type { Direction } from '../store/index.js';
import type { OutboundJob } from './jobMetadata.js';
import { type DialConfig, type DialRequest, dialRequest } from './outboundDial.js';

export interface CallSetup {
  callId: string;
  room: string;
  direction: Direction;
  profile: ChannelProfile;
  callerNumber: string | null;
  contact?: OutboundContact;
  campaignId?: string;
  contactId?: string;
  /** Outbound: listen for an answering machine before the agent speaks. */
  detectMachine?: boolean;
  /** Outbound: dial this first (the call record exists before the dial, for campaign recovery). */
  dial?: DialRequest;
}

/**
 * Who the call is with. A phone line's profile (its bandwidth) is the caller's to say: the worker
 * knows its SIP trunk, the simulator its emulated line.
 */
export type CallParty =
  | { kind: 'browser' }
  | { kind: 'inbound'; profile: ChannelProfile; callerNumber: string | null }
  | ({ kind: 'outbound'; profile: ChannelProfile; contact?: OutboundContact } & Pick<OutboundJob, 'phoneNumber' | 'campaignId' | 'contactId'>);

/** The setup of one call. Outbound, throws (nothing dialled) when `dialRequest` refuses the number. */
export function callSetupFor(call: { callId: string; room: string }, party: CallParty, config: DialConfig): CallSetup {
  const { callId, room } = call;
  switch (party.kind) {
    case 'browser':
      return { callId, room, direction: 'browser', profile: 'browser', callerNumber: null };
    case 'inbound':
      return { callId, room, direction: 'inbound', profile: party.profile, callerNumber: party.callerNumber };
    case 'outbound':
      return {
        callId,
        room,
        direction: 'outbound',
        profile: party.profile,
        callerNumber: party.phoneNumber,
        contact: party.contact,
        campaignId: party.campaignId,
        contactId: party.contactId,
        detectMachine: true,
        dial: dialRequest(party, room, config),
      };
  }
}
