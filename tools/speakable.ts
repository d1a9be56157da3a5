/**
 * Tool failures become short sentences the model can say, never a crashed session or silence.
 *
 * The framework already turns an unexpected exception into "An internal error occurred", which the
 * model tends to read out verbatim or answer with an apology loop. A `ToolError` carries a message
 * written for the caller instead, and tells the model what it can still offer.
 */
import { llm, log } from '@livekit/agents';

export async function speakable<T>(action: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof llm.ToolError) throw err;
    // The error goes to the log for operators; the model (and so the caller) hears only this.
    log().error({ tool: action, error: (err as Error).message }, 'tool failed');
    throw new llm.ToolError(
      `I couldn't ${action} just now because of a system problem. ` +
        'Apologise briefly, and offer to try again or to take a message.',
    );
  }
}
