/**
 * Hold filler: while a tool runs longer than HOLD_FILLER_MS, the agent says a short line ("One
 * moment, please.") so the caller never sits in silence wondering whether the line dropped.
 *
 * Built on the framework's `RunContext.filler`, which already does the hard part: it speaks only
 * once the session has been idle for the whole delay (agent speech, caller speech and tool updates
 * restart the wait), and stops the moment the tool returns, so a fast tool never triggers it.
 */
import type { llm } from '@livekit/agents';
import type { HoldFiller } from './callContext.js';

/** A long tool might say the line again, but not more than this often and not endlessly. */
const REPEAT_AFTER_MS = 6000;
const MAX_FILLERS = 2;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tools of any parameters and userdata
type AnyTool = llm.FunctionTool<any, any, any> | Omit<llm.FunctionTool<any, any, any>, 'id' | 'name'>;

/** The same tools, each saying the filler when it runs long. Without a filler, the tools unchanged. */
export function withHoldFiller<T extends Record<string, AnyTool>>(tools: T, filler: HoldFiller | undefined): T {
  if (!filler) return tools;
  const wrapped: Record<string, AnyTool> = {};
  for (const [name, tool] of Object.entries(tools)) {
    wrapped[name] = {
      ...tool,
      execute: (args, opts) =>
        opts.ctx.filler(filler.line, { delay: filler.afterMs, interval: REPEAT_AFTER_MS, maxSteps: MAX_FILLERS }, () =>
          tool.execute(args, opts),
        ),
    };
  }
  return wrapped as T;
}
