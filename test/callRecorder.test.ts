import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CallRecorder } from '../src/telephony/callRecorder.js';
import { encodeMuLaw, MULAW_SILENCE } from '../src/telephony/g711.js';
import { readWav } from '../src/telephony/wav.js';

async function tempPath(name: string): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'callrec-'));
  return { path: join(dir, name), cleanup: () => rm(dir, { recursive: true, force: true }) };
}

function tone(freq: number, rate: number, samples: number, amplitude = 8000): Int16Array {
  const x = new Int16Array(samples);
  for (let i = 0; i < samples; i++) x[i] = Math.round(amplitude * Math.sin((2 * Math.PI * freq * i) / rate));
  return x;
}

/** Left (caller) and right (agent) µ-law codes of a stereo recording. */
function split(data: Uint8Array): [Uint8Array, Uint8Array] {
  const left = new Uint8Array(data.length / 2);
  const right = new Uint8Array(data.length / 2);
  for (let i = 0; i < left.length; i++) {
    left[i] = data[2 * i]!;
    right[i] = data[2 * i + 1]!;
  }
  return [left, right];
}

/** True if every 10 ms window of `x` in [from, to) carries signal (RMS above ~-50 dBFS). */
function voicedThroughout(x: Int16Array, from: number, to: number): boolean {
  for (let w = from; w + 80 <= to; w += 80) {
    let sum = 0;
    for (let i = w; i < w + 80; i++) sum += x[i]! * x[i]!;
    if (Math.sqrt(sum / 80) < 100) return false;
  }
  return true;
}

function peakIndex(x: Int16Array): number {
  let peak = 0;
  for (let i = 1; i < x.length; i++) if (Math.abs(x[i]!) > Math.abs(x[peak]!)) peak = i;
  return peak;
}

test('header: µ-law (format 7), stereo, 8 kHz, 8 bits, 16000 B/s, block align 2, fact and data sizes match', async () => {
  const { path, cleanup } = await tempPath('header.wav');
  try {
    const rec = await CallRecorder.open(path);
    for (let f = 0; f < 100; f++) rec.writeCaller(tone(440, 48000, 960), 48000, f * 20);
    const result = await rec.close();
    const file = await readFile(path);
    const v = new DataView(file.buffer, file.byteOffset, file.byteLength);
    const str = (at: number) => file.subarray(at, at + 4).toString('latin1');
    assert.equal(str(0), 'RIFF');
    assert.equal(v.getUint32(4, true), file.length - 8);
    assert.equal(str(8), 'WAVE');
    assert.equal(str(12), 'fmt ');
    assert.equal(v.getUint32(16, true), 18);
    assert.equal(v.getUint16(20, true), 7, 'WAVE_FORMAT_MULAW');
    assert.equal(v.getUint16(22, true), 2, 'channels');
    assert.equal(v.getUint32(24, true), 8000, 'sample rate');
    assert.equal(v.getUint32(28, true), 16000, 'byte rate');
    assert.equal(v.getUint16(32, true), 2, 'block align');
    assert.equal(v.getUint16(34, true), 8, 'bits per sample');
    assert.equal(str(38), 'fact');
    assert.equal(v.getUint32(46, true), 16000, 'fact: samples per channel');
    assert.equal(str(50), 'data');
    assert.equal(v.getUint32(54, true), 32000, 'data bytes');
    assert.equal(file.length, 58 + 32000);
    assert.deepEqual(result, { path, durationMs: 2000, bytes: file.length });
    assert.equal((await stat(path)).size, result.bytes);
  } finally {
    await cleanup();
  }
});

test('one timeline: a caller click at 1.000 s and an agent click at 2.500 s land on their channels', async () => {
  const { path, cleanup } = await tempPath('align.wav');
  try {
    const rec = await CallRecorder.open(path);
    // Caller: 3 s of 48 kHz room audio in real-time 20 ms frames, click at 1.000 s.
    const caller = new Int16Array(48000 * 3);
    caller[48000] = 30000;
    // Agent: one second of 24 kHz TTS pushed in a burst of 100 ms chunks the
    // moment the reply starts (2.5 s), clicks at 0 and 300 ms into the reply.
    const agent = new Int16Array(24000);
    agent[0] = 30000;
    agent[7200] = -30000;
    for (let f = 0; f < 150; f++) {
      const atMs = f * 20;
      rec.writeCaller(caller.subarray(f * 960, (f + 1) * 960), 48000, atMs);
      if (atMs === 2500) for (let c = 0; c < 10; c++) rec.writeAgent(agent.subarray(c * 2400, (c + 1) * 2400), 24000, atMs);
    }
    const result = await rec.close();
    assert.equal(result.durationMs, 3500, 'the agent reply ends at 3.5 s');

    const wav = readWav(await readFile(path));
    const [left, right] = wav.channels as [Int16Array, Int16Array];
    const frame = 160; // ±1 frame (20 ms at 8 kHz)
    assert.ok(Math.abs(peakIndex(left) - 8000) <= frame, `caller click at sample ${peakIndex(left)}`);
    assert.ok(Math.abs(peakIndex(left) - 8000) <= 1, 'in fact within a sample: the resampler delay is compensated');
    const first = peakIndex(right.subarray(0, 21000));
    const second = 21000 + peakIndex(right.subarray(21000));
    assert.ok(Math.abs(first - 20000) <= frame, `agent click at sample ${first}`);
    assert.ok(Math.abs(second - 22400) <= frame, `second agent click at ${second}: burst chunks are contiguous`);
    assert.ok(right[second]! < 0 && right[first]! > 0, 'clicks keep their polarity');
    // Nothing leaks across channels; the idle side is µ-law silence.
    const [l, r] = split(wav.data);
    assert.ok(r.subarray(0, 19900).every((c) => c === MULAW_SILENCE), 'agent channel silent before the reply');
    assert.ok(l.subarray(24000).every((c) => c === MULAW_SILENCE), 'caller channel silent after the caller stops');
  } finally {
    await cleanup();
  }
});

