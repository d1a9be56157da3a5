/**
 * Watches one call for operators: turns the session's events and the lifecycle's outcome into
 * Prometheus measurements (src/observe/metrics.ts), spans for the things the framework does not
 * trace itself (handoffs, tool calls), and the call record's `meta`: the model, prompt and build
 * versions, which providers actually answered, interruptions, and per-stage turn latency.
 *
 * Like the call log beside it, it only listens: nothing here changes what the call does.
 */
import type { EventEmitter } from 'node:events';
import { llm as llmNs, stt as sttNs, tts as ttsNs, voice } from '@livekit/agents';
import { recordMetric } from '../observe/metrics.js';
import type { TurnStage } from '../observe/metrics.js';
import { pastSpan } from '../observe/tracing.js';
import type { Providers } from '../session/providers.js';
import { RestartableSTT } from '../session/restartableStt.js';
import type { CallMeta, CallOutcome, Direction } from '../store/index.js';
import type { LatencyTracker, TurnLatency } from './latency.js';
import { stagePercentiles } from './latency.js';
import { promptVersions } from './promptVersion.js';
import type { TransferAttempt } from './transfer.js';

type ProviderKind = 'stt' | 'llm' | 'tts';

/** A call began (its record was written): counted, and in progress until `countCallEnd`. */
export function countCallStart(direction: Direction): void {
  recordMetric({ kind: 'count', name: 'calls_started', labels: { direction } });
  recordMetric({ kind: 'gauge', name: 'calls_active', labels: { direction }, by: 1 });
}

export function countCallEnd(direction: Direction, outcome: CallOutcome): void {
  recordMetric({ kind: 'count', name: 'calls_ended', labels: { direction, outcome: outcome.kind } });
  recordMetric({ kind: 'gauge', name: 'calls_active', labels: { direction }, by: -1 });
}

/** A provider's short name for a label: `openai.LLM` → `openai`. Anything odd becomes `other`. */
export function providerName(label: string | undefined): string {
  const first = (label ?? '').split('.')[0]!.toLowerCase();
  return /^[a-z][a-z0-9_-]{0,31}$/.test(first) ? first : 'other';
}

const STAGE_OF: Array<[keyof TurnLatency, TurnStage]> = [
  ['sttFinalMs', 'stt_final'],
  ['endpointingMs', 'end_of_utterance'],
  ['llmTtftMs', 'llm_ttft'],
  ['ttsTtfbMs', 'tts_ttfb'],
];

export interface CallEnd {
  outcome: CallOutcome;
  transfers: TransferAttempt[];
  /** Gaps in the agent's audio, where the call's I/O can tell (simulations). */
  underruns?: number;
}

export class CallObserver {
  private interruptions = 0;
  private readonly answered: Record<ProviderKind, string[]> = { stt: [], llm: [], tts: [] };
  private readonly detach: Array<() => void> = [];

