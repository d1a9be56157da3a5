/**
 * What operators see of a call: two simulated calls at once in this process (as in a call host),
 * with the tracer provider installed against a local OTLP receiver. Checked: the call record's
 * meta, the Prometheus exposition (parsed), the span tree of each call, and that every log line
 * written inside a call names it.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type VAD, initializeLogger } from '@livekit/agents';
import { dispose } from '@livekit/rtc-node';
import { promptVersions } from '../src/call/promptVersion.js';
import { loadConfig } from '../src/config.js';
import { withCallContext } from '../src/observe/callContext.js';
import { MetricsRegistry, forwardMetrics, processMetrics, recordLocally } from '../src/observe/metrics.js';
import { flushTracing, installTracing } from '../src/observe/tracing.js';
import { OtlpReceiver, type ReceivedSpan } from '../src/sandbox/otlpReceiver.js';
import { Sandbox } from '../src/sandbox/sandbox.js';
import { loadVad } from '../src/session/sessionFactory.js';
import { loadScenario } from '../src/simulate/scenario.js';
import { type SimulationReport, simulateCall } from '../src/simulate/simulatedCall.js';
import { type CallMeta, type Store, openStore } from '../src/store/index.js';

// Log lines are captured (and kept off the test runner's stdout) to check what they carry.
const logLines: Record<string, unknown>[] = [];
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
  const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
  if (text.startsWith('{"level"')) {
    for (const line of text.split('\n').filter(Boolean)) logLines.push(JSON.parse(line) as Record<string, unknown>);
    return true;
  }
  return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
}) as typeof process.stdout.write;
initializeLogger({ pretty: false, level: 'debug' });

const SCENARIOS = join(import.meta.dirname, '..', '..', 'scenarios');
let receiver: OtlpReceiver;
let sandbox: Sandbox;
let store: Store;
let vad: VAD;
let booking: SimulationReport;
let bargeIn: SimulationReport;
let voicemail: SimulationReport;
let transferred: SimulationReport;
let exposition: string;
const config = () => loadConfig({ ...sandbox.env(), BUILD_VERSION: 'test-build-7' });

before(async () => {
  receiver = await new OtlpReceiver().start();
  installTracing({ endpoint: receiver.endpoint, serviceName: 'switchboard-test', buildVersion: 'test-build-7', includeContent: false, exportEachSpan: true });
  sandbox = await Sandbox.start({ msPerChar: 40 });
  store = await openStore(':memory:');
  vad = await loadVad();
  const env = { sandbox, config: config(), store, vad };
  [booking, bargeIn, voicemail, transferred] = await Promise.all([
    simulateCall(loadScenario(join(SCENARIOS, 'inbound-booking.yaml')), env),
    simulateCall(loadScenario(join(SCENARIOS, 'barge-in.yaml')), env),
    simulateCall(loadScenario(join(SCENARIOS, 'outbound-voicemail.yaml')), env),
    simulateCall(loadScenario(join(SCENARIOS, 'transfer-cold.yaml')), env),
  ]);
  await flushTracing();
  exposition = await processMetrics().exposition();
}, { timeout: 120_000 });

after(async () => {
  await sandbox?.close();
  await receiver?.close();
  await store?.close();
  await dispose();
});

/** `name{labels} value` lines of the text format, with the labels parsed. */
function samples(text: string): Array<{ name: string; labels: Record<string, string>; value: number }> {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/.exec(line);
    assert.ok(m, `not a sample line of the text format: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

function sample(name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples(exposition).filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return found.length ? found.reduce((a, s) => a + s.value, 0) : undefined;
}

function spansOf(callId: string): ReceivedSpan[] {
  const root = receiver.spans.find((s) => s.name === 'call' && s.attributes['switchboard.call_id'] === callId);
  assert.ok(root, `no call span for ${callId}`);
  return receiver.spans.filter((s) => s.traceId === root.traceId);
}

function ancestors(span: ReceivedSpan, all: ReceivedSpan[]): string[] {
  const names: string[] = [];
  for (let p = all.find((s) => s.spanId === span.parentSpanId); p; p = all.find((s) => s.spanId === p!.parentSpanId)) names.push(p.name);
  return names;
}

describe('observability of a call', () => {
  it('the call record says what ran it: model, prompt and build versions, providers that answered, interruptions, stage percentiles', () => {
    assert.equal(booking.passed, true, JSON.stringify(booking.checks.filter((c) => !c.ok)));
    const meta = booking.record.meta as CallMeta;
    assert.equal(meta.model, config().OPENAI_MODEL);
    assert.equal(meta.buildVersion, 'test-build-7');
    assert.deepEqual(Object.keys(meta.promptVersions).sort(), ['desk', 'intro']);
    assert.match(meta.promptVersions.intro!, /^[0-9a-f]{12}$/);
    // A version, not a per-call hash: the same for every inbound call, different for outbound.
    assert.deepEqual(meta.promptVersions, promptVersions('inbound'));
    assert.notEqual(promptVersions('outbound').intro, meta.promptVersions.intro);
    assert.equal(meta.providers.llm.length, 1);
    assert.match(meta.providers.llm[0]!, new RegExp(`/${config().OPENAI_MODEL}$`));
    assert.equal(meta.providers.tts.length, 1);
    assert.equal(meta.providers.stt.length, 1);
    // Every stage's p50 and p95 over the record's own turns (nearest rank; with 3 turns, the 2nd and 3rd).
    const turns = (booking.record.latency as { turns: Record<string, number | null>[] }).turns;
    for (const stage of ['sttFinalMs', 'endpointingMs', 'llmFirstTokenMs', 'ttsFirstByteMs', 'firstAudioMs', 'llmTtftMs', 'ttsTtfbMs']) {
      const v = turns.flatMap((t) => (typeof t[stage] === 'number' ? [t[stage] as number] : [])).sort((a, b) => a - b);
      assert.deepEqual(meta.turnLatency[stage], { p50: v.length ? v[Math.ceil(v.length / 2) - 1]! : null, p95: v.length ? v[Math.ceil(v.length * 0.95) - 1]! : null }, stage);
    }

    const cut = bargeIn.record.meta as CallMeta;
    assert.ok(cut.interruptions >= 1, `the barge-in call counts its interruption (${cut.interruptions})`);
  });

  it('the metrics exposition parses and counts the calls, with no call id, room or number in any label', () => {
    const all = [booking, bargeIn, voicemail, transferred];
    assert.deepEqual(all.map((r) => r.passed), [true, true, true, true], 'the scenarios played as written');
    assert.equal(sample('switchboard_calls_started_total', { direction: 'inbound' }), 3);
    assert.equal(sample('switchboard_calls_started_total', { direction: 'outbound' }), 1);
    for (const r of all) {
      const same = all.filter((o) => o.record.direction === r.record.direction && o.record.outcome?.kind === r.record.outcome?.kind).length;
      assert.equal(sample('switchboard_calls_ended_total', { direction: r.record.direction, outcome: r.record.outcome!.kind }), same);
    }
    assert.equal(sample('switchboard_calls_active'), 0);
    assert.equal(sample('switchboard_room_deletions_total', { result: 'deleted' }), 4);
    assert.equal(sample('switchboard_amd_verdicts_total'), 1);
    assert.ok(samples(exposition).some((s) => s.name === 'switchboard_amd_verdicts_total' && /machine/.test(s.labels.category ?? '')), 'the verdict says machine');
    assert.equal(sample('switchboard_transfers_total', { mode: 'cold', result: 'transferred' }), 1);
    // Read back first (books nothing, the tool asks for a yes), then booked: two calls, both ok.
    assert.equal(sample('switchboard_tool_calls_total', { tool: 'book_appointment', result: 'ok' }), 2);
    assert.equal(sample('switchboard_interruptions_total'), all.reduce((a, r) => a + (r.record.meta as CallMeta).interruptions, 0));
    const turnsHeard = [booking, bargeIn, voicemail, transferred]
      .flatMap((r) => (r.record.latency as { turns: { firstAudioMs: number | null }[] }).turns)
      .filter((t) => t.firstAudioMs !== null).length;
    assert.equal(sample('switchboard_time_to_first_audio_seconds_count') ?? 0, turnsHeard);
    const allTurns = all.flatMap((r) => (r.record.latency as { turns: Record<string, number | null>[] }).turns);
    for (const [stage, field] of [['stt_final', 'sttFinalMs'], ['end_of_utterance', 'endpointingMs'], ['llm_ttft', 'llmTtftMs'], ['tts_ttfb', 'ttsTtfbMs']] as const) {
      assert.equal(sample('switchboard_turn_stage_seconds_count', { stage }) ?? 0, allTurns.filter((t) => typeof t[field] === 'number').length, stage);
    }
    for (const s of samples(exposition)) {
      for (const v of Object.values(s.labels)) {
        for (const secret of [booking.callId, bargeIn.callId, voicemail.callId, booking.record.room, '+1555']) assert.ok(!v.includes(secret), `${s.name} has ${v} in a label`);
        assert.ok(!/^\d{3,}$/.test(v), `${s.name} has a number (${v}) as a label`);
      }
    }
  });

  it('each call is one trace: the framework\'s session and turn spans and ours under the call span, stamped with its id and room', () => {
    for (const r of [booking, bargeIn, voicemail, transferred]) {
      const spans = spansOf(r.callId);
      const root = spans.find((s) => s.name === 'call')!;
      assert.equal(root.parentSpanId, null, 'the call span is the root of its trace');
      assert.equal(root.service, 'switchboard-test');
      for (const s of spans) {
        assert.equal(s.attributes['switchboard.call_id'], r.callId, `${s.name} carries the call id`);
        assert.equal(s.attributes['switchboard.room'], r.record.room, `${s.name} carries the room`);
        if (s !== root) assert.ok(ancestors(s, spans).at(-1) === 'call', `${s.name} hangs under the call span`);
      }
      const names = new Set(spans.map((s) => s.name));
      if (r === voicemail) continue; // no model turn: the message is said, then the call ends
      for (const n of ['agent_session', 'agent_turn', 'llm_node', 'tts_node', 'room_deletion']) assert.ok(names.has(n), `${n} span in ${[...names].join(', ')}`);
      assert.ok(ancestors(spans.find((s) => s.name === 'llm_node')!, spans).includes('agent_session'));
    }
    const bookingSpans = spansOf(booking.callId);
    const tools = bookingSpans.filter((s) => s.name === 'tool').map((s) => s.attributes['switchboard.tool.name']);
    assert.deepEqual(tools, ['transfer_to_desk', 'check_availability', 'book_appointment', 'book_appointment', 'end_call']);
    const handoff = bookingSpans.find((s) => s.name === 'handoff');
    assert.deepEqual([handoff?.attributes['switchboard.agent.from'], handoff?.attributes['switchboard.agent.to']], ['intro', 'desk']);
    // The calls' traces are apart, though they ran in one process at the same time.
    assert.notEqual(spansOf(booking.callId)[0]!.traceId, spansOf(bargeIn.callId)[0]!.traceId);

    // An outbound call: the dial and the answering machine check, in its own trace.
    const out = spansOf(voicemail.callId);
    const dial = out.find((s) => s.name === 'dial');
    assert.equal(dial?.attributes['switchboard.dial.outcome'], 'answered');
    assert.match(String(out.find((s) => s.name === 'amd')?.attributes['switchboard.amd.category']), /machine/);
    // The session is up while the callee's phone rings, so their first words are heard: it starts
    // before the dial is answered.
    assert.ok(out.find((s) => s.name === 'agent_session')!.startMs <= dial!.endMs, 'the session starts before the callee answers');
    const transfer = spansOf(transferred.callId).find((s) => s.name === 'transfer');
    assert.deepEqual([transfer?.attributes['switchboard.transfer.mode'], transfer?.attributes['switchboard.transfer.result']], ['cold', 'transferred']);
  });

  it('traces carry no conversation by default: no caller words, agent words or tool arguments', () => {
    const said = ['Ana Diaz', 'Nine thirty please', 'Tuesday at nine or nine thirty', 'opening hours', '2026-11-24T09:30'];
    const text = JSON.stringify(receiver.spans.map((s) => s.attributes));
    for (const words of said) assert.ok(!text.includes(words), `"${words}" reached the trace exporter`);
    assert.equal(receiver.rejected, 0);
  });

  it('every log line written inside a call names its call and room', () => {
    const inCall = logLines.filter((l) => l.callId !== undefined);
    assert.ok(inCall.length > 0, 'the calls wrote log lines');
    const rooms = new Map([booking, bargeIn, voicemail, transferred].map((r) => [r.callId, r.record.room]));
    for (const l of inCall) assert.equal(l.room, rooms.get(l.callId as string), JSON.stringify(l));
    // Lines of the framework's own session code are among them (they pass no call id themselves).
    assert.ok(inCall.some((l) => l.callId === booking.callId) && inCall.some((l) => l.callId === bargeIn.callId));
  });

  it('a line that passes its own fields keeps them beside the call\'s', async () => {
    const { log } = await import('@livekit/agents');
    const before = logLines.length;
    withCallContext({ callId: 'call_ctx', room: 'room_ctx' }, () => log().child({ host: true }).error({ reason: 'x' }, 'inside'));
    log().error('outside');
    const [inside, outside] = logLines.slice(before);
    assert.deepEqual([inside?.callId, inside?.room, inside?.reason, inside?.host], ['call_ctx', 'room_ctx', 'x', true]);
    assert.equal(outside?.callId, undefined);
  });
});

describe('metrics from call hosts', () => {
  it('applies what a host forwards, keeps its counts when it exits, and takes back its gauges', async () => {
    const registry = new MetricsRegistry();
    const batches: unknown[][] = [];
    const { flush } = forwardMetrics((ops) => batches.push(ops));
    try {
      const { recordMetric } = await import('../src/observe/metrics.js');
      recordMetric({ kind: 'count', name: 'calls_started', labels: { direction: 'inbound' } });
      recordMetric({ kind: 'gauge', name: 'calls_active', labels: { direction: 'inbound' }, by: 1 });
      recordMetric({ kind: 'count', name: 'calls_started', labels: { direction: 'outbound' } });
      assert.equal(batches.length, 0, 'batched until the event loop turns');
      flush();
      assert.equal(batches.length, 1);
      assert.equal(batches[0]!.length, 3);
      for (const op of batches[0]! as Parameters<typeof registry.apply>[0][]) registry.apply(JSON.parse(JSON.stringify(op)), 'host-1');
      registry.apply({ kind: 'gauge', name: 'calls_active', labels: { direction: 'inbound' }, by: 1 }, 'host-2');
      let text = await registry.exposition();
      assert.match(text, /switchboard_calls_active\{direction="inbound"\} 2/);
      registry.forgetSource('host-1');
      text = await registry.exposition();
      assert.match(text, /switchboard_calls_active\{direction="inbound"\} 1/);
      assert.match(text, /switchboard_calls_started_total\{direction="inbound"\} 1/);
      // A gauge op the host sent just before it exited, arriving after: ignored, counters still counted.
      registry.apply({ kind: 'gauge', name: 'calls_active', labels: { direction: 'inbound' }, by: -1 }, 'host-1');
      registry.apply({ kind: 'count', name: 'calls_started', labels: { direction: 'inbound' } }, 'host-1');
      text = await registry.exposition();
      assert.match(text, /switchboard_calls_active\{direction="inbound"\} 1/);
      assert.match(text, /switchboard_calls_started_total\{direction="inbound"\} 2/);
      assert.throws(() => registry.apply({ kind: 'count', name: 'calls_started', labels: { callId: 'x' } }), /label/);
    } finally {
      recordLocally();
    }
  });
});
