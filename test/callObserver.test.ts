/**
 * The call observer on its own, driven with the session events the framework emits: provider
 * errors and fallbacks (a FallbackAdapter giving up on a provider), interruptions, which
 * provider answered, tool calls; then what the call's end adds (outcome, transfers, underruns).
 */
import './helpers/logger.js';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { llm, stt, voice } from '@livekit/agents';
import * as cartesia from '@livekit/agents-plugin-cartesia';
import * as deepgram from '@livekit/agents-plugin-deepgram';
import * as openai from '@livekit/agents-plugin-openai';
import { CallObserver, providerName } from '../src/call/callObserver.js';
import { LatencyTracker } from '../src/call/latency.js';
import { processMetrics } from '../src/observe/metrics.js';
import { RestartableSTT } from '../src/session/restartableStt.js';

async function value(line: RegExp): Promise<number> {
  const m = line.exec(await processMetrics().exposition());
  return m ? Number(m[1]) : 0;
}

describe('call observer', () => {
  it('counts provider errors, fallbacks and interruptions; records who answered; adds the end', async () => {
    const primary = new openai.LLM({ model: 'gpt-4.1-mini', apiKey: 'test-key' });
    const backup = new openai.LLM({ model: 'gpt-4.1-nano', apiKey: 'test-key' });
    const adapter = new llm.FallbackAdapter({ llms: [primary, backup] });
    const sttAdapter = new stt.FallbackAdapter({ sttInstances: [new deepgram.STT({ apiKey: 'k' }), new deepgram.STT({ apiKey: 'k' })] });
    const providers = { llm: adapter, stt: new RestartableSTT(sttAdapter), tts: new cartesia.TTS({ apiKey: 'k' }) };
    const session = new EventEmitter();
    const latency = new LatencyTracker();
    const observer = new CallObserver({ direction: 'outbound', outboundWithContact: true }, { model: 'gpt-4.1-mini', buildVersion: 'b1' });
    observer.attach(session as unknown as voice.AgentSession, providers, latency);
    latency.attach(session as unknown as voice.AgentSession);

    const before = {
      errors: await value(/^switchboard_provider_errors_total\{kind="llm",provider="openai",recoverable="false"\} (\d+)$/m),
      fallbacks: await value(/^switchboard_provider_fallbacks_total\{kind="llm",provider="openai"\} (\d+)$/m),
      sttFallbacks: await value(/^switchboard_provider_fallbacks_total\{kind="stt",provider="deepgram"\} (\d+)$/m),
      interruptions: await value(/^switchboard_interruptions_total (\d+)$/m),
      transfers: await value(/^switchboard_transfers_total\{mode="cold",result="failed"\} (\d+)$/m),
      ended: await value(/^switchboard_calls_ended_total\{direction="outbound",outcome="voicemail"\} (\d+)$/m),
      underruns: await value(/^switchboard_audio_underruns_total (\d+)$/m),
      ttfa: await value(/^switchboard_time_to_first_audio_seconds_count\{direction="outbound"\} (\d+)$/m),
    };

    const E = voice.AgentSessionEventTypes;
    session.emit(E.Error, { type: 'error', error: { type: 'llm_error', label: primary.label(), error: new Error('500'), recoverable: false }, createdAt: Date.now() });
    session.emit(E.Error, { type: 'error', error: { type: 'llm_error', label: primary.label(), error: new Error('retrying'), recoverable: true }, createdAt: Date.now() });
    (adapter as unknown as EventEmitter).emit('llm_availability_changed', { llm: primary, available: false });
    (adapter as unknown as EventEmitter).emit('llm_availability_changed', { llm: primary, available: true });
    (sttAdapter as unknown as EventEmitter).emit('stt_availability_changed', { stt: sttAdapter.sttInstances[0], available: false });
    session.emit(E.MetricsCollected, { metrics: { type: 'llm_metrics', label: backup.label(), speechId: 's1', ttftMs: 250, durationMs: 400, timestamp: Date.now(), cancelled: false, metadata: { modelProvider: 'openai', modelName: 'gpt-4.1-nano' } } });
    session.emit(E.MetricsCollected, { metrics: { type: 'eou_metrics', speechId: 's1', lastSpeakingTimeMs: Date.now() - 900, endOfUtteranceDelayMs: 400, transcriptionDelayMs: 80, timestamp: Date.now() } });
    latency.outputListener.onSegmentStart?.(Date.now());
    session.emit(E.ConversationItemAdded, { item: llm.ChatMessage.create({ role: 'assistant', content: 'We open at nine and', interrupted: true }) });
    session.emit(E.ConversationItemAdded, { item: llm.ChatMessage.create({ role: 'assistant', content: 'Goodbye', interrupted: false }) });

    const meta = observer.ended(
      {
        outcome: { kind: 'voicemail', messageLeft: true },
        transfers: [{ at: '', requested: null, to: 'tel:+15550009999', mode: 'cold', result: 'failed', error: 'busy' }],
        underruns: 3,
      },
      latency,
    );
    assert.deepEqual(meta.providers.llm, ['openai/gpt-4.1-nano'], 'the model that answered after the fallback');
    assert.equal(meta.interruptions, 1);
    assert.equal(meta.model, 'gpt-4.1-mini');
    assert.equal(meta.buildVersion, 'b1');
    assert.equal(meta.turnLatency.llmTtftMs!.p50, 250);

    assert.equal(await value(/^switchboard_provider_errors_total\{kind="llm",provider="openai",recoverable="false"\} (\d+)$/m), before.errors + 1);
    assert.equal(await value(/^switchboard_provider_fallbacks_total\{kind="llm",provider="openai"\} (\d+)$/m), before.fallbacks + 1, 'a recovery is not a fallback');
    assert.equal(await value(/^switchboard_provider_fallbacks_total\{kind="stt",provider="deepgram"\} (\d+)$/m), before.sttFallbacks + 1);
    assert.equal(await value(/^switchboard_interruptions_total (\d+)$/m), before.interruptions + 1);
    assert.equal(await value(/^switchboard_transfers_total\{mode="cold",result="failed"\} (\d+)$/m), before.transfers + 1);
    assert.equal(await value(/^switchboard_calls_ended_total\{direction="outbound",outcome="voicemail"\} (\d+)$/m), before.ended + 1);
    assert.equal(await value(/^switchboard_audio_underruns_total (\d+)$/m), before.underruns + 3);
    assert.equal(await value(/^switchboard_time_to_first_audio_seconds_count\{direction="outbound"\} (\d+)$/m), before.ttfa + 1);

    // Detached at the end: a later fallback on shared providers is not this call's.
    (adapter as unknown as EventEmitter).emit('llm_availability_changed', { llm: primary, available: false });
    assert.equal(await value(/^switchboard_provider_fallbacks_total\{kind="llm",provider="openai"\} (\d+)$/m), before.fallbacks + 1);
    await Promise.allSettled([adapter.aclose(), providers.stt.close(), providers.tts.close()]);
  });

  it('keeps provider labels bounded', () => {
    assert.equal(providerName('openai.LLM'), 'openai');
    assert.equal(providerName('Deepgram.STT'), 'deepgram');
    assert.equal(providerName('http://10.0.0.1:8080/v1'), 'other');
    assert.equal(providerName(undefined), 'other');
  });
});
