/**
 * How every agent talks on the phone. Kept short on purpose: each token of system prompt is paid
 * for in time to first token on every turn.
 */
import { DateTime } from 'luxon';
import type { CallUserdata } from './userdata.js';

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
  if (u.direction === 'outbound' && u.contact) {
    return `Hello, this is the assistant from ${u.businessName}. Am I speaking with ${u.contact.name}?`;
  }
  return `Thanks for calling ${u.businessName}. Who am I speaking with, and how can I help today?`;
}
