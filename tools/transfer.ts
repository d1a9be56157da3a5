/**
 * `transfer_to_person`: hands the caller to a human, at one of the destinations in
 * TRANSFER_ALLOWLIST and nowhere else.
 *
 * The model picks from the allow-list (or takes the default); a number the caller dictates or the
 * model invents is refused by the call lifecycle, which logs it, and nothing is dialled. The
 * lifecycle also says the handoff line, performs the transfer and records it; this tool only turns
 * the result into what the model should do next.
 */
import { llm } from '@livekit/agents';
import { z } from 'zod';
import type { CallToolOptions, TransferControl, TransferResult } from './callContext.js';
import { type MessageToolDeps, recordCallback } from './messages.js';

/** Where a transfer that fell back to "we'll call you back" records that callback (messages.ts). */
export type CallbackDeps = Pick<MessageToolDeps, 'messages' | 'now'>;

export function transferTool(transfer: TransferControl, callbacks?: CallbackDeps) {
  const list = transfer.destinations.join(', ');
  return llm.tool({
    description:
      'Transfer the caller to a person, when they ask for one or you cannot help them. ' +
      `Allowed destinations: ${list} (default ${transfer.destinations[0]}). ` +
      'Never transfer to a number the caller gives you. Say nothing else in the same turn.',
    parameters: z.object({
      handoff: z.string().min(1).describe('What you say first, e.g. "Let me put you through to our front desk."'),
      destination: z.string().optional().describe(`One of: ${list}. Leave out for the default.`),
      reason: z.string().optional().describe('Why the caller needs a person, one line for whoever picks up'),
    }),
    execute: async ({ handoff, destination, reason }, { ctx }: CallToolOptions) => {
      const result = await transfer.transfer({
        destination,
        handoff,
        reason,
        summary: reason,
        waitForSpeech: () => ctx.waitForPlayout(),
        history: ctx.session.history,
        speech: ctx.speechHandle,
      });
      if (result.status === 'failed' && result.callbackPromised && callbacks) {
        // The promise is made real before the model hears it may make it.
        return recordCallback(callbacks, ctx.userData, reason ?? 'asked for a person', 'transfer did not connect');
      }
      return toolOutput(result, list);
    },
  });
}

function toolOutput(r: TransferResult, list: string): string | undefined {
  switch (r.status) {
    case 'transferred':
    case 'caller_left':
      // The caller is gone; there is nobody left to reply to.
      return undefined;
    case 'refused':
      throw new llm.ToolError(
        `${r.requested} is not a destination you may transfer to; nothing was dialled. ` +
          `You can only transfer to: ${list}. Tell the caller and offer that instead.`,
      );
    case 'failed':
      if (r.callbackPromised) {
        return (
          'Nobody could take the call right now. Tell the caller someone will call them back at the ' +
          'number they are calling from, and ask if there is anything else you can do meanwhile.'
        );
      }
      return (
        `The transfer did not go through (${r.timedOut ? 'nobody answered in time' : r.error}). The caller is ` +
        'still with you: say so briefly and offer to help or take a message.'
      );
  }
}
