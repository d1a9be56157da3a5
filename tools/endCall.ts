/**
 * `end_call`: the model decides the conversation is over and writes its own last sentence.
 *
 * The goodbye travels as an argument instead of a free reply so it is spoken exactly once, by the
 * call lifecycle, after the current speech; only then is the room deleted. Returning nothing tells
 * the framework no reply is needed, so the model is not asked to speak again.
 */
import { llm } from '@livekit/agents';
import { z } from 'zod';
import type { CallControl, CallToolOptions } from './callContext.js';

export function endCallTool(control: CallControl) {
  return llm.tool({
    description:
      'End the call when the caller is done or clearly wants to hang up. Write the goodbye you ' +
      'will say; do not say anything else in the same turn. Do not use it to pause or transfer.',
    parameters: z.object({
      goodbye: z.string().min(1).describe('The last sentence you say, e.g. "Thanks for calling, goodbye!"'),
      summary: z.string().optional().describe('One line for the call log: what was done'),
    }),
    flags: llm.ToolFlag.IGNORE_ON_ENTER,
    execute: async ({ goodbye, summary }, { ctx }: CallToolOptions) => {
      control.endCall({ outcome: { kind: 'completed', summary }, goodbye, after: ctx.speechHandle });
      return undefined;
    },
  });
}
