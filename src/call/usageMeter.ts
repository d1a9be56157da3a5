/**
 * What a call consumed, from the framework's metrics events: seconds of caller audio sent to STT,
 * LLM tokens per model (cached input included in input, as the framework counts it), TTS
 * characters and seconds per provider. Priced by `cost/costModel.ts` when the call ends.
 */
import { voice } from '@livekit/agents';
import type { CallDirection, CallUsage, LlmUsage, SttUsage, TtsUsage } from '../cost/costModel.js';

/** `deepgram.SpeechStream` → `deepgram`. */
function provider(label: string | undefined, fallback: string): string {
  return label?.split('.')[0]?.toLowerCase() || fallback;
}

export class UsageMeter {
  private readonly stt = new Map<string, SttUsage>();
  private readonly llm = new Map<string, LlmUsage>();
  private readonly tts = new Map<string, TtsUsage>();

  constructor(private readonly defaultModel: string) {}

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- events do not depend on userdata
  attach(session: voice.AgentSession<any>): void {
    session.on(voice.AgentSessionEventTypes.MetricsCollected, ({ metrics: m }) => {
      if (m.type === 'stt_metrics') {
        const p = provider(m.metadata?.modelProvider ?? m.label, 'deepgram');
        const u = this.stt.get(p) ?? { provider: p, audioSeconds: 0 };
        u.audioSeconds += m.audioDurationMs / 1000;
        this.stt.set(p, u);
      } else if (m.type === 'llm_metrics') {
        const model = m.metadata?.modelName ?? this.defaultModel;
        const u = this.llm.get(model) ?? { model, inputTokens: 0, cachedInputTokens: 0, outputTokens: 0 };
        u.inputTokens += m.promptTokens;
        u.cachedInputTokens += m.promptCachedTokens;
        u.outputTokens += m.completionTokens;
        this.llm.set(model, u);
      } else if (m.type === 'tts_metrics') {
        const p = provider(m.metadata?.modelProvider ?? m.label, 'cartesia');
        const u = this.tts.get(p) ?? { provider: p, characters: 0, audioSeconds: 0 };
        u.characters += m.charactersCount;
        u.audioSeconds += m.audioDurationMs / 1000;
        this.tts.set(p, u);
      }
    });
  }

  usage(durationSeconds: number, direction: CallDirection, trunk: string | null): CallUsage {
    return {
      durationSeconds,
      direction,
      trunk: direction === 'browser' ? null : trunk,
      stt: [...this.stt.values()],
      llm: [...this.llm.values()],
      tts: [...this.tts.values()],
    };
  }
}
