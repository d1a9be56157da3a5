/**
 * The emulated model's side of a scenario: the replies it gives, in order.
 *
 * A plain FIFO breaks under preemptive generation, which may send the same request twice (once
 * early, once when the turn is confirmed). Here a request identical to one already answered gets
 * the same answer again instead of consuming the next reply.
 */
import { createHash } from 'node:crypto';
import type { Brain, Reply } from '../sandbox/openaiEmulator.js';
import type { ModelReply } from './scenario.js';

export interface ModelScript {
  brain: Brain;
  /** Replies not yet given. */
  readonly remaining: number;
  /** Requests that repeated an earlier one. */
  readonly repeats: number;
}

export interface ModelScriptOptions {
  /**
   * How the model classifies the line for answering-machine detection (the framework's AMD asks
   * the session's LLM through a `save_prediction` tool). Those requests never consume the script.
   */
  amdLabel?: 'human' | 'machine-vm';
}

export function modelScript(replies: Reply[], options: ModelScriptOptions = {}): ModelScript {
  const queue = [...replies];
  const answered = new Map<string, Reply>();
  let repeats = 0;
  const brain: Brain = (req) => {
    if (req.tools.some((t) => t.function?.name === 'save_prediction')) {
      if (req.messages.at(-1)?.role === 'tool') return { text: 'saved' };
      return { toolCalls: [{ name: 'save_prediction', arguments: { label: options.amdLabel ?? 'human' } }] };
    }
    const sig = createHash('sha256').update(JSON.stringify([req.messages, req.tools.map((t) => t.function?.name)])).digest('hex');
    const seen = answered.get(sig);
    if (seen) {
      repeats++;
      return seen;
    }
    const next = queue.shift();
    if (!next) {
      const lastUser = [...req.messages].reverse().find((m) => m.role === 'user');
      return {
        error: {
          status: 500,
          message: `the scenario's model script has no reply left (last caller line: ${JSON.stringify(lastUser?.content ?? '')})`,
        },
      };
    }
    answered.set(sig, next);
    return next;
  };
  return {
    brain,
    get remaining() {
      return queue.length;
    },
    get repeats() {
      return repeats;
    },
  };
}

/** A scenario's `model:` reply as the OpenAI emulator's brain answers it. */
export function scriptedReply(r: ModelReply): Reply {
  if ('say' in r) return { text: r.say };
  if ('call' in r) return { toolCalls: [{ name: r.call, arguments: r.args }] };
  return { error: { status: r.fail, message: r.message } };
}
