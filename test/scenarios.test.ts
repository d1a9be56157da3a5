/**
 * Every scenario in scenarios/ as a simulated phone call: the real lifecycle, agents, tools,
 * store and provider plugins against the sandbox, an emulated caller on a G.711 line. Each
 * scenario states what must hold at the end (outcome, agents, tools, store, exactly one
 * DeleteRoom, and never before the agent's last words have played); this test holds it to that.
 * Several calls run at once, as they would on one worker.
 */
import './helpers/logger.js';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { VAD } from '@livekit/agents';
import { dispose } from '@livekit/rtc-node';
import { loadConfig } from '../src/config.js';
import { Sandbox } from '../src/sandbox/sandbox.js';
import { loadVad } from '../src/session/sessionFactory.js';
import { loadScenario } from '../src/simulate/scenario.js';
import { type SimulationReport, simulateCall } from '../src/simulate/simulatedCall.js';
import { type Store, openStore } from '../src/store/index.js';

const DIR = join(import.meta.dirname, '..', '..', 'scenarios');
const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort();
const reports = new Map<string, SimulationReport | Error>();
let sandbox: Sandbox;
let store: Store;
let vad: VAD;

before(async () => {
  sandbox = await Sandbox.start({ msPerChar: 40 });
  store = await openStore(join(mkdtempSync(join(tmpdir(), 'sb-scen-')), 'calls.db'));
  vad = await loadVad();
  const config = loadConfig(sandbox.env());
  // A few calls at a time: enough to exercise concurrency, few enough that a 2-core CI machine
  // running other test files beside this one measures the calls, not its own starvation
  // (bench:calls is where load belongs).
  const queue = [...files];
  await Promise.all(
    Array.from({ length: 5 }, async () => {
      for (let f = queue.shift(); f; f = queue.shift()) {
        try {
          reports.set(f, await simulateCall(loadScenario(join(DIR, f)), { sandbox, config, store, vad }, { speed: 4 }));
        } catch (err) {
          reports.set(f, err as Error);
        }
      }
    }),
  );
}, { timeout: 240_000 });

after(async () => {
  await sandbox?.close();
  await store?.close();
  // rtc-node's native side keeps the process alive until it is disposed.
  await dispose();
});

