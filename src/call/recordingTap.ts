/**
 * Call recording: the agent's side is tapped from the session's audio output, the caller's side
 * is fed by the call's I/O (the caller's own track in a room, the line in a simulation), and both
 * go to a `CallRecorder` on one timeline measured from the start of the call.
 *
 * The recording starts with the agent's first audio, which is the greeting and so the recording
 * disclosure (agents/prompts.ts): nothing the caller said before they were told is kept. A caller
 * who objects stops it (`stop`): from then on nothing more is written, and the file holds only the
 * call up to that point.
 *
 * The caller is not tapped from the session's input because, once the session runs, that stream
 * is locked by the framework's reader. Agent audio arrives faster than real time; the recorder
 * lays it out contiguously from when it was sent, and an interruption cuts off what never played.
 */
import type { AudioFrame } from '@livekit/rtc-node';
import { CallRecorder } from '../telephony/callRecorder.js';
import type { OutputListener } from './outputTap.js';

/** The recorder's resamplers take whole 10 ms frames; TTS chunks come in any size. */
class TenMsChunker {
  private carry = new Int16Array(0);
  push(pcm: Int16Array, rate: number, emit: (chunk: Int16Array) => void): void {
    const step = rate / 100;
    const joined = new Int16Array(this.carry.length + pcm.length);
    joined.set(this.carry);
    joined.set(pcm, this.carry.length);
    const whole = joined.length - (joined.length % step);
    if (whole > 0) emit(joined.slice(0, whole));
    this.carry = joined.slice(whole);
  }
}

export class RecordingTap {
  private readonly callerChunks = new TenMsChunker();
  private readonly agentChunks = new TenMsChunker();
  /** Epoch ms of the agent's first audio: the recording's time zero. Null until then. */
  private startedAt: number | null = null;
  private stopped = false;

  private constructor(private readonly recorder: CallRecorder) {}

  static async open(path: string): Promise<RecordingTap> {
    return new RecordingTap(await CallRecorder.open(path));
  }

  /** Caller audio that started playing at epoch ms `at` (from the call's I/O). */
  writeCaller(pcm: Int16Array, sampleRate: number, at: number): void {
    if (this.stopped || this.startedAt === null || at < this.startedAt) return;
    const atMs = at - this.startedAt;
    this.callerChunks.push(pcm, sampleRate, (chunk) => this.recorder.writeCaller(chunk, sampleRate, atMs));
  }

  /** The agent's side, as an output listener (see `tapOutput`). */
  readonly agentListener: OutputListener = {
    onFrame: (f: AudioFrame, at: number) => {
      if (this.stopped) return;
      this.startedAt ??= at;
      const start = this.startedAt;
      this.agentChunks.push(new Int16Array(f.data), f.sampleRate, (pcm) => this.recorder.writeAgent(pcm, f.sampleRate, at - start));
    },
    onClear: (at: number) => {
      if (!this.stopped && this.startedAt !== null) this.recorder.truncateAgent(Math.max(0, at - this.startedAt));
    },
  };

  /** Nothing more is recorded on this call. `onStopped` runs once, on the first stop. */
  stop(onStopped?: () => void): void {
    if (this.stopped) return;
    this.stopped = true;
    onStopped?.();
  }

  async close(): Promise<{ path: string; durationMs: number }> {
    const r = await this.recorder.close();
    return { path: r.path, durationMs: r.durationMs };
  }
}
