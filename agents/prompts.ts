/**
 * How every agent talks on the phone. Kept short on purpose: each token of system prompt is paid
 * for in time to first token on every turn.
 */
import { DateTime } from 'luxon';
import type { CallUserdata } from '../tools/callContext.js';

export function phoneStyle(u: CallUserdata, now: Date): string {
  const local = DateTime.fromJSDate(now, { zone: u.timezone });
  return [
    `You answer the phone for ${u.businessName}. It is ${local.toFormat("cccc, LLLL d, yyyy, h:mm a")} (${u.timezone}).`,
    'You are on a phone call: one or two short sentences per turn, plain words, no lists, no markdown,',
    'no emojis; never read out ids or codes. Say times like "Tuesday at 10:30".',
    'If a tool says something went wrong, tell the caller briefly and offer what you still can.',
    u.direction === 'browser' ? '' : '"[keypad] 1" means the caller pressed 1 on their keypad.',
  ].filter(Boolean).join(' ');
}

/** Left on an answering machine: who called and how to call back, nothing about the appointment. */
export function voicemailMessage(u: CallUserdata): string {
  const who = u.contact?.name ? ` for ${u.contact.name}` : '';
  return `Hello, this is ${u.businessName} with a message${who}. Please call us back when you have a moment. Thank you, goodbye.`;
}

export function greeting(u: CallUserdata): string {
  // The disclosure comes first: the recording starts with the agent's first words (recordingTap.ts).
  const disclosure = u.recording ? `${u.recording.disclosure} ` : '';
  if (u.direction === 'outbound' && u.contact) {
    return `${disclosure}Hello, this is the assistant from ${u.businessName}. Am I speaking with ${u.contact.name}?`;
  }
  return `${disclosure}Thanks for calling ${u.businessName}. Who am I speaking with, and how can I help today?`;
}

/** Said, and nothing else, to a caller who describes an emergency. */
export function emergencyLine(emergencyNumber: string, transferring: boolean): string {
  return transferring
    ? `This sounds like an emergency. If you are in danger, hang up and call ${emergencyNumber} now. I'm putting you through to our nurse line.`
    : `This sounds like an emergency. Please hang up now and call ${emergencyNumber}. We can't help with emergencies on this line. Goodbye.`;
}

/** The name and time read back before a booking is made; the caller's yes books it. */
export function readBackLine(name: string, when: string): string {
  return `Just to check: that's ${name}, on ${when}. Shall I book it?`;
}

/** After the caller objected to the recording. */
export const RECORDING_STOPPED_LINE = "Of course. I've stopped the recording; the rest of this call is not recorded.";

/** The rules every agent follows on a public line; kept to what the tools cannot enforce alone. */
export function safeguards(opts: { canTransfer: boolean; identityCheck: boolean; recording: boolean }): string {
  return [
    'If the caller describes a medical emergency or someone in danger, call the emergency tool at once and do nothing else.',
    'Never say something was booked, moved, cancelled, confirmed, noted or that someone will call back unless a tool just did it.',
    opts.canTransfer
      ? 'If the caller wants a person, use transfer_to_person.'
      : 'Nobody can take calls live: if the caller wants a person, take a message with take_message (callBack true) and tell them someone will call them back.',
    opts.identityCheck
      ? 'Caller ID can be faked: before saying anything about an existing appointment or changing it, ask for the full name on the booking and call verify_identity.'
      : '',
    opts.recording ? 'If the caller objects to the recording, call stop_recording.' : '',
  ].filter(Boolean).join(' ');
}
