// Stereo call recording: caller on the left channel, agent on the right,
// µ-law 8 kHz (WAVE_FORMAT_MULAW, 16 KB/s), both on one call timeline with
// µ-law silence wherever a side is quiet, streamed to disk as the call goes.
//
// Flush policy. Bytes are written once nothing can still change them. The
// caller's audio arrives in real time, so its end is our clock; the last
// `maxPendingMs` (default 3 s) before it stay in memory so agent audio that is
// written a little late and barge-in truncations can still land there. Agent
// audio pushed ahead of real time waits in memory until the clock reaches it
// (truncateAgent must be able to drop it). If the caller side is idle, the
// agent's progress drives the timeline instead, keeping at most `maxBufferMs`
// (default 120 s) in memory. So memory is bounded by those two windows
// whatever the call length, and the file only grows by appending.
//
// Disk writes are asynchronous and positional; a failed write makes the next
// write call throw and close() reject, so errors are not lost.

import { open, type FileHandle } from 'node:fs/promises';
import { isTelephonyRate, SUPPORTED_RATES } from './rates.js';
import { msToSamples, RecorderTrack } from './recorderTrack.js';
import { G711_WAV_HEADER_BYTES, g711WavHeader } from './wav.js';

export interface CallRecorderOptions {
  /** Timeline kept in memory behind the caller's audio for late agent audio and truncation (default 3000). */
  maxPendingMs?: number;
  /** Hard cap on buffered timeline when the caller side is idle (default 120000). */
  maxBufferMs?: number;
}

export interface CallRecording {
  path: string;
  durationMs: number;
  /** File size, header included. */
  bytes: number;
}

/** Flushing in half-second batches keeps syscalls at two per second. */
const FLUSH_BATCH = 4000;

export class CallRecorder {
  private readonly caller = new RecorderTrack();
  private readonly agent = new RecorderTrack();
  private readonly maxPending: number;
  private readonly maxBuffer: number;
  /** Latest known "now" on the timeline: the caller's end or a truncation point. */
  private clock = 0;
  /** Timeline samples already handed to the file. */
  private flushed = 0;
  private writes: Promise<void> = Promise.resolve();
  private failure: Error | null = null;
  private closing: Promise<CallRecording> | null = null;

  private constructor(
    readonly path: string,
    private readonly file: FileHandle,
    options: CallRecorderOptions,
  ) {
    const maxPendingMs = options.maxPendingMs ?? 3000;
    const maxBufferMs = options.maxBufferMs ?? 120_000;
    if (!(maxPendingMs >= 0) || !(maxBufferMs >= maxPendingMs)) {
      throw new RangeError(`CallRecorder: need 0 <= maxPendingMs (${maxPendingMs}) <= maxBufferMs (${maxBufferMs})`);
    }
    this.maxPending = msToSamples(maxPendingMs);
    this.maxBuffer = msToSamples(maxBufferMs);
  }

  /** Create (or overwrite) `path` and start a recording. */
  static async open(path: string, options: CallRecorderOptions = {}): Promise<CallRecorder> {
    const file = await open(path, 'w');
    try {
      const recorder = new CallRecorder(path, file, options);
      await file.write(g711WavHeader({ encoding: 'mulaw', sampleRate: 8000, channels: 2, frames: null }), 0, G711_WAV_HEADER_BYTES, 0);
      return recorder;
    } catch (error) {
      await file.close();
      throw error;
    }
  }

  /** Caller audio (16-bit PCM at 8/16/24/48 kHz) that starts at `atMs` on the call timeline. */
  writeCaller(pcm: Int16Array, sampleRate: number, atMs: number): void {
    this.check('writeCaller', atMs, sampleRate);
    this.caller.writePcm(pcm, sampleRate, atMs);
    this.afterWrite();
  }

  /**
   * Agent audio starting at `atMs`; pushed faster than real time it is placed
   * right after the previous agent audio unless `atMs` is later.
   */
  writeAgent(pcm: Int16Array, sampleRate: number, atMs: number): void {
    this.check('writeAgent', atMs, sampleRate);
    this.agent.writePcm(pcm, sampleRate, atMs);
    this.afterWrite();
  }

