// Thin, typed binding to the SpeexDSP resampler compiled to WASM
// (@echogarden/speex-resampler-wasm). resampler.ts builds the 20 ms frame
// contract on top; nothing else should need this file.
//
// The Emscripten module can only be instantiated asynchronously, so it is
// loaded with a top-level await: importing this module (directly or through
// resampler.ts / phoneChannel.ts / callRecorder.ts) finishes only once the WASM
// is ready, and every constructor after that is synchronous. No init call to
// forget, and nothing is left running that could keep the process alive.

interface SpeexModule {
  HEAP16: Int16Array;
  HEAPU32: Uint32Array;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  _speex_resampler_init(channels: number, inRate: number, outRate: number, quality: number, errPtr: number): number;
  _speex_resampler_process_int(
    state: number,
    channel: number,
    inPtr: number,
    inLenPtr: number,
    outPtr: number,
    outLenPtr: number,
  ): number;
  _speex_resampler_get_input_latency(state: number): number;
  _speex_resampler_get_output_latency(state: number): number;
  _speex_resampler_reset_mem(state: number): number;
  _speex_resampler_destroy(state: number): void;
}

const REQUIRED = [
  '_malloc',
  '_free',
  '_speex_resampler_init',
  '_speex_resampler_process_int',
  '_speex_resampler_get_input_latency',
  '_speex_resampler_get_output_latency',
  '_speex_resampler_reset_mem',
  '_speex_resampler_destroy',
] as const;

function asSpeexModule(mod: unknown, variant: string): SpeexModule {
  const m = mod as Record<string, unknown>;
  for (const name of REQUIRED) {
    if (typeof m[name] !== 'function') {
      throw new Error(`speex-resampler-wasm (${variant}) does not export ${name}; was the package upgraded?`);
    }
  }
  return mod as SpeexModule;
}

async function loadSpeex(): Promise<SpeexModule> {
  // The SIMD build is ~4x faster per frame; the plain build only exists for
  // runtimes without WASM SIMD (Node 20 has it, so this is belt and braces).
  try {
    const { default: create } = await import('@echogarden/speex-resampler-wasm/simd');
    return asSpeexModule(await create(), 'simd');
  } catch (simdError) {
    try {
      const { default: create } = await import('@echogarden/speex-resampler-wasm');
      return asSpeexModule(await create(), 'non-simd');
    } catch {
      throw simdError;
    }
  }
}

const speex: SpeexModule = await loadSpeex();

const ERRORS = ['success', 'allocation failed', 'bad state', 'invalid argument', 'input and output overlap', 'overflow'];

// One scratch area shared by every resampler: JS runs process() calls one at a
// time, so per-instance WASM buffers would only add allocations to free.
// Layout: [inLen u32, outLen u32, err u32, pad] then input samples, output samples.
let scratchPtr = 0;
let scratchInCap = 0;
let scratchOutCap = 0;

function ensureScratch(inSamples: number, outSamples: number): void {
  if (inSamples <= scratchInCap && outSamples <= scratchOutCap) return;
  if (scratchPtr !== 0) speex._free(scratchPtr);
  scratchInCap = Math.max(inSamples, scratchInCap, 4800);
  scratchOutCap = Math.max(outSamples, scratchOutCap, 4800);
  scratchPtr = speex._malloc(16 + 2 * (scratchInCap + scratchOutCap));
  if (scratchPtr === 0) throw new Error('speex resampler: WASM allocation failed');
}

// A resampler that is dropped without destroy() still gets its WASM state
// freed once the wrapper is garbage-collected, so callers never need an
// explicit (let alone async) dispose for correctness.
const finalizer = new FinalizationRegistry<number>((state) => speex._speex_resampler_destroy(state));

/** One mono Speex resampler state. Prefer StreamResampler unless you need raw Speex behaviour. */
export class SpeexResampler {
  private state: number;
  /** Samples of input the filter holds back (its delay, in input samples). */
  readonly inputLatency: number;
  /** The same delay measured in output samples. */
  readonly outputLatency: number;
  /** Input samples consumed by the last process() call. */
  lastConsumed = 0;

  constructor(
    readonly inputRate: number,
    readonly outputRate: number,
    readonly quality: number,
  ) {
    ensureScratch(0, 0);
    const errPtr = scratchPtr + 8;
    this.state = speex._speex_resampler_init(1, inputRate, outputRate, quality, errPtr);
    const err = speex.HEAPU32[errPtr >> 2]!;
    if (this.state === 0 || err !== 0) {
      throw new Error(`speex resampler init ${inputRate} -> ${outputRate} Hz failed: ${ERRORS[err] ?? err}`);
    }
    this.inputLatency = speex._speex_resampler_get_input_latency(this.state);
    this.outputLatency = speex._speex_resampler_get_output_latency(this.state);
    finalizer.register(this, this.state, this);
  }

  /**
   * Feed `input`, write at most `output.length` samples into `output`, return
   * how many were written. Speex may leave input unconsumed if `output` is too
   * small; check `lastConsumed`.
   */
  process(input: Int16Array, output: Int16Array): number {
    if (this.state === 0) throw new Error('speex resampler used after destroy()');
    ensureScratch(input.length, output.length);
    const lenIdx = scratchPtr >> 2;
    const inPtr = scratchPtr + 16;
    const outPtr = inPtr + 2 * scratchInCap;
    // Re-read the heap views on every call: another resampler's malloc may
    // have grown WASM memory, which replaces the underlying ArrayBuffer.
    speex.HEAP16.set(input, inPtr >> 1);
    const u32 = speex.HEAPU32;
    u32[lenIdx] = input.length;
    u32[lenIdx + 1] = output.length;
    const err = speex._speex_resampler_process_int(this.state, 0, inPtr, scratchPtr, outPtr, scratchPtr + 4);
    if (err !== 0) throw new Error(`speex resampler process failed: ${ERRORS[err] ?? err}`);
    this.lastConsumed = u32[lenIdx]!;
    const produced = u32[lenIdx + 1]!;
    output.set(speex.HEAP16.subarray(outPtr >> 1, (outPtr >> 1) + produced));
    return produced;
  }

  /** Forget the filter history, as if freshly constructed. */
  reset(): void {
    if (this.state !== 0) speex._speex_resampler_reset_mem(this.state);
  }

  /** Free the WASM state now rather than at garbage collection. Idempotent. */
  destroy(): void {
    if (this.state === 0) return;
    finalizer.unregister(this);
    speex._speex_resampler_destroy(this.state);
    this.state = 0;
  }
}
