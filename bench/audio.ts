// Telephony audio benchmark: our G.711 µ-law codec against the alawmulaw
// package in the same run (so machine noise hits both alike), and the cost of
// one 20 ms frame through a 48 kHz PhoneChannel.
//
//   npm run bench            readable table
//   npm run bench -- --json  last stdout line is one JSON object
//
// Numbers are medians of repeated timed runs after a warm-up, so JIT tiering
// and GC pauses do not decide the result. Benchmarks are not tests: nothing
// here asserts a timing.

import alawmulaw from 'alawmulaw';
import { decodeMuLaw, encodeMuLaw } from '../src/telephony/g711.js';
import { PhoneChannel } from '../src/telephony/phoneChannel.js';

const json = process.argv.includes('--json');

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Speech-like test signal: a few formant-ish tones under a syllable envelope, plus noise. */
function speechLike(samples: number, rate: number): Int16Array {
  const x = new Int16Array(samples);
  let seed = 12345;
  for (let i = 0; i < samples; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const t = i / rate;
    const envelope = 0.5 + 0.5 * Math.sin(2 * Math.PI * 4 * t);
    const voiced = Math.sin(2 * Math.PI * 180 * t) + 0.5 * Math.sin(2 * Math.PI * 720 * t) + 0.25 * Math.sin(2 * Math.PI * 2300 * t);
    x[i] = Math.round(envelope * 9000 * voiced + ((seed >>> 16) - 32768) / 64);
  }
  return x;
}

// Results go into a sink so the JIT cannot drop the work as unused.
let sink = 0;

/**
 * Median ns per sample of each candidate over `runs` timed runs of `reps`
 * calls, interleaved run by run so machine drift hits every candidate alike.
 */
function compare(candidates: Record<string, () => ArrayLike<number>>, samplesPerCall: number, reps: number, runs: number) {
  const names = Object.keys(candidates);
  for (const name of names) for (let i = 0; i < reps * 3; i++) sink ^= candidates[name]!()[7]!;
  const times: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < runs; r++) {
    for (const name of names) {
      const fn = candidates[name]!;
      const start = process.hrtime.bigint();
      for (let i = 0; i < reps; i++) sink ^= fn()[7]!;
      const ns = Number(process.hrtime.bigint() - start);
      times[name]!.push(ns / (reps * samplesPerCall));
    }
  }
  return Object.fromEntries(names.map((n) => [n, median(times[n]!)])) as Record<string, number>;
}

const round = (x: number, digits = 3): number => Number(x.toFixed(digits));

// The workload is the real one: 20 ms frames of 8 kHz line audio (160
// samples), one second of distinct frames per timed call. Ours encodes into a
// reused buffer, the form the API offers for frame loops; alawmulaw can only
// allocate a new array per call. Ours allocating per frame is reported too.
const FRAME = 160;
const line = speechLike(8000, 8000);
const frames = Array.from({ length: 50 }, (_, f) => line.subarray(f * FRAME, (f + 1) * FRAME));
const frameCodes = frames.map((f) => encodeMuLaw(f));
const codesOut = new Uint8Array(FRAME);
const pcmOut = new Int16Array(FRAME);

function eachFrame<T>(items: T[], fn: (item: T) => ArrayLike<number>): () => ArrayLike<number> {
  return () => {
    let last: ArrayLike<number> = codesOut;
    for (const item of items) last = fn(item);
    return last;
  };
}

const encode = compare(
  {
    ours: eachFrame(frames, (f) => encodeMuLaw(f, codesOut)),
    oursAllocating: eachFrame(frames, (f) => encodeMuLaw(f)),
    alawmulaw: eachFrame(frames, (f) => alawmulaw.mulaw.encode(f)),
  },
  line.length,
  100,
  31,
);
const decode = compare(
  {
    ours: eachFrame(frameCodes, (c) => decodeMuLaw(c, pcmOut)),
    oursAllocating: eachFrame(frameCodes, (c) => decodeMuLaw(c)),
    alawmulaw: eachFrame(frameCodes, (c) => alawmulaw.mulaw.decode(c)),
  },
  line.length,
  100,
  31,
);

// Frame round trip: one 20 ms 48 kHz frame, 48 kHz → 8 kHz µ-law → 48 kHz.
const channel = new PhoneChannel({ rate: 48000, codec: 'pcmu' });
const speech48k = speechLike(48000, 48000);
const out = new Int16Array(960);
const frameTimesUs: number[] = [];
for (let f = 0; f < 2000; f++) sink ^= channel.process(speech48k.subarray((f % 50) * 960, (f % 50 + 1) * 960), out)[7]!;
for (let f = 0; f < 20000; f++) {
  const frame = speech48k.subarray((f % 50) * 960, (f % 50 + 1) * 960);
  const start = process.hrtime.bigint();
  channel.process(frame, out);
  frameTimesUs.push(Number(process.hrtime.bigint() - start) / 1000);
  sink ^= out[7]!;
}

const result = {
  codec: {
    encode: {
      nsPerSample: round(encode.ours!),
      alawmulawNsPerSample: round(encode.alawmulaw!),
      speedupVsAlawmulaw: round(encode.alawmulaw! / encode.ours!, 2),
      allocatingNsPerSample: round(encode.oursAllocating!),
    },
    decode: {
      nsPerSample: round(decode.ours!),
      alawmulawNsPerSample: round(decode.alawmulaw!),
      speedupVsAlawmulaw: round(decode.alawmulaw! / decode.ours!, 2),
      allocatingNsPerSample: round(decode.oursAllocating!),
    },
  },
  frame: { roundTripUs: round(median(frameTimesUs), 2) },
  node: process.version,
};

if (json) {
  console.log(JSON.stringify(result));
} else {
  type Row = { nsPerSample: number; alawmulawNsPerSample: number; speedupVsAlawmulaw: number; allocatingNsPerSample: number };
  const cols = (a: string, b: string, c: string, d: string, e: string) =>
    `${a.padEnd(16)}${b.padStart(12)}${c.padStart(16)}${d.padStart(12)}${e.padStart(10)}`;
  const row = (label: string, r: Row) =>
    cols(label, r.nsPerSample.toFixed(3), r.allocatingNsPerSample.toFixed(3), r.alawmulawNsPerSample.toFixed(3), `${r.speedupVsAlawmulaw.toFixed(1)}×`);
  console.log(`telephony audio bench — node ${process.version}`);
  console.log('');
  console.log('µ-law codec, ns/sample on 20 ms frames (160 samples @ 8 kHz), median of 31 runs');
  console.log(cols('', 'ours', 'ours (alloc)', 'alawmulaw', 'speedup'));
  console.log(row('codec.encode', result.codec.encode));
  console.log(row('codec.decode', result.codec.decode));
  console.log('');
  console.log(`frame.roundTripUs  ${result.frame.roundTripUs.toFixed(2)} µs median (20 ms @ 48 kHz → 8 kHz µ-law → 48 kHz)`);
}
if (sink === 0.5) console.log(''); // never true; keeps `sink` observable
