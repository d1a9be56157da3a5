/**
 * How every agent talks on the phone, and the fixed lines put together for this call. Kept short on
 * purpose: each token of system prompt is paid for in time to first token on every turn. The words
 * of the fixed lines are the business's (business.yaml's `lines`, through AgentPolicy); only how
 * they are put together for a call is here.
 */
import { DateTime } from 'luxon';
import { keypadLine } from '../src/telephony/dtmfKeys.js';
import type { CallUserdata } from '../tools/callContext.js';
import type { AgentLines } from './policy.js';

export function phoneStyle(u: CallUserdata, now: Date): string {
  const local = DateTime.fromJSDate(now, { zone: u.timezone });
  return [
    `You answer the phone for ${u.businessName}. It is ${local.toFormat("cccc, LLLL d, yyyy, h:mm a")} (${u.timezone}).`,
    'You are on a phone call: one or two short sentences per turn, plain words, no lists, no markdown,',
    'no emojis; never read out ids or codes. Say times like "Tuesday at 10:30".',
    'If a tool says something went wrong, tell the caller briefly and offer what you still can.',
    u.direction === 'browser' ? '' : `"${keypadLine('1')}" means the caller pressed 1 on their keypad.`,
  ].filter(Boolean).join(' ');
}

/** Left on an answering machine: who called and how to call back, nothing about the appointment. */
export function voicemailMessage(u: CallUserdata, lines: Pick<AgentLines, 'voicemail'>): string {
  return u.contact?.name
    ? lines.voicemail.forContact({ business: u.businessName, contact: u.contact.name })
    : lines.voicemail.anyone({ business: u.businessName });
}

export function greeting(u: CallUserdata, lines: AgentLines): string {
  // The disclosure comes first: the recording starts with the agent's first words (recordingTap.ts).
  const disclosure = u.recording ? `${u.recording.disclosure} ` : '';
  if (u.direction === 'outbound' && u.contact) {
    return `${disclosure}${lines.greeting.outbound({ business: u.businessName, contact: u.contact.name })}`;
  }
  return `${disclosure}${lines.greeting.inbound({ business: u.businessName })}`;
}

/** The rules every agent follows on a public line; kept to what the tools cannot enforce alone. */
export function safeguards(opts: { canTransfer: boolean; identityCheck: 'name' | 'dob' | 'off'; recording: boolean }): string {
  return [
    'If the caller describes a medical emergency or someone in danger, call the emergency tool at once and do nothing else.',
    'Never say something was booked, moved, cancelled, confirmed, noted or that someone will call back unless a tool just did it.',
    opts.canTransfer
      ? 'If the caller wants a person, use transfer_to_person.'
      : 'Nobody can take calls live: if the caller wants a person, take a message with take_message (callBack true) and tell them someone will call them back.',
    opts.identityCheck === 'name'
      ? 'Caller ID can be faked: before saying anything about an existing appointment or changing it, ask for the full name on the booking and call verify_identity.'
      : '',
    opts.identityCheck === 'dob'
      ? "Caller ID can be faked: before saying anything about an existing appointment or changing it, ask for the caller's date of birth and call verify_identity. Ask for the date of birth before booking too. Never say a date of birth aloud except in the read-back the booking tool makes."
      : '',
    opts.recording ? 'If the caller objects to the recording, call stop_recording.' : '',
  ].filter(Boolean).join(' ');
}
