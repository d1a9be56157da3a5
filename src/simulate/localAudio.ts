/**
 * Audio I/O for a session without a room: PCM pushed in, agent audio played out on a clock.
 *
 * The output follows the same playout handshake as the framework's room output (playback
 * started on the first frame, finished when the last queued frame has played or the buffer was
 * cleared), so `waitForPlayout()` means what it means on a real call: the caller has heard it.
 * `speed` > 1 plays faster than real time for quick tests; latency figures use speed 1.
 */
import { Future, delay, stream, voice } from '@livekit/agents';
import { AudioFrame } from '@livekit/rtc-node';

/**
 * The caller's audio into the session, with the framework's mute honoured as the room input
 * honours it: while the session has input audio disabled, frames are dropped, not queued.
 */
export class PushAudioInput extends voice.AudioInput {
  private readonly channel = stream.createStreamChannel<AudioFrame>();
  private closed = false;
  private attached = true;

  constructor(readonly sampleRate: number) {
    super();
    this.multiStream.addInputStream(this.channel.stream());
  }

  override setAttached(attached: boolean): void {
    this.attached = attached;
  }

  /** Sends one frame of mono PCM. The samples are copied: an AudioFrame over a view sends the wrong data. */
  push(pcm: Int16Array): void {
    if (this.closed || !this.attached) return;
    const copy = new Int16Array(pcm);
    void this.channel.write(new AudioFrame(copy, this.sampleRate, 1, copy.length)).catch(() => undefined);
  }

  override async close(): Promise<void> {
    this.closed = true;
    await this.channel.close();
    await super.close();
  }
}

export interface PlayedFrame {
  pcm: Int16Array;
  sampleRate: number;
  /** Epoch ms at which this frame starts playing. */
  at: number;
}

export interface PacedOutputOptions {
  /** Playback speed; 1 = real time. */
  speed?: number;
  /** How far ahead of the playhead captureFrame may run before it waits (like a jitter buffer). */
  queueMs?: number;
  /** Called for every frame as it starts playing (what the far end hears). */
  onFrame?: (frame: PlayedFrame) => void;
  /** Called when a segment's first frame leaves the agent (time to first audio is measured here). */
  onSegmentStart?: (at: number) => void;
  /** Called when a segment has played out or was cut off. */
  onSegmentEnd?: (ev: { at: number; playedMs: number; interrupted: boolean }) => void;
}

export class PacedAudioOutput extends voice.AudioOutput {
  private readonly speed: number;
  private readonly queueMs: number;
  private readonly opts: PacedOutputOptions;
  private playhead = 0;
  private pushedMs = 0;
  private segmentStartedAt = 0;
  private readonly pending = new Set<NodeJS.Timeout>();
  private interrupted = new Future<void>();
  private flushTask: Promise<void> | undefined;
  /** Frames that arrived after the audio before them had already run out, mid-reply: a gap the caller hears. */
  underruns = 0;

  constructor(sampleRate: number, options: PacedOutputOptions = {}) {
    super(sampleRate, undefined, { pause: false });
    this.speed = options.speed ?? 1;
    this.queueMs = options.queueMs ?? 200;
    this.opts = options;
  }

  override async captureFrame(frame: AudioFrame): Promise<void> {
    await super.captureFrame(frame);
    if (this.flushTask) await this.flushTask;
    const now = Date.now();
    if (this.pushedMs === 0) {
      this.segmentStartedAt = now;
      this.playhead = now;
      this.onPlaybackStarted(now);
      this.opts.onSegmentStart?.(now);
    }
    const durationMs = (frame.samplesPerChannel / frame.sampleRate) * 1000;
    // One frame of slack (timer jitter) before a late frame counts as a gap.
    if (this.pushedMs > 0 && now > this.playhead + 20) this.underruns++;
    const startAt = Math.max(this.playhead, now);
    this.playhead = startAt + durationMs / this.speed;
    this.pushedMs += durationMs;
    const played: PlayedFrame = { pcm: new Int16Array(frame.data), sampleRate: frame.sampleRate, at: startAt };
    const timer = setTimeout(() => {
      this.pending.delete(timer);
      this.opts.onFrame?.(played);
    }, startAt - now);
    this.pending.add(timer);
    // Like a real output, do not accept audio much faster than it can play.
    const ahead = this.playhead - Date.now() - this.queueMs;
    if (ahead > 0) await Promise.race([delay(ahead), this.interrupted.await]);
  }

  override flush(): void {
    super.flush();
    if (this.pushedMs === 0 || this.flushTask) return;
    const interrupted = this.interrupted;
    this.flushTask = (async () => {
      await Promise.race([delay(Math.max(0, this.playhead - Date.now())), interrupted.await]);
      const wasInterrupted = interrupted.done;
      const playedMs = wasInterrupted
        ? Math.min(this.pushedMs, (Date.now() - this.segmentStartedAt) * this.speed)
        : this.pushedMs;
      this.pushedMs = 0;
      this.interrupted = new Future<void>();
      this.flushTask = undefined;
      this.onPlaybackFinished({ playbackPosition: playedMs / 1000, interrupted: wasInterrupted });
      this.opts.onSegmentEnd?.({ at: Date.now(), playedMs, interrupted: wasInterrupted });
    })();
  }

  override clearBuffer(): void {
    if (this.pushedMs === 0 && this.pendingPlayoutSegments === 0) return;
    // Frames not yet played are never heard.
    for (const t of this.pending) clearTimeout(t);
    this.pending.clear();
    this.playhead = Date.now();
    if (!this.flushTask) this.flush();
    if (!this.interrupted.done) this.interrupted.resolve();
  }

  /** Epoch ms when everything captured so far will have played. */
  get playoutEndsAt(): number {
    return Math.max(this.playhead, Date.now());
  }
}