  /** Caller audio already µ-law at 8 kHz (e.g. PhoneChannel.lastFrameBytes()), stored as is. */
  writeCallerMuLaw(codes: Uint8Array, atMs: number): void {
    this.check('writeCallerMuLaw', atMs);
    this.caller.writeMuLaw(codes, atMs);
    this.afterWrite();
  }

  /** Agent audio already µ-law at 8 kHz, stored as is. */
  writeAgentMuLaw(codes: Uint8Array, atMs: number): void {
    this.check('writeAgentMuLaw', atMs);
    this.agent.writeMuLaw(codes, atMs);
    this.afterWrite();
  }

  /**
   * Barge-in: drop agent audio scheduled from `atMs` on, since it never
   * played. Audio already on disk (older than maxPendingMs) cannot be dropped.
   */
  truncateAgent(atMs: number): void {
    this.check('truncateAgent', atMs);
    const cut = msToSamples(atMs);
    this.agent.truncate(cut);
    this.clock = Math.max(this.clock, cut);
    this.afterWrite();
  }

  /** Length of the recording so far, in ms. */
  get durationMs(): number {
    return Math.max(this.caller.end, this.agent.end, this.flushed) / 8;
  }

  /** Timeline (ms) held in memory and not yet handed to the file; bounded by the flush policy. */
  get bufferedMs(): number {
    return (Math.max(this.caller.end, this.agent.end, this.flushed) - this.flushed) / 8;
  }

  /** Write everything still buffered, fix up the header sizes, close the file. Idempotent. */
  close(): Promise<CallRecording> {
    this.closing ??= this.finish();
    return this.closing;
  }

  private async finish(): Promise<CallRecording> {
    try {
      this.caller.endSegment();
      this.agent.endSegment();
      this.flushTo(Math.max(this.caller.end, this.agent.end, this.flushed));
      await this.writes;
      if (this.failure) throw this.failure;
      const frames = this.flushed;
      await this.file.write(g711WavHeader({ encoding: 'mulaw', sampleRate: 8000, channels: 2, frames }), 0, G711_WAV_HEADER_BYTES, 0);
      return { path: this.path, durationMs: frames / 8, bytes: G711_WAV_HEADER_BYTES + frames * 2 };
    } finally {
      await this.file.close();
    }
  }

  private check(what: string, atMs: number, sampleRate?: number): void {
    if (this.closing) throw new Error(`CallRecorder.${what}: recording ${this.path} is already closed`);
    if (this.failure) throw this.failure;
    if (!Number.isFinite(atMs) || atMs < 0) {
      throw new RangeError(`CallRecorder.${what}: atMs must be a finite number >= 0, got ${atMs}`);
    }
    if (sampleRate !== undefined && !isTelephonyRate(sampleRate)) {
      throw new RangeError(`CallRecorder.${what}: unsupported sample rate ${sampleRate} Hz; supported: ${SUPPORTED_RATES.join(', ')} Hz`);
    }
  }

  private afterWrite(): void {
    this.clock = Math.max(this.clock, this.caller.end);
    const latest = Math.max(this.caller.end, this.agent.end);
    let target = Math.min(latest, Math.max(this.clock - this.maxPending, latest - this.maxBuffer));
    for (const track of [this.caller, this.agent]) {
      // A side that went quiet before the target drains its filter tail;
      // one still mid-segment holds the target back to what is final.
      if (track.inFlight) {
        if (track.end <= target) track.endSegment();
        else target = Math.min(target, track.settled);
      }
    }
    if (target - this.flushed >= FLUSH_BATCH) this.flushTo(target);
  }

  private flushTo(target: number): void {
    const count = target - this.flushed;
    if (count <= 0) return;
    const chunk = new Uint8Array(count * 2);
    this.caller.takeInto(count, chunk, 0);
    this.agent.takeInto(count, chunk, 1);
    const position = G711_WAV_HEADER_BYTES + this.flushed * 2;
    this.flushed = target;
    this.writes = this.writes.then(async () => {
      if (this.failure) return;
      try {
        await this.file.write(chunk, 0, chunk.length, position);
      } catch (error) {
        this.failure = error instanceof Error ? error : new Error(String(error));
      }
    });
  }
}
