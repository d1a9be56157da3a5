// Streaming resampler between the 8 kHz phone line and the 16/24/48 kHz rates
// the room, STT and TTS use, on fixed-size frames.
//
// Frame contract: every input frame of N × 10 ms yields exactly N × 10 ms of
// output, on every call, forever. That holds without any priming buffer
// because every supported pair has an integer ratio and a 10 ms frame is a
// whole number of ratio periods, so Speex finishes each frame at the same
// filter phase it started at. process() still checks the count on every call,
// so a Speex change that broke this would fail loudly instead of drifting.
//
// The price of a constant frame size is a constant algorithmic delay
// (`delayMs`, 4 ms): the output is the input delayed by the filter's half
// length, with zeros at the very start.

import { isTelephonyRate, samplesPer10ms, SUPPORTED_RATES } from './rates.js';
import { SpeexResampler } from './speex.js';

/**
 * Speex quality 4 rather than 3: at quality 3 the 48/24/16 → 8 kHz direction
 * is down 1.05 dB at 3.4 kHz, just outside the 1 dB passband the phone band
 * needs; quality 4 is flat to 0.02 dB there, still rejects a 6 kHz tone by
 * more than 80 dB, and costs 1 ms more delay (4 ms instead of 3) and ~30% more
 * CPU (≈21 µs per 20 ms 48 kHz round trip with SIMD).
 */
export const RESAMPLER_QUALITY = 4;

function checkRate(what: string, rate: number): void {
  if (!isTelephonyRate(rate)) {
    throw new RangeError(`StreamResampler: unsupported ${what} rate ${rate} Hz; supported: ${SUPPORTED_RATES.join(', ')} Hz`);
  }
}

export class StreamResampler {
  /** Algorithmic delay from input to output, in output samples. */
  readonly delaySamples: number;
  /** Algorithmic delay from input to output, in milliseconds. */
  readonly delayMs: number;
  private readonly speex: SpeexResampler | null;
  private readonly inBlock: number;
  private readonly outBlock: number;

  constructor(
    readonly inputRate: number,
    readonly outputRate: number,
  ) {
    checkRate('input', inputRate);
    checkRate('output', outputRate);
    if (inputRate !== 8000 && outputRate !== 8000) {
      throw new RangeError(
        `StreamResampler: ${inputRate} -> ${outputRate} Hz is not a telephony conversion; one side must be 8000 Hz`,
      );
    }
    this.inBlock = samplesPer10ms(inputRate);
    this.outBlock = samplesPer10ms(outputRate);
    this.speex = inputRate === outputRate ? null : new SpeexResampler(inputRate, outputRate, RESAMPLER_QUALITY);
    this.delaySamples = this.speex?.outputLatency ?? 0;
    this.delayMs = (this.delaySamples * 1000) / outputRate;
  }

  /** Output length for an input frame of `inputSamples` (which must be whole 10 ms). */
  outputLength(inputSamples: number): number {
    if (!Number.isInteger(inputSamples) || inputSamples < 0 || inputSamples % this.inBlock !== 0) {
      throw new RangeError(
        `StreamResampler: frame of ${inputSamples} samples at ${this.inputRate} Hz is not a whole number of ` +
          `10 ms blocks (${this.inBlock} samples each)`,
      );
    }
    return (inputSamples / this.inBlock) * this.outBlock;
  }

  /**
   * Resample one frame. Pass `out` (length >= outputLength(frame.length)) to
   * avoid allocating; the result is `out` itself when the length is exact,
   * otherwise a view of its first outputLength samples.
   */
  process(frame: Int16Array, out?: Int16Array): Int16Array {
    const n = this.outputLength(frame.length);
    if (out !== undefined && out.length < n) {
      throw new RangeError(`StreamResampler: output buffer holds ${out.length} samples, frame needs ${n}`);
    }
    const dst = out === undefined ? new Int16Array(n) : out.length === n ? out : out.subarray(0, n);
    if (this.speex === null) {
      dst.set(frame);
      return dst;
    }
    const produced = this.speex.process(frame, dst);
    if (produced !== n || this.speex.lastConsumed !== frame.length) {
      throw new Error(
        `StreamResampler ${this.inputRate} -> ${this.outputRate} Hz: Speex consumed ${this.speex.lastConsumed}/` +
          `${frame.length} and produced ${produced}/${n} samples; the fixed-frame invariant is broken`,
      );
    }
    return dst;
  }

  /** Drop the filter history (e.g. between unrelated streams). Output restarts with `delaySamples` of lead-in. */
  reset(): void {
    this.speex?.reset();
  }

  /** Free the WASM state now; optional, garbage collection does it otherwise. */
  destroy(): void {
    this.speex?.destroy();
  }
}
