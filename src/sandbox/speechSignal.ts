/**
 * Deterministic synthetic "speech" for the sandbox.
 *
 * Nothing here produces intelligible words. It is a small Klatt-style formant
 * synthesiser: a glottal pulse train (Rosenberg pulse, ≈140 Hz with a falling
 * intonation contour and jitter) through a cascade of formant resonators whose
 * targets follow the letters of the text — vowels, nasals, liquids, fricatives
 * (filtered noise), stops (closure + burst) — so the result has the syllabic
 * 4–5 Hz energy modulation, formant transitions and voiced/unvoiced alternation
 * that make an energy detector and Silero VAD call it speech. Everything is
 * band-limited to the telephone band (< 3.4 kHz).
 *
 * Duration is exactly proportional to the text: every character of the
 * whitespace-normalised text takes `msPerChar` (default 65 ms), so "how long did
 * the agent talk" is predictable from "what did it say". Same text + options ⇒
 * bit-identical PCM.
 *
 * Used by the Cartesia emulator (agent voice) and by the simulated caller
 * (caller voice); the Deepgram emulator segments it with {@link EnergySegmenter}.
 */
import { decodeMuLaw, encodeMuLaw } from '../telephony/g711.js';

export const DEFAULT_MS_PER_CHAR = 65;

export interface SpeechSignalOptions {
  /** Output sample rate in Hz (8000 for the phone leg). At least 8000. */
  sampleRate: number;
  /** Duration per character of (whitespace-normalised) text. Default 65 ms. */
  msPerChar?: number;
  /** Mean fundamental frequency. Default 140 Hz. */
  f0Hz?: number;
  /** Sample peak of the utterance as a fraction of full scale (0..1). Default 0.6. */
  peak?: number;
  /** Highest frequency kept. Default 3400 Hz (capped at 0.45 × sampleRate). */
  bandLimitHz?: number;
  /** Extra seed mixed into the text hash, to get a different "voice" for the same text. */
  seed?: number;
  /** Fade-in / fade-out at the utterance edges. Default 10 ms. */
  edgeRampMs?: number;
}

