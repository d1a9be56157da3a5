/**
 * The real @livekit/agents-plugin-deepgram streaming STT against the local
 * Deepgram emulator, fed 8 kHz synthetic speech that went through G.711.
 */
import { initializeLogger, stt } from '@livekit/agents';
import * as deepgram from '@livekit/agents-plugin-deepgram';
import { AudioFrame, dispose } from '@livekit/rtc-node';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DeepgramEmulator } from '../src/sandbox/deepgramEmulator.js';
import { RestartableSTT } from '../src/session/restartableStt.js';
import { concatPcm, g711uRoundTrip, silence, speechDurationMs, splitFrames, synthesizeSpeech } from '../src/sandbox/speechSignal.js';

initializeLogger({ pretty: false, level: 'fatal' });

const SR = 8000;
const { SpeechEventType } = stt;

/** Caller audio as the worker receives it from the PSTN: synthetic speech through µ-law. */
function callerSpeech(text: string): Int16Array {
  return g711uRoundTrip(synthesizeSpeech(text, { sampleRate: SR }));
}

function push(stream: stt.SpeechStream, pcm: Int16Array): void {
  for (const f of splitFrames(pcm, SR, 20)) stream.pushFrame(new AudioFrame(f, SR, 1, f.length));
}

async function pushRealtime(stream: stt.SpeechStream, pcm: Int16Array): Promise<void> {
  const start = performance.now();
  let sent = 0;
  for (const f of splitFrames(pcm, SR, 20)) {
    stream.pushFrame(new AudioFrame(f, SR, 1, f.length));
    sent += 20;
    const wait = start + sent - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}

class Collector {
  readonly events: stt.SpeechEvent[] = [];
  readonly done: Promise<void>;
  #waiters: { pred: (e: stt.SpeechEvent[]) => boolean; resolve: () => void }[] = [];

  constructor(stream: stt.SpeechStream) {
    this.done = (async () => {
      for await (const ev of stream) {
        this.events.push(ev);
        this.#waiters = this.#waiters.filter((w) => {
          if (w.pred(this.events)) {
            w.resolve();
            return false;
          }
          return true;
        });
      }
    })();
  }

  ofType(t: stt.SpeechEventType): stt.SpeechEvent[] {
    return this.events.filter((e) => e.type === t);
  }

  /** Names of the speech events (usage reports left out), in order. */
  get sequence(): string[] {
    return this.events.filter((e) => e.type !== SpeechEventType.RECOGNITION_USAGE).map((e) => SpeechEventType[e.type]!);
  }

  waitFor(pred: (e: stt.SpeechEvent[]) => boolean, timeoutMs = 5000): Promise<void> {
    if (pred(this.events)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out; got ${this.sequence.join(',')}`)), timeoutMs);
      this.#waiters.push({ pred, resolve: () => (clearTimeout(t), resolve()) });
    });
  }

  count(t: stt.SpeechEventType): (e: stt.SpeechEvent[]) => boolean {
    return (evs) => evs.filter((e) => e.type === t).length > 0;
  }
}

function finalTexts(c: Collector): string[] {
  return c.ofType(SpeechEventType.FINAL_TRANSCRIPT).map((e) => e.alternatives![0].text);
}

describe('Deepgram emulator + real deepgram.STT plugin', { timeout: 60_000 }, () => {
  const emu = new DeepgramEmulator();
  const stts: stt.STT[] = [];
  const streams: stt.SpeechStream[] = [];
  const open = (apiKey: string, opts: Partial<deepgram.STTOptions> = {}) => {
    const s = new deepgram.STT({ baseUrl: emu.url, apiKey, sampleRate: SR, ...opts });
    stts.push(s);
    const stream = s.stream();
    streams.push(stream);
    return { stream, events: new Collector(stream) };
  };

  before(async () => {
    await emu.start();
  });
  after(async () => {
    for (const s of streams) s.close();
    for (const s of stts) await s.close();
    await emu.close();
    await dispose();
  });

  it('turns a µ-law-degraded utterance into START_OF_SPEECH, FINAL_TRANSCRIPT (queued text), END_OF_SPEECH', async () => {
    emu.expect('sandbox-basic', 'I would like to reschedule my appointment.');
    const { stream, events } = open('sandbox-basic');
    push(stream, concatPcm(silence(400, SR), callerSpeech('I would like to reschedule my appointment please'), silence(1200, SR)));
    await events.waitFor(events.count(SpeechEventType.END_OF_SPEECH));

    assert.deepEqual(finalTexts(events), ['I would like to reschedule my appointment.']);
    const seq = events.sequence.filter((s) => s !== 'INTERIM_TRANSCRIPT');
    assert.deepEqual(seq, ['START_OF_SPEECH', 'FINAL_TRANSCRIPT', 'END_OF_SPEECH']);
    const fin = events.ofType(SpeechEventType.FINAL_TRANSCRIPT)[0]!.alternatives![0];
    assert.equal(fin.words?.length, 7);
    assert.ok(fin.confidence > 0.9);

    const [conn] = emu.connectionsFor('sandbox-basic');
    assert.ok(conn);
    assert.equal(conn.sampleRate, 8000);
    assert.equal(conn.encoding, 'linear16');
    assert.equal(conn.params.model, 'nova-3');
    assert.equal(conn.vadEvents, true);
    assert.equal(conn.interimResults, true);
    assert.equal(conn.endpointingMs, 100, "the plugin's 25 ms endpointing is clamped to minEndpointingMs");
    assert.ok(conn.keyHash && !JSON.stringify(emu.connections).includes('sandbox-basic'));
    const [seg] = conn.segments;
    assert.ok(seg);
    assert.equal(seg.scripted, true);
    assert.equal(seg.endReason, 'endpointing');
    // speech boundaries are found in audio time, within a couple of windows
    assert.ok(Math.abs(seg.startSec - 0.4) < 0.05, `start ${seg.startSec}`);
    const speechSec = speechDurationMs('I would like to reschedule my appointment please') / 1000;
    assert.ok(Math.abs(seg.endSec - (0.4 + speechSec)) < 0.08, `end ${seg.endSec}`);
    assert.ok(seg.finalSentAt! >= seg.endDetectedAt);
  });

  it('emits one final per utterance, consuming the queue in order', async () => {
    emu.expect('sandbox-two', 'Yes, that works.', 'And my number is five five five.');
    const { stream, events } = open('sandbox-two');
    push(
      stream,
      concatPcm(callerSpeech('Yes that works'), silence(700, SR), callerSpeech('And my number is five five five'), silence(1200, SR)),
    );
    await events.waitFor((evs) => evs.filter((e) => e.type === SpeechEventType.END_OF_SPEECH).length === 2);
    assert.deepEqual(finalTexts(events), ['Yes, that works.', 'And my number is five five five.']);
    assert.equal(emu.channel('sandbox-two').length, 0);
    assert.equal(emu.segmentsFor('sandbox-two').length, 2);
  });

  it('stays quiet on a silent stream (no spurious segments)', async () => {
    emu.expect('sandbox-silent', 'this must not be used');
    const { stream, events } = open('sandbox-silent');
    // digital silence plus a faint µ-law noise floor (~-60 dBFS)
    const noise = new Int16Array(SR * 3);
    let x = 12345;
    for (let i = 0; i < noise.length; i++) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      noise[i] = ((x >> 16) % 60) - 30;
    }
    push(stream, concatPcm(silence(500, SR), g711uRoundTrip(noise)));
    await new Promise((r) => setTimeout(r, 800));
    assert.deepEqual(events.sequence, []);
    assert.equal(emu.segmentsFor('sandbox-silent').length, 0);
    assert.deepEqual(emu.channel('sandbox-silent').pending, ['this must not be used']);
    assert.ok(emu.connectionsFor('sandbox-silent')[0]!.audioSec > 0.5, 'audio did reach the emulator');
  });

  it('with nothing queued, still ends the turn but sends an empty transcript', async () => {
    const { stream, events } = open('sandbox-unscripted');
    emu.channel('sandbox-unscripted'); // own (empty) queue, so the default queue is not used
    push(stream, concatPcm(callerSpeech('Hello is anybody there'), silence(1000, SR)));
    await events.waitFor(events.count(SpeechEventType.END_OF_SPEECH));
    assert.deepEqual(events.sequence, ['START_OF_SPEECH', 'END_OF_SPEECH']);
    const [seg] = emu.segmentsFor('sandbox-unscripted');
    assert.equal(seg!.scripted, false);
    assert.equal(seg!.transcript, '');
  });

  it('sends growing interim transcripts during long speech', async () => {
    emu.expect('sandbox-interim', 'I am calling about the invoice I received last week for the repair.');
    const { stream, events } = open('sandbox-interim');
    push(stream, concatPcm(callerSpeech('I am calling about the invoice I received last week for the repair'), silence(1000, SR)));
    await events.waitFor(events.count(SpeechEventType.END_OF_SPEECH));
    const interims = events.ofType(SpeechEventType.INTERIM_TRANSCRIPT).map((e) => e.alternatives![0].text);
    assert.ok(interims.length >= 3, `interims: ${interims.length}`);
    for (let i = 1; i < interims.length; i++) assert.ok(interims[i]!.length >= interims[i - 1]!.length);
    assert.ok('I am calling about the invoice I received last week for the repair.'.startsWith(interims.at(-1)!));
    assert.equal(finalTexts(events)[0], 'I am calling about the invoice I received last week for the repair.');
  });

  it('routes transcripts by API key across concurrent streams; unknown keys use the default queue', async () => {
    const keys = ['sandbox-c1', 'sandbox-c2', 'sandbox-c3'];
    keys.forEach((k, i) => emu.expect(k, `caller ${i + 1} speaking`));
    emu.expect('default', 'from the default queue');
    const opened = [...keys, 'sandbox-nobody'].map((k) => ({ k, ...open(k) }));
    for (const o of opened) push(o.stream, concatPcm(callerSpeech('Hi there this is me'), silence(1000, SR)));
    await Promise.all(opened.map((o) => o.events.waitFor(o.events.count(SpeechEventType.END_OF_SPEECH))));
    assert.deepEqual(
      opened.map((o) => finalTexts(o.events)),
      [['caller 1 speaking'], ['caller 2 speaking'], ['caller 3 speaking'], ['from the default queue']],
    );
  });

  it('accounts latency: endpointing silence in real time, then finalDelayMs', async () => {
    emu.setBehaviour('sandbox-latency', { finalDelayMs: 150 });
    emu.expect('sandbox-latency', 'Yes please.');
    const { stream, events } = open('sandbox-latency', { endpointing: 300 });
    await pushRealtime(stream, concatPcm(silence(200, SR), callerSpeech('Yes please'), silence(700, SR)));
    await events.waitFor(events.count(SpeechEventType.END_OF_SPEECH));
    const [seg] = emu.segmentsFor('sandbox-latency');
    assert.ok(seg);
    assert.equal(emu.connectionsFor('sandbox-latency')[0]!.endpointingMs, 300);
    const endpointWait = seg.endDetectedAt - seg.lastSpeechAt;
    assert.ok(endpointWait >= 250 && endpointWait < 700, `endpoint after ${endpointWait} ms of silence`);
    const finalWait = seg.finalSentAt! - seg.endDetectedAt;
    assert.ok(finalWait >= 140 && finalWait < 400, `final after ${finalWait} ms`);
  });

  /** Wait until the emulator has received `sec` seconds of audio on the key's connection. */
  async function audioReceived(key: string, sec: number): Promise<void> {
    for (let i = 0; i < 500; i++) {
      const c = emu.connectionsFor(key)[0];
      if (c && c.audioSec >= sec) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`emulator never received ${sec}s of audio for ${key}`);
  }

  it('dropConnections closes the socket (1011): the plugin alone goes deaf; RestartableSTT.restart() replays the line it missed', async () => {
    emu.expect('sandbox-drop', 'First part.', 'Second part.');
    const restartable = new RestartableSTT(new deepgram.STT({ baseUrl: emu.url, apiKey: 'sandbox-drop', sampleRate: SR }));
    stts.push(restartable);
    const stream = restartable.stream();
    streams.push(stream);
    const events = new Collector(stream);
    const failures: Error[] = [];
    restartable.onStreamFailure((e) => failures.push(e));

    push(stream, concatPcm(callerSpeech('First part'), silence(600, SR)));
    await events.waitFor(events.count(SpeechEventType.END_OF_SPEECH));
    assert.equal(emu.dropConnections('sandbox-drop'), 1);
    push(stream, concatPcm(callerSpeech('Second part'), silence(600, SR)));
    await new Promise((r) => setTimeout(r, 1500));
    // The plugin passes its socket monitor Task (not Task.result) to Promise.all, so a server-side
    // close is only logged: no error, no end of stream, no reconnect. If this starts failing after
    // a plugin upgrade, the bug is fixed: update restartableStt.ts and the sandbox README.
    assert.equal(emu.connectionsFor('sandbox-drop')[0]!.closeCode, 1011);
    assert.equal(emu.connectionsFor('sandbox-drop').length, 1, 'the plugin does not reconnect');
    assert.deepEqual(finalTexts(events), ['First part.']);
    assert.deepEqual(failures, [], 'nothing reports the dead stream');

    // What the lifecycle does when the caller's line gets no transcript: a new provider stream,
    // fed the audio since the last final, so the line is heard after all (and only once).
    assert.equal(restartable.restart('test'), 1);
    await events.waitFor((evs) => evs.filter((e) => e.type === SpeechEventType.FINAL_TRANSCRIPT).length === 2);
    assert.deepEqual(finalTexts(events), ['First part.', 'Second part.']);
    const conns = emu.connectionsFor('sandbox-drop');
    assert.equal(conns.length, 2, 'one new connection');
    assert.equal(conns[1]!.segments.length, 1, 'the replay starts after the first line');
    // Timestamps stay on the stream's timeline: the second line comes after the first.
    const [first, second] = events.ofType(SpeechEventType.FINAL_TRANSCRIPT).map((e) => e.alternatives![0]);
    assert.ok(second!.startTime > first!.endTime, `${second!.startTime} > ${first!.endTime}`);

    // And it keeps listening on the new connection.
    emu.expect('sandbox-drop', 'Third part.');
    push(stream, concatPcm(callerSpeech('Third part'), silence(600, SR)));
    await events.waitFor((evs) => evs.filter((e) => e.type === SpeechEventType.FINAL_TRANSCRIPT).length === 3);
    assert.deepEqual(finalTexts(events), ['First part.', 'Second part.', 'Third part.']);
  });

  it('RestartableSTT reports a provider stream that gave up (connection refused after its retries)', async () => {
    emu.setBehaviour('sandbox-refused', { rejectStatus: 503 });
    const restartable = new RestartableSTT(new deepgram.STT({ baseUrl: emu.url, apiKey: 'sandbox-refused', sampleRate: SR }));
    stts.push(restartable);
    const failed = new Promise<Error>((resolve) => restartable.onStreamFailure(resolve));
    const stream = restartable.stream({ connOptions: { maxRetry: 1, retryIntervalMs: 50, timeoutMs: 2000 } });
    streams.push(stream);
    push(stream, silence(200, SR));
    const err = await failed;
    assert.match(err.message, /rejected with status 503/);
    assert.equal(emu.connectionsFor('sandbox-refused').length, 0, 'never connected');
  });

  it('answers Finalize (stream.flush) by finalising the open segment at once', async () => {
    emu.expect('sandbox-flush', 'Hold on a second.');
    const { stream, events } = open('sandbox-flush');
    const speech = callerSpeech('Hold on a second');
    push(stream, speech);
    await audioReceived('sandbox-flush', speech.length / SR - 0.1);
    stream.flush();
    await events.waitFor(events.count(SpeechEventType.END_OF_SPEECH));
    assert.deepEqual(finalTexts(events), ['Hold on a second.']);
    const [conn] = emu.connectionsFor('sandbox-flush');
    assert.equal(conn!.finalizes, 1);
    assert.equal(conn!.segments[0]!.endReason, 'finalize');
  });

  it('flushes, answers CloseStream with Metadata and closes cleanly when input ends', async () => {
    emu.expect('sandbox-close', 'Goodbye.');
    const { stream, events } = open('sandbox-close');
    const speech = callerSpeech('Goodbye then');
    push(stream, speech); // no trailing silence: the end of input ends the segment
    // (the plugin never connects if endInput() comes before its socket is up)
    await audioReceived('sandbox-close', speech.length / SR - 0.1);
    stream.endInput();
    await events.done;
    assert.deepEqual(finalTexts(events), ['Goodbye.']);
    const [conn] = emu.connectionsFor('sandbox-close');
    assert.ok(conn!.closeStreamAt);
    assert.equal(conn!.segments[0]!.endReason, 'close-stream');
    for (let i = 0; i < 50 && conn!.closedAt === undefined; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(conn!.closeCode, 1000);
  });
});
