/**
 * An STT whose streams can be given a fresh provider stream in the middle of a call, without
 * losing what the caller said meanwhile.
 *
 * Why it exists: `@livekit/agents-plugin-deepgram` 1.9.0 does not notice when Deepgram closes the
 * WebSocket mid-call. Its `#runWS` hands the socket-monitor `Task` itself (not `Task.result`) to
 * `Promise.all`, so the rejection raised on the close is never observed; `ws.send()` on a closed
 * socket is a silent no-op; and the listener waits for messages that never come. Nothing reaches
 * the framework: no error event, no end of stream, so the framework's retry (`connOptions`, which
 * only acts when `run()` throws) never runs, and the caller talks into silence for the rest of
 * the call. The wrapper cannot see the socket either; what it can do is replace the stuck stream
 * when told to (`restart`), and the call lifecycle tells it when the caller spoke and nothing was
 * transcribed (the framework's `transcriptionTimeout`), or when a provider stream gave up.
 *
 * What a restart does: open a new provider stream, replay into it the caller's audio since the
 * last final transcript (at most `replaySeconds`), then go on forwarding live audio; the old
 * stream is closed and anything it still says is ignored. So the line the caller said into the
 * dead socket is transcribed and answered, a little late, instead of lost.
 */
import { type APIConnectOptions, log, stt } from '@livekit/agents';
import type { AudioFrame } from '@livekit/rtc-node';
import { recordMetric } from '../observe/metrics.js';

/** How far back a restart replays the caller's audio, at most. */
const DEFAULT_REPLAY_SECONDS = 20;
/** Audio kept after the last word of a final transcript, so a replay never repeats that word. */
const AFTER_LAST_WORD_SECONDS = 0.1;

export interface RestartableSttOptions {
  replaySeconds?: number;
}

/** Told when a provider stream ended by itself (its own retries spent) while the call still needs it. */
export type StreamFailureListener = (error: Error) => void;

export class RestartableSTT extends stt.STT {
  readonly label: string;
  readonly replaySeconds: number;
  readonly #streams = new Set<RestartableStream>();
  readonly #failureListeners = new Set<StreamFailureListener>();
  #lastError: Error | undefined;
  readonly #forwardMetrics = (m: Parameters<stt.STTCallbacks['metrics_collected']>[0]) => this.emit('metrics_collected', m);
  // A provider stream's own error is not the call's: the stream is replaced (see #streamEnded).
  // Forwarding it unrecoverable would make the AgentSession close itself on the spot.
  readonly #absorbError = (e: Parameters<stt.STTCallbacks['error']>[0]) => (this.#lastError = e.error);

