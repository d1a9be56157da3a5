// Silero VAD cost per 32 ms window: the plugin's own session (one window per run, as each call's
// stream asks) against the batched session the worker uses (src/session/sileroBatch.ts), with
// 1, 4 and 13 calls' windows due together. All in the same run, interleaved round by round, so
// machine noise hits every candidate alike.
//
//   npm run bench:vad            readable table
//   npm run bench:vad -- --json  last stdout line is one JSON object
//
// The figure is main-thread CPU time per window (onnxruntime-node runs the model on the calling
// thread), median of the rounds. Benchmarks are not tests: nothing here asserts a timing.
import { Tensor } from 'onnxruntime-node';
import { percentile } from '../src/call/latency.js';
import { SileroBatchSession, loadSileroModel } from '../src/session/sileroBatch.js';
import { synthesizeSpeech } from '../src/sandbox/speechSignal.js';

const json = process.argv.includes('--json');
const ROUNDS = 15; // odd, so the nearest-rank median is the middle round
const WINDOWS_PER_ROUND = 390; // a multiple of 13: 12.5 s of one call's audio
const WIDTH = 32 + 256; // context + window at 8 kHz

const speech = synthesizeSpeech('Hi, I would like to book an appointment for Tuesday morning, please.', { sampleRate: 8000 });
const windowAt = (k: number) => {
  const w = new Float32Array(WIDTH);
  const o = (k * 256) % (speech.length - WIDTH);
  for (let i = 0; i < WIDTH; i++) w[i] = speech[o + i]! / 32767;
  return w;
};
const SR = new Tensor('int64', BigInt64Array.of(8000n));

const plain = await loadSileroModel();
const batched = await SileroBatchSession.create({ gatherMs: 0 });

/** The plugin's way: every window its own run, one after another (each stream awaits its result). */
async function single(n: number): Promise<void> {
  const state = new Float32Array(256);
  for (let k = 0; k < n; k++) {
    const out = await plain.run({ input: new Tensor('float32', windowAt(k), [1, WIDTH]), state: new Tensor('float32', state, [2, 1, 128]), sr: SR });
    state.set(out.stateN!.data as Float32Array);
  }
}

/** `calls` streams whose windows are due together, through the batched session. */
async function together(calls: number, n: number): Promise<void> {
  const states = Array.from({ length: calls }, () => new Float32Array(256));
  for (let k = 0; k < n / calls; k++) {
    const results = await Promise.all(
      states.map((state, c) => batched.run({ input: new Tensor('float32', windowAt(k * calls + c), [1, WIDTH]), state: new Tensor('float32', state, [2, 1, 128]), sr: SR })),
    );
    results.forEach((r, c) => states[c]!.set(r.stateN.data));
  }
}

const candidates: Record<string, (n: number) => Promise<void>> = {
  'plugin session (1 window per run)': single,
  'batched, 1 call': (n) => together(1, n),
  'batched, 4 calls together': (n) => together(4, n - (n % 4)),
  'batched, 13 calls together': (n) => together(13, n),
};
const times: Record<string, number[]> = Object.fromEntries(Object.keys(candidates).map((k) => [k, []]));
for (const fn of Object.values(candidates)) await fn(WINDOWS_PER_ROUND); // warm-up
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, fn] of Object.entries(candidates)) {
    const n = name.includes('4 calls') ? WINDOWS_PER_ROUND - (WINDOWS_PER_ROUND % 4) : WINDOWS_PER_ROUND;
    const c0 = process.cpuUsage();
    await fn(n);
    const c = process.cpuUsage(c0);
    times[name]!.push((c.user + c.system) / n);
  }
}
const usPerWindow = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, Math.round(percentile(v, 50)! * 10) / 10]));
const base = usPerWindow['plugin session (1 window per run)']!;
await plain.release();
await batched.release();

if (!json) {
  console.log('Silero VAD at 8 kHz, CPU µs per 32 ms window (median of rounds)');
  for (const [k, v] of Object.entries(usPerWindow)) console.log(`  ${k.padEnd(36)} ${String(v).padStart(7)}   ${(base / v).toFixed(2)}× the plugin's`);
}
console.log(JSON.stringify({ bench: 'vad', sampleRate: 8000, rounds: ROUNDS, windowsPerRound: WINDOWS_PER_ROUND, cpuUsPerWindow: usPerWindow, node: process.version }));
