/**
 * Keypad input and output. The routing logic on its own (bursts, codes with a terminator, timeouts,
 * type-ahead, the noise guard), the worker's room adapter against a fake room (only the caller's
 * keys count; tones go out as RFC 4733 codes), and a whole simulated call where tones leak into the
 * audio: they really reach the STT as words, which the call then neither answers nor records.
 */
import './helpers/logger.js';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { VAD } from '@livekit/agents';
import { RoomEvent, dispose } from '@livekit/rtc-node';
import { Keypad } from '../src/call/dtmf.js';
import { loadConfig } from '../src/config.js';
import { Sandbox } from '../src/sandbox/sandbox.js';
import { loadVad } from '../src/session/sessionFactory.js';
import { loadScenario } from '../src/simulate/scenario.js';
import { type SimulationReport, simulateCall } from '../src/simulate/simulatedCall.js';
import { type Store, openStore } from '../src/store/index.js';
import { phoneControls } from '../src/worker.js';
import { DTMF_KEYS, dtmfCode, parseDtmfSequence } from '../src/telephony/dtmfKeys.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function keypad(opts: { interDigitMs?: number; guardMs?: number } = {}) {
  const bursts: string[] = [];
  const k = new Keypad({ interDigitMs: opts.interDigitMs ?? 60, guardMs: opts.guardMs ?? 80, onBurst: (b) => bursts.push(b) });
  return { k, bursts };
}

describe('keypad routing', () => {
  it('keys nobody is collecting reach the agent as one burst: after a gap, or at once on #', async () => {
    const { k, bursts } = keypad();
    k.press('1');
    k.press('2');
    assert.deepEqual(bursts, []);
    await sleep(100);
    assert.deepEqual(bursts, ['12']);
    k.press('4');
    k.press('#');
    assert.deepEqual(bursts, ['12', '4#']);
    k.press('x'); // not a key: ignored
    await sleep(100);
    assert.deepEqual(bursts, ['12', '4#']);
    k.close();
  });

  it('collects a code up to its terminator, which is not part of the code', async () => {
    const { k, bursts } = keypad();
    const done = k.collect({ terminator: '#', firstDigitTimeoutMs: 500, interDigitTimeoutMs: 500 });
    for (const key of '4821#') k.press(key);
    assert.deepEqual(await done, { digits: '4821', ended: 'terminator' });
    assert.deepEqual(bursts, []);
  });

  it('a code of known length ends on its last digit, and a habitual # after it is swallowed', async () => {
    const { k, bursts } = keypad();
    const done = k.collect({ maxDigits: 4, terminator: '#', firstDigitTimeoutMs: 500, interDigitTimeoutMs: 500 });
    for (const key of '1234') k.press(key);
    assert.deepEqual(await done, { digits: '1234', ended: 'count' });
    k.press('#');
    await sleep(100);
    assert.deepEqual(bursts, [], 'the # belonged to the code, not a new input');
    k.press('9');
    await sleep(100);
    assert.deepEqual(bursts, ['9']);
  });

  it('times out: the first-key wait starts only once the question has been asked, then per key', async () => {
    const { k } = keypad();
    let asked!: () => void;
    const question = new Promise<void>((r) => (asked = r));
    const t0 = Date.now();
    const done = k.collect({ terminator: '#', firstDigitTimeoutMs: 80, interDigitTimeoutMs: 80 }, { startTimerAfter: question });
    await sleep(150);
    asked();
    assert.deepEqual(await done, { digits: '', ended: 'timeout' });
    assert.ok(Date.now() - t0 >= 150 + 75, 'the timer did not wait for the question');

    const partial = k.collect({ terminator: '#', firstDigitTimeoutMs: 500, interDigitTimeoutMs: 80 });
    k.press('7');
    assert.deepEqual(await partial, { digits: '7', ended: 'timeout' });
  });

  it('keys typed ahead while the question is asked count, and the first key stops the question', async () => {
    const { k, bursts } = keypad({ interDigitMs: 1000 });
    k.press('5');
    let stopped = 0;
    const done = k.collect({ maxDigits: 2, firstDigitTimeoutMs: 500, interDigitTimeoutMs: 500 }, { onFirstKey: () => stopped++ });
    k.press('6');
    assert.deepEqual(await done, { digits: '56', ended: 'count' });
    assert.equal(stopped, 1);
    assert.deepEqual(bursts, []);
  });

  it('is busy while keys are pressed and for the guard after the last one, so leaked tones are not words', async () => {
    const { k } = keypad({ interDigitMs: 30, guardMs: 120 });
    assert.equal(k.busy, false);
    k.press('3');
    assert.equal(k.busy, true);
    await sleep(60); // the burst is delivered, the guard still holds
    assert.equal(k.busy, true);
    await sleep(100);
    assert.equal(k.busy, false);
  });

  it('cancels a collection when asked to, or when the call closes', async () => {
    const { k } = keypad();
    const ac = new AbortController();
    const first = k.collect({ firstDigitTimeoutMs: 5000, interDigitTimeoutMs: 5000 }, { signal: ac.signal });
    ac.abort();
    assert.deepEqual(await first, { digits: '', ended: 'cancelled' });
    const second = k.collect({ firstDigitTimeoutMs: 5000, interDigitTimeoutMs: 5000 });
    k.close();
    assert.deepEqual(await second, { digits: '', ended: 'cancelled' });
  });
});