/** Whitespace-normalised text as the duration model counts it. */
export function normaliseSpeechText(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** Duration in ms that {@link synthesizeSpeech} produces for `text`. */
export function speechDurationMs(text: string, msPerChar: number = DEFAULT_MS_PER_CHAR): number {
  return normaliseSpeechText(text).length * msPerChar;
}

/** Number of samples {@link synthesizeSpeech} produces for `text`. */
export function speechSampleCount(text: string, opts: SpeechSignalOptions): number {
  return Math.round((speechDurationMs(text, opts.msPerChar) * opts.sampleRate) / 1000);
}

/** FNV-1a 32-bit hash, for deterministic per-text variation. */
export function fnv1a(text: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** mulberry32 PRNG: deterministic floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ------------------------------------------------------------ phone model

type Formants = readonly [number, number, number];

/** Synthesis targets for one letter-sized slot. */
interface Phone {
  /** Formant targets F1..F3 (Hz). */
  f: Formants;
  /** Voicing amplitude 0..1. */
  av: number;
  /** Aspiration amplitude (noise through the formant cascade). */
  ah: number;
  /** Frication amplitude (noise through the frication resonator). */
  af: number;
  /** Frication centre frequency (Hz). */
  ff: number;
  /** Stop consonant: closure for the first 60% then a burst. */
  stop?: boolean;
}

const V = (f1: number, f2: number, f3: number, av = 1): Phone => ({ f: [f1, f2, f3], av, ah: 0.02, af: 0, ff: 0 });
const SCHWA: Formants = [500, 1500, 2500];

const PHONES: Record<string, Phone> = {
  a: V(730, 1090, 2440),
  e: V(530, 1840, 2480),
  i: V(390, 1990, 2550),
  o: V(570, 840, 2410),
  u: V(440, 1020, 2240),
  y: V(300, 2200, 2900, 0.8),
  l: V(360, 1300, 2700, 0.65),
  r: V(420, 1300, 1600, 0.65),
  w: V(300, 610, 2200, 0.6),
  m: V(250, 1000, 2200, 0.4),
  n: V(250, 1500, 2300, 0.4),
  h: { f: SCHWA, av: 0, ah: 0.5, af: 0, ff: 0 },
  s: { f: SCHWA, av: 0, ah: 0, af: 0.55, ff: 3300 },
  z: { f: SCHWA, av: 0.3, ah: 0, af: 0.4, ff: 3300 },
  x: { f: SCHWA, av: 0, ah: 0, af: 0.5, ff: 3200 },
  c: { f: [400, 1800, 2500], av: 0, ah: 0, af: 0.5, ff: 1900, stop: true },
  f: { f: SCHWA, av: 0, ah: 0.1, af: 0.3, ff: 2600 },
  v: { f: SCHWA, av: 0.3, ah: 0, af: 0.25, ff: 2600 },
  j: { f: [300, 2000, 2600], av: 0.3, ah: 0, af: 0.45, ff: 2500 },
  p: { f: [400, 900, 2300], av: 0, ah: 0.1, af: 0.45, ff: 1000, stop: true },
  b: { f: [300, 900, 2300], av: 0.15, ah: 0, af: 0.35, ff: 1000, stop: true },
  t: { f: [400, 1700, 2600], av: 0, ah: 0.1, af: 0.55, ff: 3000, stop: true },
  d: { f: [300, 1700, 2600], av: 0.15, ah: 0, af: 0.4, ff: 3000, stop: true },
  k: { f: [400, 1800, 2500], av: 0, ah: 0.1, af: 0.5, ff: 1900, stop: true },
  g: { f: [300, 1800, 2500], av: 0.15, ah: 0, af: 0.4, ff: 1900, stop: true },
  q: { f: [400, 1800, 2500], av: 0, ah: 0.1, af: 0.5, ff: 1900, stop: true },
};
/** Word boundary: a weak schwa, voicing continues (connected speech has few real pauses). */
const SPACE: Phone = V(500, 1500, 2500, 0.35);
/** Punctuation: a short, nearly silent pause (shorter than any endpointer's hangover). */
const PAUSE: Phone = { f: SCHWA, av: 0, ah: 0, af: 0, ff: 0 };
const DIGIT_VOWELS = ['a', 'e', 'i', 'o', 'u'];

function phoneFor(ch: string): Phone {
  const c = ch.toLowerCase();
  if (c === ' ') return SPACE;
  const p = PHONES[c];
  if (p) return p;
  if (c >= '0' && c <= '9') return PHONES[DIGIT_VOWELS[c.charCodeAt(0) % 5]!]!;
  if (/[\p{L}]/u.test(c)) return PHONES[DIGIT_VOWELS[c.charCodeAt(0) % 5]!]!;
  return PAUSE;
}

/** Two-pole resonator (Klatt 1980), unity gain at DC. */
class Resonator {
  #y1 = 0;
  #y2 = 0;
  #a = 1;
  #b = 0;
  #c = 0;
  readonly #sr: number;
  constructor(sr: number) {
    this.#sr = sr;
  }
  set(freq: number, bw: number): void {
    const T = 1 / this.#sr;
    this.#c = -Math.exp(-2 * Math.PI * bw * T);
    this.#b = 2 * Math.exp(-Math.PI * bw * T) * Math.cos(2 * Math.PI * freq * T);
    this.#a = 1 - this.#b - this.#c;
  }
  step(x: number): number {
    const y = this.#a * x + this.#b * this.#y1 + this.#c * this.#y2;
    this.#y2 = this.#y1;
    this.#y1 = y;
    return y;
  }
}

/** Second-order Butterworth low-pass (RBJ biquad). */
class LowPass {
  #x1 = 0;
  #x2 = 0;
  #y1 = 0;
  #y2 = 0;
  readonly #b0: number;
  readonly #b1: number;
  readonly #b2: number;
  readonly #a1: number;
  readonly #a2: number;
  constructor(sr: number, fc: number) {
    const w = (2 * Math.PI * fc) / sr;
    const alpha = Math.sin(w) / (2 * Math.SQRT1_2);
    const a0 = 1 + alpha;
    this.#b0 = (1 - Math.cos(w)) / 2 / a0;
    this.#b1 = (1 - Math.cos(w)) / a0;
    this.#b2 = this.#b0;
    this.#a1 = (-2 * Math.cos(w)) / a0;
    this.#a2 = (1 - alpha) / a0;
  }
  step(x: number): number {
    const y = this.#b0 * x + this.#b1 * this.#x1 + this.#b2 * this.#x2 - this.#a1 * this.#y1 - this.#a2 * this.#y2;
    this.#x2 = this.#x1;
    this.#x1 = x;
    this.#y2 = this.#y1;
    this.#y1 = y;
    return y;
  }
}

/** Differentiated Rosenberg glottal pulse at phase 0..1 (flow derivative ≈ radiated source). */
function glottalDerivative(phase: number): number {
  const tp = 0.4;
  const tn = 0.16;
  if (phase < tp) return Math.sin((Math.PI * phase) / tp) * (Math.PI / tp) * 0.5;
  if (phase < tp + tn) return -Math.sin((Math.PI * (phase - tp)) / (2 * tn)) * (Math.PI / (2 * tn));
  return 0;
}

/**
 * Synthesise deterministic speech-like 16-bit PCM (mono) for `text`.
 * Empty / whitespace-only text yields an empty array.
 */
export function synthesizeSpeech(text: string, opts: SpeechSignalOptions): Int16Array {
  const sr = opts.sampleRate;
  if (!Number.isFinite(sr) || sr < 8000) throw new Error(`unsupported sampleRate ${sr}`);
  const norm = normaliseSpeechText(text);
  const n = speechSampleCount(norm, opts);
  const out = new Int16Array(n);
  if (n === 0) return out;

  const f0Mean = opts.f0Hz ?? 140;
  const peak = Math.min(1, Math.max(0, opts.peak ?? 0.6));
  const bandTop = Math.min(opts.bandLimitHz ?? 3400, 0.45 * sr);
  const ramp = Math.max(1, Math.round(((opts.edgeRampMs ?? 10) * sr) / 1000));
  const seed = fnv1a(norm, opts.seed ?? 0);
  const rand = prng(seed);
  const noise = prng(seed ^ 0x9e3779b9);
  const slot = n / norm.length; // samples per character

  const r1 = new Resonator(sr);
  const r2 = new Resonator(sr);
  const r3 = new Resonator(sr);
  const r4 = new Resonator(sr);
  const rf = new Resonator(sr);
  r4.set(Math.min(3300, 0.42 * sr), 250);
  const lp1 = new LowPass(sr, bandTop);
  const lp2 = new LowPass(sr, bandTop);

  // Smoothed parameters (one-pole towards the current phone's targets).
  const first = phoneFor(norm[0]!);
  let F1 = first.f[0];
  let F2 = first.f[1];
  let F3 = first.f[2];
  let AV = 0;
  let AH = 0;
  let AF = 0;
  let FF = first.ff || 2500;
  const kF = 1 - Math.exp(-1 / (0.018 * sr)); // formant glide ≈ 18 ms
  const kA = 1 - Math.exp(-1 / (0.008 * sr)); // amplitude ≈ 8 ms
  const paramBlock = Math.max(1, Math.round(sr / 1000)); // refresh filter coefficients every 1 ms

  // Intonation: declination across each phrase (split at . ! ? ,), rise on '?'.
  const phraseEnds: number[] = [];
  for (let i = 0; i < norm.length; i++) if (/[.!?,;:]/.test(norm[i]!)) phraseEnds.push(i);
  phraseEnds.push(norm.length);
  const vibratoPhase = rand() * 2 * Math.PI;

  const raw = new Float64Array(n);
  let gPhase = 0;
  let periodJitter = 1;
  let periodShimmer = 1;
  let phraseStart = 0;
  let phraseIdx = 0;
  let maxAbs = 0;
  for (let i = 0; i < n; i++) {
    const ci = Math.min(norm.length - 1, Math.floor(i / slot));
    const ch = norm[ci]!;
    const ph = phoneFor(ch);
    const posInSlot = (i - ci * slot) / slot;

    while (phraseIdx < phraseEnds.length - 1 && ci > phraseEnds[phraseIdx]!) {
      phraseStart = phraseEnds[phraseIdx]! + 1;
      phraseIdx++;
    }
    const phraseEnd = phraseEnds[phraseIdx]!;
    const phrasePos = (ci + posInSlot - phraseStart) / Math.max(1, phraseEnd - phraseStart + 1);
    const question = norm[phraseEnd] === '?';
    const contour = question ? 1 - 0.1 * phrasePos + 0.35 * Math.max(0, phrasePos - 0.75) * 4 : 1.12 - 0.25 * phrasePos;
    const f0 = f0Mean * contour * (1 + 0.03 * Math.sin(2 * Math.PI * 0.9 * (i / sr) + vibratoPhase)) * periodJitter;

    // Targets for this instant.
    let tAV = ph.av;
    let tAH = ph.ah;
    let tAF = ph.af;
    if (ph.stop) {
      // closure (near silence, weak voicing for voiced stops), then burst + aspiration
      if (posInSlot < 0.6) {
        tAH = 0;
        tAF = 0;
      } else if (posInSlot < 0.78) {
        tAV = 0;
      } else {
        tAV = 0;
        tAF = ph.af * 0.3;
      }
    }
    if (i % paramBlock === 0) {
      r1.set(F1, 60 + F1 * 0.06);
      r2.set(F2, 90 + F2 * 0.04);
      r3.set(F3, 150 + F3 * 0.03);
      rf.set(Math.min(FF, bandTop * 0.98), 700);
    }
    F1 += (ph.f[0] - F1) * kF;
    F2 += (ph.f[1] - F2) * kF;
    F3 += (ph.f[2] - F3) * kF;
    if (ph.ff) FF += (ph.ff - FF) * kF;
    // Stops switch abruptly (burst onsets are fast); everything else glides.
    const ka = ph.stop ? kA * 3 : kA;
    AV += (tAV - AV) * ka;
    AH += (tAH - AH) * ka;
    AF += (tAF - AF) * ka;

    // Glottal source.
    gPhase += f0 / sr;
    if (gPhase >= 1) {
      gPhase -= 1;
      periodJitter = 1 + (rand() - 0.5) * 0.02;
      periodShimmer = 1 + (rand() - 0.5) * 0.1;
    }
    const nz = noise() * 2 - 1;
    const voiced = glottalDerivative(gPhase) * AV * periodShimmer;
    // Aspiration is modulated by the glottal cycle when voiced, as in real breathy voice.
    const asp = nz * AH * (AV > 0.1 ? 0.5 + 0.5 * (gPhase < 0.5 ? 1 : 0) : 1);
    let y = r4.step(r3.step(r2.step(r1.step(voiced * 0.12 + asp * 0.35))));
    y += rf.step(nz * AF) * 0.9;
    y = lp2.step(lp1.step(y));
    raw[i] = y;
    const a = Math.abs(y);
    if (a > maxAbs) maxAbs = a;
  }

  const gain = maxAbs > 0 ? (peak * 32767) / maxAbs : 0;
  for (let i = 0; i < n; i++) {
    let env = 1;
    if (i < ramp) env = i / ramp;
    if (n - 1 - i < ramp) env = Math.min(env, (n - 1 - i) / ramp);
    out[i] = clamp16(Math.round(raw[i]! * gain * env));
  }
  return out;
}

function clamp16(x: number): number {
  return x > 32767 ? 32767 : x < -32768 ? -32768 : x;
}

/** `ms` of digital silence. */
export function silence(ms: number, sampleRate: number): Int16Array {
  return new Int16Array(Math.round((ms * sampleRate) / 1000));
}

/** Concatenate PCM buffers into a fresh array. */
export function concatPcm(...parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Split PCM into fixed-size frames. Every frame is a fresh Int16Array (never a
 * subarray view), which is what `new AudioFrame(...)` from rtc-node needs. The
 * last frame is zero-padded to full length.
 */
export function splitFrames(pcm: Int16Array, sampleRate: number, frameMs = 20): Int16Array[] {
  const len = Math.round((sampleRate * frameMs) / 1000);
  const frames: Int16Array[] = [];
  for (let o = 0; o < pcm.length; o += len) {
    const f = new Int16Array(len);
    f.set(pcm.subarray(o, Math.min(pcm.length, o + len)));
    frames.push(f);
  }
  return frames;
}

/** RMS of `pcm[start, end)` as a fraction of full scale (0..1). */
export function rms(pcm: Int16Array, start = 0, end = pcm.length): number {
  const n = end - start;
  if (n <= 0) return 0;
  let acc = 0;
  for (let i = start; i < end; i++) {
    const x = pcm[i]! / 32768;
    acc += x * x;
  }
  return Math.sqrt(acc / n);
}

/** Little-endian bytes of 16-bit PCM (a copy). */
export function pcmToBytes(pcm: Int16Array): Buffer {
  const b = Buffer.alloc(pcm.length * 2);
  for (let i = 0; i < pcm.length; i++) b.writeInt16LE(pcm[i]!, i * 2);
  return b;
}

/** 16-bit PCM from little-endian bytes (a trailing odd byte is ignored). */
export function bytesToPcm(bytes: Uint8Array): Int16Array {
  const n = bytes.length >> 1;
  const out = new Int16Array(n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, n * 2);
  for (let i = 0; i < n; i++) out[i] = view.getInt16(i * 2, true);
  return out;
}

// ---------------------------------------------------------------- G.711

// The codec is the project's one G.191-exact implementation (src/telephony/g711.ts); these names
// stay for the emulators and tests that use them.
export const encodeMulaw = (pcm: Int16Array): Uint8Array => encodeMuLaw(pcm);
export const decodeMulaw = (bytes: Uint8Array): Int16Array => decodeMuLaw(bytes);

/** What a PSTN leg does to the audio: encode to µ-law and back. */
export function g711uRoundTrip(pcm: Int16Array): Int16Array {
  return decodeMuLaw(encodeMuLaw(pcm));
}

// ------------------------------------------------------- energy segmenter

export interface EnergySegmenterOptions {
  sampleRate: number;
  /** Analysis window. Default 10 ms. */
  windowMs?: number;
  /** RMS (fraction of full scale) above which a window counts as speech. Default 0.01 (−40 dBFS). */
  threshold?: number;
  /** Consecutive speech needed to open a segment. Default 60 ms. */
  minSpeechMs?: number;
  /** Trailing silence that closes a segment. Default 300 ms. */
  endpointingMs?: number;
}

export type SegmenterEvent =
  | { type: 'start'; startSec: number }
  | { type: 'end'; startSec: number; endSec: number };

/**
 * Energy-based speech segmenter over a mono 16-bit stream. Times are in audio
 * seconds since the first sample pushed. A segment opens after `minSpeechMs`
 * of windows above `threshold` (its start is back-dated to the first of them)
 * and closes once `endpointingMs` of below-threshold windows follow; its end is
 * the end of the last speech window.
 */
export class EnergySegmenter {
  readonly sampleRate: number;
  readonly windowSamples: number;
  threshold: number;
  minSpeechWindows: number;
  endpointingWindows: number;

  #pending: Int16Array = new Int16Array(0);
  #windowIndex = 0;
  #speechRun = 0;
  #silenceRun = 0;
  #inSpeech = false;
  #segStartWindow = 0;
  #lastSpeechWindow = -1;

  constructor(opts: EnergySegmenterOptions) {
    this.sampleRate = opts.sampleRate;
    const windowMs = opts.windowMs ?? 10;
    this.windowSamples = Math.max(1, Math.round((opts.sampleRate * windowMs) / 1000));
    this.threshold = opts.threshold ?? 0.01;
    this.minSpeechWindows = Math.max(1, Math.ceil((opts.minSpeechMs ?? 60) / windowMs));
    this.endpointingWindows = Math.max(1, Math.ceil((opts.endpointingMs ?? 300) / windowMs));
  }

  /** Audio seconds consumed so far (complete windows only). */
  get positionSec(): number {
    return (this.#windowIndex * this.windowSamples) / this.sampleRate;
  }

  get inSpeech(): boolean {
    return this.#inSpeech;
  }

  /** Start of the open segment in audio seconds, if one is open. */
  get segmentStartSec(): number | undefined {
    return this.#inSpeech ? this.#winSec(this.#segStartWindow) : undefined;
  }

  /** End of the last speech window in audio seconds (−1 if none yet). */
  get lastSpeechEndSec(): number {
    return this.#lastSpeechWindow < 0 ? -1 : this.#winSec(this.#lastSpeechWindow + 1);
  }

  #winSec(w: number): number {
    return (w * this.windowSamples) / this.sampleRate;
  }

  push(samples: Int16Array): SegmenterEvent[] {
    const events: SegmenterEvent[] = [];
    let buf = samples;
    if (this.#pending.length) {
      buf = concatPcm(this.#pending, samples);
    }
    const W = this.windowSamples;
    let o = 0;
    for (; o + W <= buf.length; o += W) {
      const speech = rms(buf, o, o + W) > this.threshold;
      const w = this.#windowIndex++;
      if (speech) {
        this.#speechRun++;
        this.#silenceRun = 0;
        this.#lastSpeechWindow = w;
        if (!this.#inSpeech && this.#speechRun >= this.minSpeechWindows) {
          this.#inSpeech = true;
          this.#segStartWindow = w - this.#speechRun + 1;
          events.push({ type: 'start', startSec: this.#winSec(this.#segStartWindow) });
        }
      } else {
        this.#speechRun = 0;
        if (this.#inSpeech) {
          this.#silenceRun++;
          if (this.#silenceRun >= this.endpointingWindows) {
            events.push(this.#close());
          }
        }
      }
    }
    this.#pending = o < buf.length ? buf.slice(o) : new Int16Array(0);
    return events;
  }

  /** Close the open segment now (Finalize / end of stream / idle). */
  forceEnd(): SegmenterEvent | undefined {
    if (!this.#inSpeech) return undefined;
    return this.#close();
  }

  #close(): SegmenterEvent {
    this.#inSpeech = false;
    this.#silenceRun = 0;
    this.#speechRun = 0;
    return {
      type: 'end',
      startSec: this.#winSec(this.#segStartWindow),
      endSec: this.#winSec(this.#lastSpeechWindow + 1),
    };
  }
}

export interface SpeechSegment {
  startMs: number;
  endMs: number;
}

/**
 * Stretches of speech in a recording (energy over −40 dBFS; 300 ms under it closes one): what a
 * phone or a room caller heard, for the e2e suite and the real-media bench.
 */
export function speechSegments(pcm: Int16Array, sampleRate: number): SpeechSegment[] {
  const seg = new EnergySegmenter({ sampleRate, endpointingMs: 300 });
  const out: SpeechSegment[] = [];
  const collect = (e: ReturnType<EnergySegmenter['push']>[number] | undefined) => {
    if (e?.type === 'end') out.push({ startMs: e.startSec * 1000, endMs: e.endSec * 1000 });
  };
  for (const e of seg.push(pcm)) collect(e);
  collect(seg.forceEnd());
  return out;
}
