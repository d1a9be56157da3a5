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

type StageMetrics = { llm?: { timestamp: number; durationMs: number; ttftMs: number }; tts?: { timestamp: number; durationMs: number; ttfbMs: number } };

export class LatencyTracker {
  private readonly turns: Pending[] = [];
  /**
   * Stage metrics by speech id, kept until their turn exists: with preemptive generation the LLM
   * usually finishes before the end-of-turn metric that opens the turn is even emitted.
   */
  private readonly stages = new Map<string, StageMetrics>();
  private settled = 0;
  /** Sees each turn once, when it can change no more: the next turn began, or `settleAll` ran. */
  onTurnSettled?: (turn: TurnLatency) => void;

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- events do not depend on userdata
  attach(session: voice.AgentSession<any>): void {
    session.on(voice.AgentSessionEventTypes.MetricsCollected, ({ metrics: m }) => {
      if (m.type === 'eou_metrics') {
        // A turn with no detected end of speech (lastSpeakingTimeMs 0) has nothing to measure from.
        if (!m.lastSpeakingTimeMs) return;
        const stopped = m.lastSpeakingTimeMs;
        this.settle(this.turns.length);
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
        this.fill(m.speechId);
      } else if (m.type === 'llm_metrics' && !m.cancelled && m.speechId && m.ttftMs >= 0) {
        const st = this.stages.get(m.speechId) ?? {};
        st.llm ??= { timestamp: m.timestamp, durationMs: m.durationMs, ttftMs: m.ttftMs };
        this.stages.set(m.speechId, st);
        this.fill(m.speechId);
      } else if (m.type === 'tts_metrics' && !m.cancelled && m.speechId && m.ttfbMs >= 0) {
        const st = this.stages.get(m.speechId) ?? {};
        st.tts ??= { timestamp: m.timestamp, durationMs: m.durationMs, ttfbMs: m.ttfbMs };
        this.stages.set(m.speechId, st);
        this.fill(m.speechId);
      }
    });
  }

  /** Places a speech's first LLM token and TTS byte on its turn, whichever arrived first. */
  private fill(speechId: string | undefined): void {
    if (!speechId) return;
    const t = this.turns.find((x) => x.speechId === speechId);
    const st = this.stages.get(speechId);
    if (!t || !st) return;
    if (st.llm && t.llmFirstTokenMs === null) {
      t.llmTtftMs = round(st.llm.ttftMs);
      t.llmFirstTokenMs = round(st.llm.timestamp - st.llm.durationMs + st.llm.ttftMs - t.callerStoppedAt);
    }
    if (st.tts && t.ttsFirstByteMs === null) {
      t.ttsTtfbMs = round(st.tts.ttfbMs);
      t.ttsFirstByteMs = round(st.tts.timestamp - st.tts.durationMs + st.tts.ttfbMs - t.callerStoppedAt);
    }
  }

  /** Stamps the first agent frame after each caller turn. */
  readonly outputListener: OutputListener = {
    onSegmentStart: (at) => {
      const t = this.turns.at(-1);
      if (t && t.firstAudioMs === null && at >= t.callerStoppedAt) t.firstAudioMs = round(at - t.callerStoppedAt);
    },
  };

  /** The call is over: every turn is final. */
  settleAll(): void {
    this.settle(this.turns.length);
  }

  private settle(upTo: number): void {
    while (this.settled < upTo) {
      const { committedAt: _c, ...t } = this.turns[this.settled++]!;
      this.onTurnSettled?.(t);
    }
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

/** The stages of a turn, as TurnLatency names them. */
export const TURN_STAGES = ['sttFinalMs', 'endpointingMs', 'llmFirstTokenMs', 'ttsFirstByteMs', 'firstAudioMs', 'llmTtftMs', 'ttsTtfbMs'] as const;
export type TurnStageKey = (typeof TURN_STAGES)[number];

/** p50/p95 of every stage over a call's turns (turns without the stage left out). */
export function stagePercentiles(turns: TurnLatency[]): Record<TurnStageKey, { p50: number | null; p95: number | null }> {
  const out = {} as Record<TurnStageKey, { p50: number | null; p95: number | null }>;
  for (const stage of TURN_STAGES) {
    const values = turns.flatMap((t) => (t[stage] === null ? [] : [t[stage]!]));
    out[stage] = { p50: percentile(values, 50), p95: percentile(values, 95) };
  }
  return out;
}
