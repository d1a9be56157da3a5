// One direction of a PSTN leg as a streaming pipeline:
//   room rate → 8 kHz → G.711 bytes → 8 kHz → room rate.
// Simulations and tests put it between the agent and a simulated caller so
// the agent hears exactly what a phone line carries (band-limited, companded)
// and the caller hears the agent the way a handset would. Use one instance per
// direction: each holds filter state for its own stream.

import { decodeG711, encodeG711, type G711Codec } from './g711.js';
import { isTelephonyRate, samplesPer10ms, SUPPORTED_RATES, type TelephonyRate } from './rates.js';
import { StreamResampler } from './resampler.js';

export interface PhoneChannelOptions {
  /** Sample rate of the frames passed to process() (and returned). */
  rate: TelephonyRate;
  /** Codec the trunk negotiated; PCMU (µ-law) unless a European/Telnyx trunk says PCMA. */
  codec?: G711Codec;
}

export class PhoneChannel {
  readonly rate: TelephonyRate;
  readonly codec: G711Codec;
  /** Algorithmic delay of the whole leg (both resamplers), in ms; 8 ms at 16/24/48 kHz, 0 at 8 kHz. */
  readonly delayMs: number;
  private readonly down: StreamResampler | null;
  private readonly up: StreamResampler | null;
  private line8k = new Int16Array(160);
  private bytes = new Uint8Array(160);
  private lastLength = 0;

  constructor(options: PhoneChannelOptions) {
    const { rate, codec = 'pcmu' } = options;
    if (!isTelephonyRate(rate)) {
      throw new RangeError(`PhoneChannel: unsupported rate ${rate} Hz; supported: ${SUPPORTED_RATES.join(', ')} Hz`);
    }
    if (codec !== 'pcmu' && codec !== 'pcma') {
      throw new RangeError(`PhoneChannel: unsupported codec ${String(codec)}; supported: pcmu, pcma`);
    }
    this.rate = rate;
    this.codec = codec;
    this.down = rate === 8000 ? null : new StreamResampler(rate, 8000);
    this.up = rate === 8000 ? null : new StreamResampler(8000, rate);
    this.delayMs = (this.down?.delayMs ?? 0) + (this.up?.delayMs ?? 0);
  }

  /**
   * Pass one frame (a whole number of 10 ms at `rate`, normally 20 ms) through
   * the line. Returns a frame of the same length; pass `out` to reuse a buffer.
   */
  process(frame: Int16Array, out?: Int16Array): Int16Array {
    const block = samplesPer10ms(this.rate);
    if (frame.length % block !== 0) {
      throw new RangeError(
        `PhoneChannel: frame of ${frame.length} samples at ${this.rate} Hz is not a whole number of ` +
          `10 ms blocks (${block} samples each)`,
      );
    }
    const n8k = frame.length / block * 80;
    if (this.line8k.length < n8k) {
      this.line8k = new Int16Array(n8k);
      this.bytes = new Uint8Array(n8k);
    }
    const narrow = this.down === null ? frame : this.down.process(frame, this.line8k);
    encodeG711(this.codec, narrow.length === n8k ? narrow : narrow.subarray(0, n8k), this.bytes);
    this.lastLength = n8k;
    const heard = decodeG711(this.codec, this.bytes.subarray(0, n8k), this.line8k);
    if (this.up === null) {
      const dst = out ?? new Int16Array(n8k);
      if (dst.length < n8k) throw new RangeError(`PhoneChannel: output buffer holds ${dst.length} samples, frame needs ${n8k}`);
      dst.set(heard);
      return dst.length === n8k ? dst : dst.subarray(0, n8k);
    }
    return this.up.process(heard, out);
  }

  /**
   * The 8 kHz G.711 bytes (in `codec`) that crossed the line for the last
   * processed frame, e.g. for CallRecorder.writeCallerMuLaw. A view into an
   * internal buffer, valid until the next process() call; copy it to keep it.
   */
  lastFrameBytes(): Uint8Array {
    return this.bytes.subarray(0, this.lastLength);
  }

  /** Free the resamplers' WASM state now; optional, garbage collection does it otherwise. */
  destroy(): void {
    this.down?.destroy();
    this.up?.destroy();
  }
}
