import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { StreamResampler } from '../src/telephony/resampler.js';

// Signals are generated analytically at every rate, so "what the output
// should be" is the same formula sampled at the output rate.
function tone(freq: number, rate: number, samples: number, amplitude = 10000, phase = 0): Int16Array {
  const x = new Int16Array(samples);
  for (let i = 0; i < samples; i++) x[i] = Math.round(amplitude * Math.sin((2 * Math.PI * freq * i) / rate + phase));
  return x;
}

function rms(x: Int16Array | Float64Array, from = 0, to = x.length): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += x[i]! * x[i]!;
  return Math.sqrt(sum / (to - from));
}

const dB = (ratio: number): number => 20 * Math.log10(ratio);

/** Stream `signal` through `rs` in 20 ms frames and concatenate the output. */
function stream(rs: StreamResampler, signal: Int16Array): Int16Array {
  const inFrame = rs.inputRate / 50;
  const outFrame = rs.outputRate / 50;
  const out = new Int16Array((signal.length / inFrame) * outFrame);
  for (let f = 0; f * inFrame < signal.length; f++) {
    out.set(rs.process(signal.subarray(f * inFrame, (f + 1) * inFrame)), f * outFrame);
  }
  return out;
}

const WIDE_RATES = [16000, 24000, 48000] as const;
const PAIRS = WIDE_RATES.flatMap((r) => [
  [r, 8000],
  [8000, r],
] as const);

test('passband is flat within 1 dB from 300 Hz to 3.4 kHz, both directions', () => {
  for (const [from, to] of PAIRS) {
    for (const freq of [300, 1000, 2000, 3000, 3400]) {
      const rs = new StreamResampler(from, to);
      const out = stream(rs, tone(freq, from, from)); // 1 s
      const settle = to / 10; // skip the first 100 ms (filter lead-in)
      const gain = dB(rms(out, settle) / rms(tone(freq, to, to), settle));
      assert.ok(Math.abs(gain) <= 1, `${from} -> ${to} Hz at ${freq} Hz: gain ${gain.toFixed(3)} dB`);
    }
  }
});

test('a 6 kHz tone is attenuated by at least 80 dB going to 8 kHz', () => {
  for (const from of WIDE_RATES) {
    const input = tone(6000, from, from, 30000);
    const out = stream(new StreamResampler(from, 8000), input);
    // Int16 output: an all-zero result means below half an LSB, i.e. > 92 dB down.
    const attenuation = dB(rms(out, 800) / rms(input));
    assert.ok(attenuation <= -80, `${from} -> 8000 Hz: 6 kHz only ${attenuation.toFixed(1)} dB down`);
  }
});

/** Lag (in output samples) that best aligns `out` with `ideal`, searched over 0..maxLag. */
function bestLag(out: Int16Array, ideal: Int16Array, maxLag: number, from: number): number {
  let best = -1;
  let bestScore = -Infinity;
  for (let lag = 0; lag <= maxLag; lag++) {
    let score = 0;
    for (let i = from; i < ideal.length - maxLag; i++) score += out[i + lag]! * ideal[i]!;
    if (score > bestScore) {
      bestScore = score;
      best = lag;
    }
  }
  return best;
}

function speechBand(rate: number, samples: number): Int16Array {
  // A few incommensurate in-band tones: a broadband, non-periodic test signal
  // that is identical at every sample rate.
  const parts = [
    [310, 0.3],
    [770, 1.1],
    [1330, 2.0],
    [2210, 0.7],
    [2970, 2.9],
  ] as const;
  const x = new Int16Array(samples);
  for (let i = 0; i < samples; i++) {
    let v = 0;
    for (const [f, p] of parts) v += Math.sin((2 * Math.PI * f * i) / rate + p);
    x[i] = Math.round(v * 4000);
  }
  return x;
}

