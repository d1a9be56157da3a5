/**
 * One Silero ONNX session for every call in a process, running the windows that are due together
 * as one batch.
 *
 * A call host runs a dozen calls, and each call's VAD asks for one 32 ms window at a time. Run one
 * by one, the model costs ~110 µs of main-thread time per window, most of it fixed per run (the
 * N-API crossing, tensor setup, the graph walk); a batch of 13 windows costs ~42 µs per window
 * (`npm run bench:vad`). The Silero plugin keeps its own logic (thresholds, padding, events, the
 * per-call recurrent state); only the `run` it calls on the session is replaced, and the state of
 * each call travels in and out of the batch with its window.
 *
 * A window waits up to GATHER_MS for others to join it. The VAD measures that wait as inference
 * time and moves its end-of-speech anchor back by it, so the endpointing delay still runs from
 * when the caller stopped; what it delays is the VAD's events, by at most GATHER_MS (a barge-in is
 * noticed that much later, against MIN_INTERRUPTION_MS, 400 ms of speech by default). At 25 calls on two
 * cores it took the call processes from ~100% to ~83% of a core (bench/README.md).
 */
import { fileURLToPath } from 'node:url';
import { InferenceSession, Tensor } from 'onnxruntime-node';

/** Silero v5's recurrent state per stream: 2 layers × 128. */
const STATE_SIZE = 2 * 128;
/** How long a window waits for others (a window is 32 ms of audio, so the VAD never falls behind). */
export const GATHER_MS = 10;

/** What the Silero plugin's model reads back from `session.run`. */
export interface SileroResult {
  output: { data: Float32Array };
  stateN: { data: Float32Array };
}

interface Pending {
  input: Float32Array;
  state: Float32Array;
  resolve: (r: SileroResult) => void;
  reject: (e: unknown) => void;
}

export interface BatchStats {
  runs: number;
  windows: number;
  largestBatch: number;
}

/** The model file the Silero plugin ships, in a session with the plugin's own options. */
export function loadSileroModel(): Promise<InferenceSession> {
  const model = new URL('silero_vad.onnx', import.meta.resolve('@livekit/agents-plugin-silero'));
  return InferenceSession.create(fileURLToPath(model), {
    interOpNumThreads: 1,
    intraOpNumThreads: 1,
    executionMode: 'sequential',
    executionProviders: [{ name: 'cpu' }],
  });
}

export class SileroBatchSession {
  readonly stats: BatchStats = { runs: 0, windows: 0, largestBatch: 0 };
  /** Pending windows by input width (context + window samples) and sample rate. */
  private readonly queues = new Map<string, { width: number; sr: BigInt64Array; items: Pending[] }>();
  private scheduled = false;

  constructor(
    private readonly session: InferenceSession,
    private readonly maxBatch = 64,
    private readonly gatherMs = GATHER_MS,
  ) {}

  static async create(opts: { maxBatch?: number; gatherMs?: number } = {}): Promise<SileroBatchSession> {
    return new SileroBatchSession(await loadSileroModel(), opts.maxBatch, opts.gatherMs);
  }

  /** The Silero plugin's call: one stream's window `[1, width]`, its state `[2, 1, 128]` and the rate. */
  run(feeds: Record<string, Tensor>): Promise<SileroResult> {
    const { input, state, sr } = feeds;
    if (!input || !state || !sr) throw new Error('Silero batch: expected feeds input, state and sr');
    if (input.dims.length !== 2 || input.dims[0] !== 1) throw new Error(`Silero batch: input must be [1, n], got [${input.dims.join(', ')}]`);
    if (state.size !== STATE_SIZE) throw new Error(`Silero batch: state must hold ${STATE_SIZE} values, got ${state.size}`);
    const width = input.dims[1]!;
    const rate = (sr.data as BigInt64Array)[0]!;
    const key = `${width}@${rate}`;
    let queue = this.queues.get(key);
    if (!queue) {
      queue = { width, sr: BigInt64Array.of(rate), items: [] };
      this.queues.set(key, queue);
    }
    // No copies yet: the plugin awaits each run before it touches these buffers again.
    const done = new Promise<SileroResult>((resolve, reject) =>
      queue.items.push({ input: input.data as Float32Array, state: state.data as Float32Array, resolve, reject }),
    );
    if (!this.scheduled) {
      this.scheduled = true;
      // 0: the check phase, where onnxruntime-node would have run a single window anyway.
      if (this.gatherMs > 0) setTimeout(() => this.flush(), this.gatherMs);
      else setImmediate(() => this.flush());
    }
    return done;
  }

  async release(): Promise<void> {
    await this.session.release();
  }

  private flush(): void {
    this.scheduled = false;
    for (const queue of this.queues.values()) {
      while (queue.items.length > 0) {
        const batch = queue.items.splice(0, this.maxBatch);
        this.runBatch(queue.width, queue.sr, batch);
      }
    }
  }

  private runBatch(width: number, sr: BigInt64Array, batch: Pending[]): void {
    const n = batch.length;
    const input = new Float32Array(n * width);
    // State is [layer, batch, 128]: each layer's rows for the whole batch are contiguous.
    const state = new Float32Array(2 * n * 128);
    batch.forEach((p, b) => {
      input.set(p.input, b * width);
      state.set(p.state.subarray(0, 128), b * 128);
      state.set(p.state.subarray(128), (n + b) * 128);
    });
    this.stats.runs++;
    this.stats.windows += n;
    this.stats.largestBatch = Math.max(this.stats.largestBatch, n);
    this.session
      .run({
        input: new Tensor('float32', input, [n, width]),
        state: new Tensor('float32', state, [2, n, 128]),
        sr: new Tensor('int64', sr),
      })
      .then(
        (out) => {
          const output = out.output!.data as Float32Array;
          const stateN = out.stateN!.data as Float32Array;
          batch.forEach((p, b) => {
            const s = new Float32Array(STATE_SIZE);
            s.set(stateN.subarray(b * 128, (b + 1) * 128), 0);
            s.set(stateN.subarray((n + b) * 128, (n + b + 1) * 128), 128);
            p.resolve({ output: { data: output.subarray(b, b + 1) }, stateN: { data: s } });
          });
        },
        (e: unknown) => batch.forEach((p) => p.reject(e)),
      );
  }
}
