import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeALaw, encodeMuLaw } from '../src/telephony/g711.js';
import { g711WavHeader, pcm16Wav, readWav } from '../src/telephony/wav.js';

const samples = Int16Array.of(0, 1000, -1000, 32767, -32768, 12345);

/** Minimal WAV with a hand-written fmt chunk, for formats the writers do not produce. */
function wavWith(format: number, channels: number, rate: number, bits: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(44 + data.length + (data.length & 1));
  const v = new DataView(out.buffer);
  out.set(new TextEncoder().encode('RIFF'), 0);
  v.setUint32(4, out.length - 8, true);
  out.set(new TextEncoder().encode('WAVEfmt '), 8);
  v.setUint32(16, 16, true);
  v.setUint16(20, format, true);
  v.setUint16(22, channels, true);
  v.setUint32(24, rate, true);
  v.setUint32(28, (rate * channels * bits) / 8, true);
  v.setUint16(32, (channels * bits) / 8, true);
  v.setUint16(34, bits, true);
  out.set(new TextEncoder().encode('data'), 36);
  v.setUint32(40, data.length, true);
  out.set(data, 44);
  return out;
}

test('reads 16-bit PCM, mono and stereo', () => {
  const mono = readWav(pcm16Wav(samples, 16000));
  assert.equal(mono.encoding, 'pcm16');
  assert.equal(mono.sampleRate, 16000);
  assert.equal(mono.channelCount, 1);
  assert.deepEqual(mono.channels[0], samples);
  const stereo = readWav(pcm16Wav(samples, 48000, 2));
  assert.equal(stereo.frameCount, 3);
  assert.deepEqual(stereo.channels[0], Int16Array.of(0, -1000, -32768));
  assert.deepEqual(stereo.channels[1], Int16Array.of(1000, 32767, 12345));
  assert.equal(stereo.durationMs, 3000 / 48000);
});

test('reads µ-law and A-law, keeping the stored codes and decoding them', () => {
  const mu = encodeMuLaw(samples);
  const header = g711WavHeader({ encoding: 'mulaw', sampleRate: 8000, channels: 1, frames: mu.length });
  const wav = readWav(Uint8Array.from([...header, ...mu]));
  assert.equal(wav.encoding, 'mulaw');
  assert.deepEqual(wav.data, mu);
  assert.equal(wav.channels[0]![1], 988, 'decoded through G.711 (1000 -> 988)');
  const a = encodeALaw(samples);
  const alaw = readWav(wavWith(6, 1, 8000, 8, a));
  assert.equal(alaw.encoding, 'alaw');
  assert.deepEqual(alaw.data, a);
});

test('an unfinalized streaming recording (size 0xFFFFFFFF) reads to end of file', () => {
  const mu = encodeMuLaw(samples);
  const header = g711WavHeader({ encoding: 'mulaw', sampleRate: 8000, channels: 2, frames: null });
  assert.equal(readWav(Uint8Array.from([...header, ...mu])).frameCount, 3);
});

test('rejects odd byte counts in 16-bit data', () => {
  assert.throws(
    () => readWav(wavWith(1, 1, 8000, 16, new Uint8Array(7))),
    /readWav: 16-bit PCM data has an odd byte count \(7\)/,
  );
});

test('rejects formats other than 16-bit PCM, µ-law and A-law, naming what it found', () => {
  assert.throws(
    () => readWav(wavWith(3, 1, 16000, 32, new Uint8Array(8))),
    /unsupported WAV format: format tag 3 \(IEEE float\) with 32 bits per sample; accepted: 16-bit PCM \(tag 1\), 8-bit µ-law \(tag 7\), 8-bit A-law \(tag 6\)/,
  );
  assert.throws(() => readWav(wavWith(1, 1, 8000, 8, new Uint8Array(8))), /format tag 1 \(PCM\) with 8 bits per sample/);
  assert.throws(() => readWav(wavWith(1, 1, 8000, 24, new Uint8Array(6))), /format tag 1 \(PCM\) with 24 bits per sample/);
});

test('rejects unsupported sample rates, naming the value and what is accepted', () => {
  assert.throws(
    () => readWav(pcm16Wav(samples, 44100)),
    /readWav: unsupported sample rate 44100 Hz; accepted: 8000, 16000, 24000, 48000 Hz/,
  );
});

test('rejects files that are not WAV or are cut short', () => {
  assert.throws(() => readWav(new TextEncoder().encode('ID3 not a wave file')), /not a RIFF\/WAVE file/);
  const full = pcm16Wav(samples, 8000);
  assert.throws(() => readWav(full.subarray(0, full.length - 4)), /'data' chunk declares 12 bytes but only 8 remain/);
  assert.throws(
    () => readWav(wavWith(1, 2, 8000, 16, new Uint8Array(6))),
    /data chunk of 6 bytes is not a whole number of 2-channel frames \(4 bytes each\)/,
  );
});
