import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { voice } from '@livekit/agents';
import { LatencyTracker, percentile } from '../src/call/latency.js';

const emitMetrics = (s: EventEmitter, metrics: object) => s.emit(voice.AgentSessionEventTypes.MetricsCollected, { metrics });

describe('latency tracker', () => {
  it('places each stage after the caller stopped, even when the LLM finished before the turn ended', () => {
    const s = new EventEmitter();
    const t = new LatencyTracker();
    t.attach(s as unknown as voice.AgentSession);
    const stop = 1_000_000;
    // Preemptive generation: the LLM ran (request at +130, first token +330) before the EOU metric.
    emitMetrics(s, { type: 'llm_metrics', speechId: 'sp1', timestamp: stop + 400, durationMs: 270, ttftMs: 200, cancelled: false });
    emitMetrics(s, { type: 'eou_metrics', speechId: 'sp1', lastSpeakingTimeMs: stop, endOfUtteranceDelayMs: 400, transcriptionDelayMs: 120 });
    emitMetrics(s, { type: 'tts_metrics', speechId: 'sp1', timestamp: stop + 700, durationMs: 290, ttfbMs: 100, cancelled: false });
    t.outputListener.onSegmentStart!(stop + 512);
    // A later frame in the same turn does not move the first-audio mark.
    t.outputListener.onSegmentStart!(stop + 900);
    const { turns, firstAudioMs } = t.summary();
    assert.deepEqual(turns, [
      {
        turn: 1,
        speechId: 'sp1',
        callerStoppedAt: stop,
        sttFinalMs: 120,
        endpointingMs: 400,
        llmFirstTokenMs: 330,
        ttsFirstByteMs: 510,
        firstAudioMs: 512,
        llmTtftMs: 200,
        ttsTtfbMs: 100,
      },
    ]);
    assert.deepEqual(firstAudioMs, { p50: 512, p95: 512 });
  });

  it('ignores cancelled generations and turns with no detected end of speech', () => {
    const s = new EventEmitter();
    const t = new LatencyTracker();
    t.attach(s as unknown as voice.AgentSession);
    emitMetrics(s, { type: 'eou_metrics', speechId: 'x', lastSpeakingTimeMs: 0, endOfUtteranceDelayMs: 0, transcriptionDelayMs: 0 });
    emitMetrics(s, { type: 'eou_metrics', speechId: 'a', lastSpeakingTimeMs: 50, endOfUtteranceDelayMs: 400, transcriptionDelayMs: 0 });
    emitMetrics(s, { type: 'llm_metrics', speechId: 'a', timestamp: 900, durationMs: 100, ttftMs: 50, cancelled: true });
    const { turns } = t.summary();
    assert.equal(turns.length, 1);
    assert.equal(turns[0]!.llmFirstTokenMs, null);
  });

  it('percentiles are nearest-rank', () => {
    assert.equal(percentile([], 50), null);
    assert.equal(percentile([5, 1, 3], 50), 3);
    assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95), 10);
    assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50), 5);
  });
});