describe('keypad vocabulary', () => {
  it('RFC 4733 event codes: digits as themselves, * 10, # 11, A–D 12–15', () => {
    assert.deepEqual([...DTMF_KEYS].map(dtmfCode), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    assert.throws(() => dtmfCode('w'));
  });

  it('tones to send: keys and w pauses; anything else is refused with the culprit named', () => {
    assert.deepEqual(parseDtmfSequence('w12 34#'), { keys: ['w', '1', '2', '3', '4', '#'] });
    assert.deepEqual(parseDtmfSequence('1-800'), { keys: ['1', '8', '0', '0'] });
    assert.match((parseDtmfSequence('12x') as { error: string }).error, /"x" is not a keypad key/);
    assert.ok('error' in parseDtmfSequence(''));
  });
});

describe("the worker's keypad on a real room", () => {
  function fakeRoom() {
    const published: [number, string][] = [];
    const room = Object.assign(new EventEmitter(), {
      localParticipant: { publishDtmf: async (code: number, digit: string) => void published.push([code, digit]) },
    });
    return { room, published };
  }

  it("only the caller's DtmfReceived keys reach the call; tones go out through publishDtmf", async () => {
    const { room, published } = fakeRoom();
    const io = phoneControls({ room } as never, loadConfig({}), {} as never, 'room-1', 'sip_+15550001111', new AbortController().signal);
    const got: string[] = [];
    io.onDtmf!((key) => got.push(key));
    room.emit(RoomEvent.DtmfReceived, 1, '1', { identity: 'sip_+15550001111' });
    room.emit(RoomEvent.DtmfReceived, 11, '', { identity: 'sip_+15550001111' }); // digit missing: from the code
    room.emit(RoomEvent.DtmfReceived, 5, '5', { identity: 'human-agent-sip' }); // someone else's keys
    assert.deepEqual(got, ['1', '#']);
    await io.publishDtmf!(10, '*');
    assert.deepEqual(published, [[10, '*']]);
  });

  it('transfers the caller with SipClient.transferSipParticipant, ringback on, with the ringing timeout', async () => {
    const calls: unknown[][] = [];
    const sip = { transferSipParticipant: async (...args: unknown[]) => void calls.push(args) };
    const io = phoneControls({ room: fakeRoom().room } as never, loadConfig({}), sip as never, 'room-1', 'sip_+15550001111', new AbortController().signal);
    await io.transfer!('tel:+15557770001', { ringSeconds: 20 });
    assert.deepEqual(calls, [['room-1', 'sip_+15550001111', 'tel:+15557770001', { playDialtone: true, ringingTimeout: 20 }]]);
    // Warm transfers need the outbound trunk and TRANSFER_MODE=warm; by default there are none.
    assert.equal(io.warmTransfer, undefined);
    const warm = phoneControls({ room: fakeRoom().room } as never, loadConfig({ TRANSFER_MODE: 'warm', SIP_OUTBOUND_TRUNK_ID: 'ST_1' }), sip as never, 'r', 'i', new AbortController().signal);
    assert.equal(typeof warm.warmTransfer, 'function');
  });
});

describe('keypad on a simulated call', () => {
  const DIR = join(import.meta.dirname, '..', '..', 'scenarios');
  let sandbox: Sandbox;
  let store: Store;
  let vad: VAD;
  const reports: Record<string, SimulationReport> = {};

  before(async () => {
    sandbox = await Sandbox.start({ msPerChar: 40 });
    store = await openStore(':memory:');
    vad = await loadVad();
    const config = loadConfig(sandbox.env());
    await Promise.all(
      // (dtmf-menu.yaml, keys as the agent's input, runs with the other scenarios.)
      ['dtmf-code.yaml'].map(async (f) => {
        reports[f] = await simulateCall(loadScenario(join(DIR, f)), { sandbox, config, store, vad }, { speed: 4 });
      }),
    );
  }, { timeout: 60_000 });

  after(async () => {
    await sandbox?.close();
    await store?.close();
    await dispose();
  });

  it('tones leaking into the audio do reach the STT as words, and the call neither answers nor records them', () => {
    const r = reports['dtmf-code.yaml']!;
    assert.deepEqual(r.checks.filter((c) => !c.ok), []);
    const key = `sandbox-${r.callId}`;
    // The STT did hear the tones: it opened a segment while the keys were pressed and started
    // transcribing it as words (so this call tests the guard, rather than a line that stays silent).
    const heard = sandbox.deepgram.segmentsFor(key).filter((s) => s.transcript === 'one two');
    assert.equal(heard.length, 1, JSON.stringify(sandbox.deepgram.segmentsFor(key).map((s) => s.transcript)));
    // Nothing the caller "said" besides their line and the keys, and the model never saw the words.
    const callerLines = (r.record.transcript ?? []).filter((l) => l.role === 'caller').map((l) => l.text);
    assert.deepEqual(callerLines, ["Hi, I'm Flo and I want to check my booking.", '[keypad] 4821#']);
    const asked = sandbox.openai.requestsFor(key).filter((q) => !q.tools.some((t) => t.function?.name === 'save_prediction'));
    assert.ok(asked.every((q) => !JSON.stringify(q.messages).includes('one two')), 'the model was shown the leaked words');
    const tool = r.record.toolCalls?.find((t) => t.name === 'collect_digits');
    assert.equal(JSON.parse(tool?.output ?? 'null'), 'The caller keyed in 4821.');
  });
});
