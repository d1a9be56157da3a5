/**
 * Per-turn latency, measured at the boundaries: from the moment the caller stops speaking to the
 * final transcript, the end-of-turn decision, the LLM's first token, the TTS's first byte, and the
 * first agent audio frame leaving the worker — the silence the caller actually hears.
 *
 * Stage times come from the framework's own metrics events (taken on the output side of each
 * stage); the last one comes from the output tap, because no metric marks it.
 */
import { voice } from '@livekit/agents';
import type { OutputListener } from './outputTap.js';

export interface TurnLatency {
  turn: number;
  speechId: string | null;
  /** Epoch ms at which the caller stopped speaking (VAD). */
  callerStoppedAt: number;
  /** Each stage as ms after the caller stopped speaking (null: the stage did not happen). */
  sttFinalMs: number | null;
  endpointingMs: number | null;
  llmFirstTokenMs: number | null;
  ttsFirstByteMs: number | null;
  /** Time to first audio: what callers feel. */
  firstAudioMs: number | null;
  /** The providers' own figures, for comparing against what they promise. */
  llmTtftMs: number | null;
  ttsTtfbMs: number | null;
}

export interface LatencySummary {
  turns: TurnLatency[];
  firstAudioMs: { p50: number | null; p95: number | null };
}

/** Nearest-rank percentile; null for no data. */
export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

interface Pending extends TurnLatency {
  committedAt: number;
}

export class LatencyTracker {
  private readonly turns: Pending[] = [];

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- events do not depend on userdata
  attach(session: voice.AgentSession<any>): void {
    session.on(voice.AgentSessionEventTypes.MetricsCollected, ({ metrics: m }) => {
      if (m.type === 'eou_metrics') {
        // A turn with no detected end of speech (lastSpeakingTimeMs 0) has nothing to measure from.
        if (!m.lastSpeakingTimeMs) return;
        const stopped = m.lastSpeakingTimeMs;
        this.turns.push({
          turn: this.turns.length + 1,
          speechId: m.speechId ?? null,
          callerStoppedAt: stopped,
          sttFinalMs: round(m.transcriptionDelayMs),
          endpointingMs: round(m.endOfUtteranceDelayMs),
          llmFirstTokenMs: null,
          ttsFirstByteMs: null,
          firstAudioMs: null,
          llmTtftMs: null,
          ttsTtfbMs: null,
          committedAt: stopped + m.endOfUtteranceDelayMs,
        });
      } else if (m.type === 'llm_metrics' && !m.cancelled) {
        const t = this.bySpeech(m.speechId);
        if (t && t.llmFirstTokenMs === null && m.ttftMs >= 0) {
          t.llmTtftMs = round(m.ttftMs);
          t.llmFirstTokenMs = round(m.timestamp - m.durationMs + m.ttftMs - t.callerStoppedAt);
        }
      } else if (m.type === 'tts_metrics' && !m.cancelled) {
        const t = this.bySpeech(m.speechId);
        if (t && t.ttsFirstByteMs === null && m.ttfbMs >= 0) {
          t.ttsTtfbMs = round(m.ttfbMs);
          t.ttsFirstByteMs = round(m.timestamp - m.durationMs + m.ttfbMs - t.callerStoppedAt);
        }
      }
    });
  }

  /** Stamps the first agent frame after each caller turn. */
  readonly outputListener: OutputListener = {
    onSegmentStart: (at) => {
      const t = this.turns.at(-1);
      if (t && t.firstAudioMs === null && at >= t.callerStoppedAt) t.firstAudioMs = round(at - t.callerStoppedAt);
    },
  };

  private bySpeech(speechId: string | undefined): Pending | undefined {
    if (!speechId) return undefined;
    return this.turns.find((t) => t.speechId === speechId);
  }

  summary(): LatencySummary {
    const turns = this.turns.map(({ committedAt: _c, ...t }) => t);
    const heard = turns.flatMap((t) => (t.firstAudioMs === null ? [] : [t.firstAudioMs]));
    return { turns, firstAudioMs: { p50: percentile(heard, 50), p95: percentile(heard, 95) } };
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