test('truncateAgent drops agent audio scheduled after the barge-in', async () => {
  const { path, cleanup } = await tempPath('truncate.wav');
  try {
    const rec = await CallRecorder.open(path);
    const reply = tone(1000, 16000, 32000); // 2 s reply at 1.0 s, pushed all at once
    for (let f = 0; f < 150; f++) {
      const atMs = f * 20;
      rec.writeCallerMuLaw(new Uint8Array(160).fill(MULAW_SILENCE), atMs);
      if (atMs === 1000) rec.writeAgent(reply, 16000, atMs);
      if (atMs === 1500) rec.truncateAgent(1500); // the caller barged in
    }
    const result = await rec.close();
    assert.equal(result.durationMs, 3000);
    const wav = readWav(await readFile(path));
    const [, right] = split(wav.data);
    assert.ok(voicedThroughout(wav.channels[1]!, 8000, 12000), 'the reply is there until the barge-in');
    assert.ok(right.subarray(12000).every((c) => c === MULAW_SILENCE), 'and silence from 1.5 s on');
    assert.ok(right.subarray(0, 8000).every((c) => c === MULAW_SILENCE));
  } finally {
    await cleanup();
  }
});

test('µ-law bytes are stored as given; data size matches the duration', async () => {
  const { path, cleanup } = await tempPath('bytes.wav');
  try {
    const rec = await CallRecorder.open(path);
    const codes = encodeMuLaw(tone(500, 8000, 160));
    rec.writeCallerMuLaw(codes, 0);
    rec.writeAgentMuLaw(codes, 5000); // the agent speaks after 5 s of nothing
    const result = await rec.close();
    const wav = readWav(await readFile(path));
    const [left, right] = split(wav.data);
    assert.deepEqual(left.subarray(0, 160), codes);
    assert.deepEqual(right.subarray(40000, 40160), codes);
    assert.equal(result.durationMs, 5020);
    assert.equal(wav.frameCount, 5020 * 8);
    assert.equal(wav.data.length, result.durationMs * 16);
    assert.equal(result.bytes, 58 + wav.data.length);
  } finally {
    await cleanup();
  }
});

test('a two-hour call keeps a bounded buffer in memory', async () => {
  const { path, cleanup } = await tempPath('long.wav');
  try {
    const rec = await CallRecorder.open(path);
    const callerFrame = new Uint8Array(160).fill(0x70);
    const agentSecond = new Uint8Array(8000).fill(0x10);
    let maxBufferedMs = 0;
    const frames = 2 * 3600 * 50;
    for (let f = 0; f < frames; f++) {
      const atMs = f * 20;
      rec.writeCallerMuLaw(callerFrame, atMs);
      // Every 30 s the agent pushes an 8 s reply at once, faster than real time.
      if (f % 1500 === 0) for (let s = 0; s < 8; s++) rec.writeAgentMuLaw(agentSecond, atMs);
      maxBufferedMs = Math.max(maxBufferedMs, rec.bufferedMs);
      if (f % 500 === 0) await new Promise((resolve) => setImmediate(resolve)); // let disk writes run
    }
    // Bounded by the 3 s late window + an 8 s burst ahead + a 0.5 s flush batch.
    assert.ok(maxBufferedMs <= 11_600, `buffered up to ${maxBufferedMs} ms`);
    const result = await rec.close();
    assert.equal(result.durationMs, frames * 20);
    assert.equal((await stat(path)).size, 58 + frames * 320);
  } finally {
    await cleanup();
  }
});

test('with the caller side idle, agent-only audio is still flushed within maxBufferMs', async () => {
  const { path, cleanup } = await tempPath('agent-only.wav');
  try {
    const rec = await CallRecorder.open(path, { maxBufferMs: 10_000 });
    let maxBufferedMs = 0;
    for (let f = 0; f < 3000; f++) {
      rec.writeAgent(tone(300, 24000, 480), 24000, f * 20);
      maxBufferedMs = Math.max(maxBufferedMs, rec.bufferedMs);
    }
    assert.ok(maxBufferedMs <= 10_600, `buffered up to ${maxBufferedMs} ms`);
    const result = await rec.close();
    assert.equal(result.durationMs, 60_000);
    const wav = readWav(await readFile(path));
    const [left] = split(wav.data);
    assert.ok(left.every((c) => c === MULAW_SILENCE));
    assert.ok(voicedThroughout(wav.channels[1]!, 0, 480_000), 'no holes at flush or segment boundaries');
  } finally {
    await cleanup();
  }
});

test('misuse is rejected with clear errors', async () => {
  const { path, cleanup } = await tempPath('errors.wav');
  try {
    const rec = await CallRecorder.open(path);
    assert.throws(() => rec.writeCaller(new Int16Array(441), 44100, 0), /unsupported sample rate 44100 Hz; supported: 8000, 16000, 24000, 48000 Hz/);
    assert.throws(() => rec.writeAgent(new Int16Array(160), 8000, -1), /atMs must be a finite number >= 0, got -1/);
    assert.throws(() => rec.truncateAgent(Number.NaN), /atMs must be a finite number/);
    const first = rec.close();
    assert.equal(rec.close(), first, 'close() is idempotent');
    await first;
    assert.throws(() => rec.writeCallerMuLaw(new Uint8Array(160), 0), /already closed/);
  } finally {
    await cleanup();
  }
});
