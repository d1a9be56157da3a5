/**
 * Keypad tools: `collect_digits` asks the caller to key in a code and waits for it; `send_dtmf`
 * presses keys on our side, to find our way through another company's phone menu.
 *
 * Keys never go through the STT: they arrive and leave as DTMF events (see src/call/dtmf.ts for
 * how incoming keys are routed; the keys themselves are src/telephony/dtmfKeys.ts).
 */
import { llm } from '@livekit/agents';
import { z } from 'zod';
import type { CallToolOptions, KeypadControl } from './callContext.js';

const DEFAULT_TIMEOUT_SECONDS = 8;

export function collectDigitsTool(keypad: KeypadControl) {
  return llm.tool({
    description:
      'Ask the caller to key in a number on their phone keypad (a booking code, a menu choice) and wait ' +
      'for it. The prompt is said for you; say nothing else in the same turn.',
    parameters: z.object({
      prompt: z.string().min(1).describe('What to ask, e.g. "Please key in your 4-digit code, then press pound."'),
      digits: z.number().int().min(1).max(20).optional().describe('How many digits you expect, if known'),
      terminator: z.enum(['#', '*', 'none']).optional().describe('Key that ends the entry; default #'),
      timeoutSeconds: z.number().min(2).max(30).optional().describe(`Seconds to wait for each key; default ${DEFAULT_TIMEOUT_SECONDS}`),
    }),
    execute: async (args, { ctx, abortSignal }: CallToolOptions) => {
      await ctx.waitForPlayout();
      // Collection starts before the question is asked, so keys pressed while it is still being
      // asked count (and stop the question, as on any phone menu).
      const prompt = ctx.session.say(args.prompt);
      const result = await keypad.collect({
        maxDigits: args.digits,
        terminator: args.terminator === 'none' ? null : (args.terminator ?? '#'),
        timeoutSeconds: args.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
        onFirstKey: () => prompt.interrupt(),
        startTimerAfter: prompt.waitForPlayout(),
        signal: abortSignal,
      });
      switch (result.ended) {
        case 'count':
        case 'terminator':
          return result.digits ? `The caller keyed in ${result.digits}.` : 'The caller pressed the end key without any digits.';
        case 'timeout':
          return result.digits
            ? `The caller keyed in only ${result.digits} before the time ran out. Check it with them.`
            : 'The caller pressed no keys. Ask whether they would rather say it.';
        case 'cancelled':
          return 'Stopped waiting for keys.';
      }
    },
  });
}

export function sendDtmfTool(keypad: KeypadControl) {
  return llm.tool({
    description:
      "Press keys on our phone line, to get through an automated phone menu you are listening to (\"press 2 " +
      'for the pharmacy"). Use w for a half-second pause. Only for machines: never to tell a person a number.',
    parameters: z.object({
      keys: z.string().min(1).max(64).describe('Keys to press, e.g. "2" or "w1234#"'),
    }),
    execute: async ({ keys }, { ctx }: CallToolOptions) => {
      await ctx.waitForPlayout();
      const sent = await keypad.send(keys);
      if ('error' in sent) throw new llm.ToolError(`The keys were not sent: ${sent.error}.`);
      // No reply: the menu answers the keys, and talking over it would hide what it says.
      return undefined;
    },
  });
}