test('algorithmic delay is at most 5 ms, measured by cross-correlation and by an impulse', () => {
  for (const [from, to] of PAIRS) {
    const rs = new StreamResampler(from, to);
    const out = stream(rs, speechBand(from, from / 2));
    const lag = bestLag(out, speechBand(to, to / 2), to / 100, to / 20);
    const delayMs = (lag * 1000) / to;
    assert.ok(delayMs <= 5, `${from} -> ${to} Hz: delay ${delayMs} ms`);
    assert.ok(Math.abs(delayMs - rs.delayMs) <= 1000 / to, `${from} -> ${to}: measured ${delayMs} ms, reported ${rs.delayMs} ms`);

    const impulse = new Int16Array(from / 10);
    impulse[from / 50] = 30000; // at 20 ms
    const response = stream(new StreamResampler(from, to), impulse);
    let peak = 0;
    for (let i = 1; i < response.length; i++) if (Math.abs(response[i]!) > Math.abs(response[peak]!)) peak = i;
    const impulseDelayMs = (peak * 1000) / to - 20;
    assert.ok(impulseDelayMs >= 0 && impulseDelayMs <= 5, `${from} -> ${to} Hz: impulse delay ${impulseDelayMs} ms`);
  }
});

test('an hour of 20 ms frames gives exactly one 20 ms frame per frame, no drift', () => {
  // The full hour at 48 kHz (the room rate, and the costliest filter); 16 and
  // 24 kHz get ten minutes to keep the suite quick. Drift or a burst would
  // show on the first frame whose size is off, however long the run.
  for (const [rate, frames] of [
    [48000, 180_000],
    [24000, 30_000],
    [16000, 30_000],
  ] as const) {
    // Chain down and up so one pass covers both directions.
    const down = new StreamResampler(rate, 8000);
    const up = new StreamResampler(8000, rate);
    const input = tone(440, rate, rate / 50, 8000);
    const narrow = new Int16Array(160);
    const wide = new Int16Array(rate / 50);
    let narrowTotal = 0;
    let wideTotal = 0;
    for (let f = 0; f < frames; f++) {
      const a = down.process(input, narrow);
      const b = up.process(a, wide);
      if (a.length !== 160 || b.length !== rate / 50) {
        assert.fail(`${rate} Hz frame ${f}: got ${a.length} / ${b.length} samples`);
      }
      narrowTotal += a.length;
      wideTotal += b.length;
    }
    assert.equal(narrowTotal, frames * 160);
    assert.equal(wideTotal, frames * (rate / 50));
  }
});

test('frames of any whole number of 10 ms work; others are rejected naming the size', () => {
  const rs = new StreamResampler(48000, 8000);
  assert.equal(rs.process(new Int16Array(480)).length, 80);
  assert.equal(rs.process(new Int16Array(2880)).length, 480);
  assert.throws(() => rs.process(new Int16Array(961)), /frame of 961 samples at 48000 Hz is not a whole number of 10 ms blocks \(480 samples each\)/);
  assert.throws(() => rs.process(new Int16Array(960), new Int16Array(100)), /output buffer holds 100 samples, frame needs 160/);
});

test('unsupported rates are rejected naming the value', () => {
  assert.throws(() => new StreamResampler(44100, 8000), /unsupported input rate 44100 Hz; supported: 8000, 16000, 24000, 48000 Hz/);
  assert.throws(() => new StreamResampler(8000, 22050), /unsupported output rate 22050 Hz/);
  assert.throws(() => new StreamResampler(16000, 48000), /16000 -> 48000 Hz is not a telephony conversion/);
});

test('8 kHz to 8 kHz is a copy; destroy frees the state and later use fails clearly', () => {
  const same = new StreamResampler(8000, 8000);
  const x = tone(1000, 8000, 160);
  assert.deepEqual(same.process(x), x);
  assert.equal(same.delayMs, 0);
  const rs = new StreamResampler(8000, 48000);
  rs.destroy();
  rs.destroy();
  assert.throws(() => rs.process(new Int16Array(160)), /used after destroy/);
});

test('using resamplers without destroy() does not keep the process alive', async () => {
  const module = fileURLToPath(new URL('../src/telephony/resampler.js', import.meta.url));
  const script =
    `const { StreamResampler } = await import(${JSON.stringify(module)});` +
    'for (let i = 0; i < 50; i++) new StreamResampler(48000, 8000).process(new Int16Array(960));' +
    'console.log("done");';
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 10_000 }, (error, out) =>
      error ? reject(error) : resolve(out),
    );
  });
  assert.equal(stdout.trim(), 'done');
});
