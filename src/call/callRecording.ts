/**
 * The call's recording (RECORDING_DIR), over its whole life: the file opened as the call starts,
 * the caller's side fed from the call's I/O, the agent's side from the session's output, the
 * caller's right to stop it, and the file closed once the call is down. recordingTap.ts is how
 * the two sides become one file; this is when each of those things happens.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { log } from '@livekit/agents';
import type { OutputListener } from './outputTap.js';
import { RecordingTap } from './recordingTap.js';

export class CallRecording {
  private tap: RecordingTap | undefined;
  private closed = false;

  /** `dir` unset: the call is not recorded, and every method does nothing. */
  constructor(
    private readonly dir: string | undefined,
    private readonly callId: string,
  ) {}

  /** What a tool may do about the recording: stop it, for the rest of the call. Undefined when not recorded. */
  control(onStopped: () => void): { stop(): void } | undefined {
    return this.dir ? { stop: () => this.tap?.stop(onStopped) } : undefined;
  }

  /** Opens the file; `onCallerAudio` is how the call's I/O delivers the caller's side. */
  async open(onCallerAudio: (listener: (pcm: Int16Array, sampleRate: number, at: number) => void) => void): Promise<void> {
    if (!this.dir) return;
    await mkdir(this.dir, { recursive: true });
    const tap = await RecordingTap.open(join(this.dir, `${this.callId}.wav`));
    this.tap = tap;
    // The caller's side keeps sending until it is torn down; frames after the close are dropped.
    onCallerAudio((pcm, rate, at) => {
      if (!this.closed) tap.writeCaller(pcm, rate, at);
    });
  }

  /** The agent's side, once the file is open. */
  get agentListener(): OutputListener | undefined {
    return this.tap?.agentListener;
  }

  /** Writes the file; its path, or null when the call was not recorded or the file could not be written. */
  async close(): Promise<string | null> {
    this.closed = true;
    if (!this.tap) return null;
    return this.tap.close().then(
      (r) => r.path,
      (err) => {
        log().error({ callId: this.callId, error: (err as Error).message }, 'recording could not be written');
        return null;
      },
    );
  }
}