describe('scenarios', () => {
  it('there is a default inbound booking scenario and one per exit path', () => {
    for (const f of [
      'inbound-booking.yaml',
      'hangup-mid-reply.yaml',
      'max-duration.yaml',
      'silence-timeout.yaml',
      'llm-failure.yaml',
      'tool-failure.yaml',
      'worker-shutdown.yaml',
      'stt-drop.yaml',
      'stt-down.yaml',
      'tts-failure.yaml',
    ]) {
      assert.ok(files.includes(f), `missing scenario ${f}`);
    }
  });

  it('every call record carries per-turn latency and a priced cost', async () => {
    const r = reports.get('inbound-booking.yaml');
    assert.ok(r && !(r instanceof Error));
    const latency = r.record.latency as { turns: { firstAudioMs: number | null; endpointingMs: number | null }[]; firstAudioMs: { p50: number; p95: number } };
    // Four caller lines. The third is answered by the read-back, which book_appointment says itself;
    // the tracker counts it as that turn's reply only when it starts before the turn is closed.
    assert.ok(latency.turns.length === 3 || latency.turns.length === 4, `${latency.turns.length} turns`);
    for (const t of latency.turns) {
      // The agent cannot answer before the turn ends, and the emulated stack answers within seconds.
      assert.ok(t.firstAudioMs !== null && t.endpointingMs !== null, JSON.stringify(t));
      assert.ok(t.firstAudioMs > t.endpointingMs && t.firstAudioMs < 5000, JSON.stringify(t));
    }
    assert.ok(latency.firstAudioMs.p50 <= latency.firstAudioMs.p95);
    const cost = r.record.cost as { totalUsd: number; breakdown: Record<string, number> };
    for (const part of ['livekit', 'stt', 'llm', 'tts', 'sip']) assert.ok(cost.breakdown[part]! > 0, `${part} cost is zero`);
    const sum = Object.values(cost.breakdown).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - cost.totalUsd) < 1e-9);
    // A browser session has no phone leg to pay for.
    const browser = reports.get('browser-booking.yaml');
    assert.ok(browser && !(browser instanceof Error));
    assert.equal((browser.record.cost as { breakdown: { sip: number } }).breakdown.sip, 0);
  });

  it('a dropped Deepgram socket: the line said into it is heard once, on a new connection, and answered', () => {
    const r = reports.get('stt-drop.yaml');
    assert.ok(r && !(r instanceof Error));
    // One connection per agent (intro, then desk); the desk's is the one dropped.
    const conns = sandbox.deepgram.connectionsFor(`sandbox-${r.callId}`);
    const dropped = conns.filter((c) => c.closeCode === 1011);
    assert.equal(dropped.length, 1);
    const after = conns.filter((c) => c.connectedAt > dropped[0]!.closedAt!);
    assert.equal(after.length, 1, 'the plugin does not reconnect by itself; the restart makes one new connection');
    const lines = (r.record.transcript ?? []).map((l) => ({ ...l, ms: Date.parse(l.at) }));
    const said = lines.filter((l) => l.role === 'caller' && l.text === 'Wednesday morning please.');
    assert.equal(said.length, 1, 'heard exactly once (the replay does not repeat earlier lines)');
    const answer = lines.find((l) => l.role === 'agent' && l.text.includes('Wednesday morning it is'));
    assert.ok(answer && answer.ms >= said[0]!.ms, 'answered after it was heard');
    assert.deepEqual(
      lines.filter((l) => l.role === 'caller').map((l) => l.text),
      ['Hi, this is Ben Okafor. I need a cleaning.', 'Wednesday morning please.', "No, that's all. Bye."],
    );
  });

  it('Deepgram down: two restarts that cannot connect, then a goodbye and one DeleteRoom', () => {
    const r = reports.get('stt-down.yaml');
    assert.ok(r && !(r instanceof Error));
    assert.equal(sandbox.deepgram.connectionsFor(`sandbox-${r.callId}`).length, 1, 'no new connection was accepted');
    assert.match((r.outcome as { error: string }).error, /^stt_error: .*503/);
    const agent = (r.record.transcript ?? []).filter((l) => l.role === 'agent').map((l) => l.text);
    assert.match(agent.at(-1)!, /our system is having trouble/, 'the goodbye is the last thing said');
  });

  it('Cartesia down: the reply that failed was never played, and nothing was said after it', () => {
    const r = reports.get('tts-failure.yaml');
    assert.ok(r && !(r instanceof Error));
    assert.match((r.outcome as { error: string }).error, /^tts_error: /);
    const gens = sandbox.cartesia.generationsFor(`sandbox-${r.callId}`);
    assert.ok(gens.some((g) => g.outcome === 'error'), JSON.stringify(gens.map((g) => g.outcome)));
    assert.ok(gens.every((g) => g.outcome !== 'done' || !g.text.includes('look that up')));
  });

  for (const f of files) {
    it(f, async () => {
      const r = reports.get(f);
      if (r instanceof Error) throw r;
      assert.ok(r, 'the scenario did not run');
      const failed = r.checks.filter((c) => !c.ok).map((c) => `${c.what}: ${c.detail}`);
      assert.deepEqual(failed, [], `${r.scenario}\n${failed.join('\n')}`);
      assert.equal(r.deleteRoomCalls, 1);
      // The call record was written, with the same outcome the report saw.
      const rec = await store.calls.get(r.callId);
      assert.equal(rec?.finished, true);
      assert.deepEqual(rec?.outcome, r.outcome);
    });
  }
});