  constructor(
    private readonly call: { direction: Direction; outboundWithContact: boolean },
    private readonly opts: { model: string; buildVersion: string },
  ) {}

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- events do not depend on userdata
  attach(session: voice.AgentSession<any>, providers: Providers, latency: LatencyTracker): void {
    latency.onTurnSettled = (t) => this.turn(t);
    session.on(voice.AgentSessionEventTypes.MetricsCollected, ({ metrics: m }) => {
      if (m.type === 'llm_metrics' || m.type === 'stt_metrics' || m.type === 'tts_metrics') {
        const kind = m.type.slice(0, 3) as ProviderKind;
        const who = `${m.metadata?.modelProvider ?? providerName(m.label)}/${m.metadata?.modelName ?? 'unknown'}`;
        if (!this.answered[kind].includes(who)) this.answered[kind].push(who);
      }
    });
    session.on(voice.AgentSessionEventTypes.ConversationItemAdded, ({ item }) => {
      if (item.type === 'message' && item.role === 'assistant' && item.interrupted) {
        this.interruptions++;
        recordMetric({ kind: 'count', name: 'interruptions' });
      } else if (item.type === 'agent_handoff' && item.oldAgentId) {
        pastSpan('handoff', { 'switchboard.agent.from': item.oldAgentId, 'switchboard.agent.to': item.newAgentId }, item.createdAt, item.createdAt);
      }
    });
    session.on(voice.AgentSessionEventTypes.FunctionToolsExecuted, (ev) => {
      ev.functionCalls.forEach((call, i) => {
        const out = ev.functionCallOutputs[i];
        const failed = out?.isError ?? false;
        recordMetric({ kind: 'count', name: 'tool_calls', labels: { tool: call.name, result: failed ? 'error' : 'ok' } });
        // Arguments and output are the conversation's content: only the name goes into the trace.
        pastSpan('tool', { 'switchboard.tool.name': call.name, 'switchboard.tool.error': failed }, call.createdAt, out?.createdAt ?? Date.now(), failed);
      });
    });
    session.on(voice.AgentSessionEventTypes.Error, (ev) => {
      const err = ev.error as { type: string; label?: string; recoverable?: boolean };
      const kind = err.type.replace(/_error$/, '');
      if (kind !== 'stt' && kind !== 'llm' && kind !== 'tts') return;
      recordMetric({ kind: 'count', name: 'provider_errors', labels: { kind, provider: providerName(err.label), recoverable: String(err.recoverable ?? false) } });
    });
    this.watchFallbacks('llm', providers.llm, 'llm_availability_changed', 'llm');
    const stt = providers.stt instanceof RestartableSTT ? providers.stt.inner : providers.stt;
    this.watchFallbacks('stt', stt, 'stt_availability_changed', 'stt');
    this.watchFallbacks('tts', providers.tts, 'tts_availability_changed', 'tts');
  }

  /** A FallbackAdapter that gives up on one of its providers moves on to the next: a fallback. */
  private watchFallbacks(kind: ProviderKind, adapter: unknown, event: string, field: ProviderKind): void {
    const isAdapter = adapter instanceof llmNs.FallbackAdapter || adapter instanceof sttNs.FallbackAdapter || adapter instanceof ttsNs.FallbackAdapter;
    if (!isAdapter) return;
    const emitter = adapter as unknown as EventEmitter;
    const listener = (ev: Record<string, { label?: string | (() => string) } | boolean>) => {
      if (ev.available) return;
      const inner = ev[field] as { label?: string | (() => string) };
      const label = typeof inner?.label === 'function' ? inner.label() : inner?.label;
      recordMetric({ kind: 'count', name: 'provider_fallbacks', labels: { kind, provider: providerName(label) } });
    };
    emitter.on(event, listener);
    this.detach.push(() => emitter.off(event, listener));
  }

  private turn(t: TurnLatency): void {
    if (t.firstAudioMs !== null) {
      recordMetric({ kind: 'observe', name: 'time_to_first_audio_seconds', labels: { direction: this.call.direction }, value: t.firstAudioMs / 1000 });
    }
    for (const [field, stage] of STAGE_OF) {
      const ms = t[field];
      if (typeof ms === 'number' && ms >= 0) recordMetric({ kind: 'observe', name: 'turn_stage_seconds', labels: { stage }, value: ms / 1000 });
    }
  }

  /** The call is over: counts what only the end knows, and gives the record its `meta`. */
  ended(end: CallEnd, latency: LatencyTracker): CallMeta {
    for (const off of this.detach.splice(0)) off();
    latency.settleAll();
    for (const a of end.transfers) recordMetric({ kind: 'count', name: 'transfers', labels: { mode: a.mode, result: a.result } });
    if (end.underruns) recordMetric({ kind: 'count', name: 'audio_underruns', by: end.underruns });
    countCallEnd(this.call.direction, end.outcome);
    return {
      model: this.opts.model,
      promptVersions: promptVersions(this.call.direction, this.call.outboundWithContact),
      buildVersion: this.opts.buildVersion,
      providers: this.answered,
      interruptions: this.interruptions,
      turnLatency: stagePercentiles(latency.summary().turns),
    };
  }
}