  constructor(
    readonly inner: stt.STT,
    opts: RestartableSttOptions = {},
  ) {
    if (!inner.capabilities.streaming) throw new Error(`${inner.label} does not stream; RestartableSTT needs a streaming STT`);
    super(inner.capabilities);
    // Metrics and cost are the provider's: keep its label (UsageMeter prices by it).
    this.label = inner.label;
    this.replaySeconds = opts.replaySeconds ?? DEFAULT_REPLAY_SECONDS;
    inner.on('metrics_collected', this.#forwardMetrics);
    inner.on('error', this.#absorbError);
  }

  override get model(): string {
    return this.inner.model;
  }

  override get provider(): string {
    return this.inner.provider;
  }

  override _updateSessionKeyterms(keyterms: string[]): void {
    this.inner._updateSessionKeyterms(keyterms);
  }

  override _pushConversationItem(ev: Parameters<stt.STT['_pushConversationItem']>[0]): void {
    this.inner._pushConversationItem(ev);
  }

  // The inner STT emits its own metrics, forwarded above; the base class would count them twice.
  override async recognize(buffer: Parameters<stt.STT['recognize']>[0], abortSignal?: AbortSignal): Promise<stt.SpeechEvent> {
    return this.inner.recognize(buffer, abortSignal);
  }

  protected async _recognize(buffer: Parameters<stt.STT['recognize']>[0], abortSignal?: AbortSignal): Promise<stt.SpeechEvent> {
    return this.inner.recognize(buffer, abortSignal);
  }

  stream(options?: { connOptions?: APIConnectOptions }): stt.SpeechStream {
    const s = new RestartableStream(this, options?.connOptions);
    this.#streams.add(s);
    return s;
  }

  /**
   * Gives every open stream a new provider stream, replaying the caller's audio since the last
   * final transcript. Returns how many streams were restarted.
   */
  restart(reason: string): number {
    let n = 0;
    for (const s of this.#streams) if (s._restart()) n++;
    if (n > 0) recordMetric({ kind: 'count', name: 'stt_restarts', by: n });
    log().warn({ stt: this.label, reason, streams: n }, 'restarting the STT stream');
    return n;
  }

  /** Subscribes to provider streams that ended by themselves mid-call. Returns an unsubscribe function. */
  onStreamFailure(listener: StreamFailureListener): () => void {
    this.#failureListeners.add(listener);
    return () => this.#failureListeners.delete(listener);
  }

  /** @internal */
  _streamFailed(): void {
    const error = this.#lastError ?? new Error(`${this.label}: the stream ended`);
    this.#lastError = undefined;
    log().warn({ stt: this.label, error: error.message }, 'STT stream ended mid-call');
    for (const l of this.#failureListeners) l(error);
  }

  /** @internal */
  _streamClosed(s: RestartableStream): void {
    this.#streams.delete(s);
  }

  override async close(): Promise<void> {
    for (const s of this.#streams) s.close();
    this.inner.off('metrics_collected', this.#forwardMetrics);
    this.inner.off('error', this.#absorbError);
    this.#failureListeners.clear();
    await this.inner.close();
  }
}

interface HeldFrame {
  frame: AudioFrame;
  /** Where the frame starts in this stream's audio, in seconds. */
  at: number;
}

class RestartableStream extends stt.SpeechStream {
  label = 'RestartableSTT.SpeechStream';
  readonly #owner: RestartableSTT;
  readonly #connOptions: APIConnectOptions | undefined;
  #inner: stt.SpeechStream | undefined;
  /** Bumped by each new provider stream; events from an older one are ignored. */
  #generation = 0;
  #innerDone: Promise<void> = Promise.resolve();
  /** The caller's recent audio, for a replay. */
  #held: HeldFrame[] = [];
  /** Audio received so far, in seconds. */
  #position = 0;
  /** Audio up to here has a final transcript (or was replayed past): a replay starts after it. */
  #heardUpTo = 0;
  #inputEnded = false;

  constructor(owner: RestartableSTT, connOptions: APIConnectOptions | undefined) {
    // No sample rate: frames go to the provider stream as they come, and it resamples.
    super(owner, undefined, connOptions);
    this.#owner = owner;
    this.#connOptions = connOptions;
  }

  // Metrics come from the provider's STT (forwarded by the owner); do not count them again here.
  protected override async monitorMetrics(): Promise<void> {
    for await (const event of this.queue) {
      if (!this.output.closed) {
        try {
          this.output.put(event);
        } catch {
          // closed while disconnecting
        }
      }
    }
    if (!this.output.closed) this.output.close();
  }

  protected async run(): Promise<void> {
    if (!this.#inner) this.#open(0); // (a restart before the first frame has opened one already)
    for await (const item of this.input) {
      if (this.closed) break;
      if (typeof item === 'symbol') {
        ignore(() => this.#inner?.flush());
        continue;
      }
      this.#hold(item);
      ignore(() => this.#inner?.pushFrame(item));
    }
    this.#inputEnded = true;
    ignore(() => this.#inner?.endInput());
    // Let the provider finish what it heard; close() (the session ending) cuts this short.
    await Promise.race([this.#innerDone, new Promise<void>((r) => this.abortSignal.addEventListener('abort', () => r(), { once: true }))]);
  }

  /** @internal A new provider stream, fed the audio since the last final transcript. */
  _restart(): boolean {
    if (this.closed || this.#inputEnded || this.abortSignal.aborted) return false;
    const old = this.#inner;
    this.#open(Math.max(this.#heardUpTo, this.#position - this.#owner.replaySeconds));
    ignore(() => old?.close());
    return true;
  }

  override close(): void {
    super.close();
    ignore(() => this.#inner?.close());
    this.#held = [];
    this.#owner._streamClosed(this);
  }

  #hold(frame: AudioFrame): void {
    this.#held.push({ frame, at: this.#position });
    this.#position += frame.samplesPerChannel / frame.sampleRate;
    const keepFrom = this.#position - this.#owner.replaySeconds;
    let drop = 0;
    while (drop < this.#held.length && this.#held[drop]!.at < keepFrom) drop++;
    if (drop > 0) this.#held.splice(0, drop);
  }

  #open(from: number): void {
    const generation = ++this.#generation;
    const inner = this.#owner.inner.stream({ connOptions: this.#connOptions });
    const replay = this.#held.filter((h) => h.at >= from);
    const base = replay[0]?.at ?? this.#position;
    // The provider's timestamps count from its first frame; keep them on this stream's timeline.
    inner.startTimeOffset = this.startTimeOffset + base;
    for (const h of replay) inner.pushFrame(h.frame);
    if (this.#inputEnded) ignore(() => inner.endInput());
    this.#inner = inner;
    this.#innerDone = this.#pump(inner, generation, base);
  }

  async #pump(inner: stt.SpeechStream, generation: number, base: number): Promise<void> {
    try {
      for await (const ev of inner) {
        if (generation !== this.#generation) return;
        if (ev.type === stt.SpeechEventType.FINAL_TRANSCRIPT && ev.alternatives?.[0]?.text) {
          const end = ev.alternatives[0].endTime - inner.startTimeOffset;
          this.#heardUpTo = Math.max(this.#heardUpTo, end > 0 ? base + end + AFTER_LAST_WORD_SECONDS : this.#position);
        }
        if (!this.queue.closed) this.queue.put(ev);
      }
    } catch {
      // An inner stream that throws has ended all the same.
    }
    if (generation === this.#generation && !this.#inputEnded && !this.closed && !this.abortSignal.aborted) {
      this.#owner._streamFailed();
    }
  }
}

function ignore(fn: () => unknown): void {
  try {
    fn();
  } catch {
    // the stream is closing; there is nothing left to tell it
  }
}
