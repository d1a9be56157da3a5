/**
 * `take_message`: a message for the staff, and when the caller wants one, a callback request. The
 * row is in the store before the model hears "taken", so "someone will call you back" is a promise
 * a person can see (`switchboard messages`) and the end-of-call webhook carries (userdata.messages).
 */
import { llm } from '@livekit/agents';
import { type CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js';
import { z } from 'zod';
import type { MessageStore } from '../src/store/index.js';
import { redactText } from '../src/privacy/redact.js';
import type { CallToolOptions, CallUserdata } from './callContext.js';
import { speakable } from './speakable.js';

export interface MessageToolDeps {
  messages: MessageStore;
  region: CountryCode;
  now: () => Date;
  /** REDACT_PII: what the caller said is stored masked (card numbers, SSNs, birth dates, emails). */
  redact?: boolean;
}

/** A number the caller dictated, as E.164; undefined when it is not a whole, valid number. */
export function callbackNumber(spoken: string, region: CountryCode): string | undefined {
  const parsed = parsePhoneNumberFromString(spoken, region);
  return parsed?.isValid() ? parsed.number : undefined;
}

/** Stores a callback request for the caller on this call; the sentence the model may then say. */
export async function recordCallback(
  { messages, now }: Pick<MessageToolDeps, 'messages' | 'now'>,
  u: CallUserdata,
  text: string,
  reason: string | null,
  number: string | null = u.callerNumber,
): Promise<string> {
  if (!number) throw new llm.ToolError('There is no number to call back: ask the caller for one.');
  const m = await messages.take({ callId: u.callId, callerName: u.callerName ?? null, callbackNumber: number, text, reason, callback: true, at: now().toISOString() });
  (u.messages ??= []).push({ id: m.id, text: m.text, callback: 'pending', callbackNumber: number });
  return (
    `A callback to the number ending ${number.slice(-4)} is recorded. Tell the caller someone from ${u.businessName} ` +
    'will call them back on that number; do not promise a time.'
  );
}

export function takeMessageTool({ messages, region, now, redact = false }: MessageToolDeps) {
  return llm.tool({
    description:
      'Take a message for the staff, and a callback request if the caller wants to be called back (or asked for a ' +
      'person nobody can put them through to). Only after this succeeds may you say the message was taken or that ' +
      'someone will call back.',
    parameters: z.object({
      message: z.string().min(1).describe('What the caller wants, in a sentence'),
      callBack: z.boolean().describe('The caller wants someone to call them back'),
      callbackNumber: z.string().optional().describe('Number to call back, if not the one they are calling from'),
      name: z.string().optional().describe("The caller's name, if known"),
      reason: z.string().optional().describe('Why a message instead of help now, e.g. "asked for a person"'),
    }),
    execute: (args, { ctx }: CallToolOptions) =>
      speakable('take your message', async () => {
        const u = ctx.userData;
        if (args.name) u.callerName ??= args.name;
        const text = redact ? redactText(args.message, now()) : args.message;
        let number = u.callerNumber;
        if (args.callbackNumber) {
          const parsed = callbackNumber(args.callbackNumber, region);
          if (!parsed) throw new llm.ToolError(`"${args.callbackNumber}" is not a complete phone number; ask for it again.`);
          number = parsed;
        }
        if (args.callBack) return `The message is taken. ${await recordCallback({ messages, now }, u, text, args.reason ?? null, number)}`;
        const m = await messages.take({
          callId: u.callId,
          callerName: u.callerName ?? null,
          callbackNumber: number,
          text,
          reason: args.reason ?? null,
          callback: false,
          at: now().toISOString(),
        });
        (u.messages ??= []).push({ id: m.id, text: m.text, callback: 'none', callbackNumber: number });
        return 'The message is taken and will be passed on. Tell the caller so.';
      }),
  });
}
