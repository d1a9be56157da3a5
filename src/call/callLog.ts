/**
 * Listens to a session and keeps what the call record needs: the transcript, the tool calls and
 * the agents the call passed through, in order.
 */
import { voice } from '@livekit/agents';
import type { ToolCallRecord, TranscriptLine } from '../store/index.js';

export class CallLog {
  readonly transcript: TranscriptLine[] = [];
  readonly toolCalls: ToolCallRecord[] = [];
  readonly agents: string[] = [];

  constructor(private readonly now: () => Date) {}

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- events do not depend on userdata
  attach(session: voice.AgentSession<any>, firstAgent: string): void {
    this.agents.push(firstAgent);
    session.on(voice.AgentSessionEventTypes.ConversationItemAdded, ({ item }) => {
      const at = this.now().toISOString();
      if (item.type === 'agent_handoff') {
        // The session also reports its first agent as a handoff from nobody.
        if (this.agents.at(-1) !== item.newAgentId) this.agents.push(item.newAgentId);
        return;
      }
      if (item.type !== 'message') return;
      const text = item.textContent ?? '';
      if (!text.trim()) return;
      if (item.role === 'user') this.transcript.push({ role: 'caller', text, at });
      else if (item.role === 'assistant') this.transcript.push({ role: 'agent', text, at, agent: this.agents.at(-1) });
    });
    session.on(voice.AgentSessionEventTypes.FunctionToolsExecuted, (ev) => {
      const at = this.now().toISOString();
      ev.functionCalls.forEach((call, i) => {
        const out = ev.functionCallOutputs[i];
        this.toolCalls.push({
          name: call.name,
          args: safeJson(call.args),
          output: out?.output,
          isError: out?.isError ?? false,
          at,
        });
      });
    });
  }
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}
