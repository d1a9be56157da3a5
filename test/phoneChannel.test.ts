import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeALaw, decodeMuLaw, encodeALaw, encodeMuLaw } from '../src/telephony/g711.js';
import { PhoneChannel } from '../src/telephony/phoneChannel.js';
import { StreamResampler } from '../src/telephony/resampler.js';

function tone(freq: number, rate: number, samples: number, amplitude = 10000): Int16Array {
  const x = new Int16Array(samples);
  for (let i = 0; i < samples; i++) x[i] = Math.round(amplitude * Math.sin((2 * Math.PI * freq * i) / rate));
  return x;
}

function rms(x: Int16Array, from = 0): number {
  let sum = 0;
  for (let i = from; i < x.length; i++) sum += x[i]! * x[i]!;
  return Math.sqrt(sum / (x.length - from));
}

const dB = (ratio: number): number => 20 * Math.log10(ratio);

function run(channel: PhoneChannel, signal: Int16Array): Int16Array {
  const frame = channel.rate / 50;
  const out = new Int16Array(signal.length);
  for (let at = 0; at < signal.length; at += frame) {
    const heard = channel.process(signal.subarray(at, at + frame));
    assert.equal(heard.length, frame);
    out.set(heard, at);
  }
  return out;
}

const RATES = [48000, 24000, 16000, 8000] as const;

test('a 1 kHz tone crosses the line within 1 dB, for both codecs at every rate', () => {
  for (const codec of ['pcmu', 'pcma'] as const) {
    for (const rate of RATES) {
      const input = tone(1000, rate, rate);
      const out = run(new PhoneChannel({ rate, codec }), input);
      const gain = dB(rms(out, rate / 10) / rms(input, rate / 10));
      assert.ok(Math.abs(gain) <= 1, `${codec} @ ${rate} Hz: 1 kHz gain ${gain.toFixed(2)} dB`);
    }
  }
});

test('a 5 kHz tone does not reach the other end', () => {
  for (const rate of [48000, 24000, 16000] as const) {
    const input = tone(5000, rate, rate, 20000);
    const out = run(new PhoneChannel({ rate }), input);
    const gain = dB(rms(out, rate / 10) / rms(input));
    assert.ok(gain <= -70, `${rate} Hz: 5 kHz only ${gain.toFixed(1)} dB down`);
  }
});

test('sample counts are exact: a minute of 20 ms frames gives a minute back, frame by frame', () => {
  const channel = new PhoneChannel({ rate: 48000 });
  const frame = tone(440, 48000, 960);
  const out = new Int16Array(960);
  let total = 0;
  for (let f = 0; f < 3000; f++) {
    total += channel.process(frame, out).length;
    assert.equal(channel.lastFrameBytes().length, 160);
  }
  assert.equal(total, 48000 * 60);
  assert.equal(channel.process(new Int16Array(480)).length, 480, '10 ms frames work too');
});

test('the line bytes are the G.711 encoding of the 8 kHz signal', () => {
  for (const codec of ['pcmu', 'pcma'] as const) {
    const encode = codec === 'pcmu' ? encodeMuLaw : encodeALaw;
    const channel = new PhoneChannel({ rate: 48000, codec });
    const narrow = new StreamResampler(48000, 8000);
    const signal = tone(700, 48000, 48000, 12000);
    for (let at = 0; at < signal.length; at += 960) {
      const frame = signal.subarray(at, at + 960);
      channel.process(frame);
      assert.deepEqual(channel.lastFrameBytes(), encode(narrow.process(frame)), `${codec} frame at ${at}`);
    }
  }
});

test('at 8 kHz the channel is exactly the codec round trip', () => {
  const signal = tone(1234, 8000, 160, 20000);
  assert.deepEqual(new PhoneChannel({ rate: 8000 }).process(signal), decodeMuLaw(encodeMuLaw(signal)));
  assert.deepEqual(new PhoneChannel({ rate: 8000, codec: 'pcma' }).process(signal), decodeALaw(encodeALaw(signal)));
});

test('the line delay is the two resamplers, 8 ms at room rates', () => {
  assert.equal(new PhoneChannel({ rate: 48000 }).delayMs, 8);
  assert.equal(new PhoneChannel({ rate: 8000 }).delayMs, 0);
});

test('bad configuration and frame sizes are rejected naming the value', () => {
  assert.throws(() => new PhoneChannel({ rate: 44100 as 48000 }), /unsupported rate 44100 Hz/);
  assert.throws(() => new PhoneChannel({ rate: 48000, codec: 'g722' as 'pcmu' }), /unsupported codec g722/);
  assert.throws(() => new PhoneChannel({ rate: 48000 }).process(new Int16Array(1000)), /frame of 1000 samples at 48000 Hz/);
  assert.throws(() => new PhoneChannel({ rate: 8000 }).process(new Int16Array(100)), /frame of 100 samples at 8000 Hz/);
});
