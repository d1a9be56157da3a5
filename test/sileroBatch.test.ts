/**
 * The batched Silero session (src/session/sileroBatch.ts) against the plugin's own: several calls'
 * VAD streams sharing one batched session hear exactly what each would hear alone, window for
 * window, and their windows really do run together.
 */
import { VADEventType, initializeLogger, type VAD } from '@livekit/agents';
import * as silero from '@livekit/agents-plugin-silero';
import { AudioFrame, dispose } from '@livekit/rtc-node';
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { SileroBatchSession } from '../src/session/sileroBatch.js';
import { loadVad } from '../src/session/sessionFactory.js';
import { splitFrames, synthesizeSpeech } from '../src/sandbox/speechSignal.js';

initializeLogger({ pretty: false, level: 'fatal' });

const OPTS = { sampleRate: 8000 as const, minSilenceDuration: 250, minSpeechDuration: 60, prefixPaddingDuration: 300, activationThreshold: 0.5 };

interface Heard {
  probabilities: number[];
  events: string[];
}

/** Feeds each caller's audio into its own stream of `vad`, all at once, 20 ms at a time. */
async function listen(vad: VAD, callers: Int16Array[]): Promise<Heard[]> {
  return Promise.all(
    callers.map(async (pcm) => {
      const stream = vad.stream();
      const heard: Heard = { probabilities: [], events: [] };
      // Every whole 32 ms window (256 samples at 8 kHz) of the caller's audio; the plugin answers
      // a window once some audio after it has come, so 200 ms more silence follows.
      const windows = Math.floor(pcm.length / 256);
      const fed = new Int16Array(pcm.length + 1600);
      fed.set(pcm);
      const reading = (async () => {
        for await (const ev of stream) {
          if (ev.type === VADEventType.INFERENCE_DONE) heard.probabilities.push(ev.probability);
          else heard.events.push(`${ev.type === VADEventType.START_OF_SPEECH ? 'start' : 'end'}@${ev.samplesIndex}`);
          if (heard.probabilities.length === windows) break;
        }
      })();
      for (const f of splitFrames(fed, 8000, 20)) {
        stream.pushFrame(new AudioFrame(f, 8000, 1, f.length));
        await new Promise((r) => setImmediate(r));
      }
      await reading;
      stream.close();
      return heard;
    }),
  );
}

describe('batched Silero session', { timeout: 60_000 }, () => {
  after(async () => dispose());

  const silence = new Int16Array(8000 * 0.6);
  const callers = ['Hi, when do you open up?', 'Do you take walk-ins too?', 'Great, thanks for that.', 'I would like to book an appointment for Tuesday.'].map(
    (text, i) => {
      const speech = synthesizeSpeech(text, { sampleRate: 8000 });
      const pcm = new Int16Array(silence.length * (i + 1) + speech.length + silence.length);
      pcm.set(speech, silence.length * (i + 1));
      return pcm;
    },
  );

  it('gives every stream the probabilities and speech events the plugin gives it alone', async () => {
    const alone: Heard[] = [];
    const plain = await silero.VAD.load(OPTS);
    for (const pcm of callers) alone.push(...(await listen(plain, [pcm])));

    const session = await SileroBatchSession.create();
    const batched = await listen(new silero.VAD(session as never, { ...OPTS, maxBufferedSpeech: 60_000, forceCPU: true }), callers);

    for (const [i, heard] of batched.entries()) {
      const ref = alone[i]!;
      assert.equal(heard.probabilities.length, ref.probabilities.length, `caller ${i}: windows`);
      const worst = Math.max(...heard.probabilities.map((p, k) => Math.abs(p - ref.probabilities[k]!)));
      assert.ok(worst < 1e-4, `caller ${i}: largest probability difference ${worst}`);
      assert.ok(ref.events.length >= 2, `caller ${i}: the plugin heard speech start and end`);
      assert.deepEqual(heard.events, ref.events, `caller ${i}: speech events`);
    }
    // Four streams fed together: their windows met in batches.
    assert.ok(session.stats.largestBatch >= 2, `largest batch ${session.stats.largestBatch}`);
    assert.ok(session.stats.runs < session.stats.windows, `${session.stats.runs} runs for ${session.stats.windows} windows`);
    await session.release();
  });

  it('is what the worker loads, with the options VAD.load would have merged in', async () => {
    const plain = await silero.VAD.load(OPTS);
    const ref = await listen(plain, callers.slice(0, 2));
    const heard = await listen(await loadVad(), callers.slice(0, 2));
    assert.deepEqual(
      heard.map((h) => h.events),
      ref.map((h) => h.events),
    );
  });

  it('names the feed that is wrong', async () => {
    const session = await SileroBatchSession.create();
    const { Tensor } = await import('onnxruntime-node');
    const sr = new Tensor('int64', BigInt64Array.of(8000n));
    assert.throws(() => session.run({ input: new Tensor('float32', new Float32Array(288), [288]), state: new Tensor('float32', new Float32Array(256), [2, 1, 128]), sr }), /input must be \[1, n\]/);
    assert.throws(() => session.run({ input: new Tensor('float32', new Float32Array(288), [1, 288]), state: new Tensor('float32', new Float32Array(128), [1, 1, 128]), sr }), /state must hold 256/);
    await session.release();
  });
});
