/**
 * One pass-through wrapper on the session's audio output, so the lifecycle can see each agent
 * frame as it leaves the worker: the recording writes it, the latency tracker stamps the first
 * frame of each reply (time to first audio is measured here, at the output boundary).
 */
import { voice } from '@livekit/agents';
import type { AudioFrame } from '@livekit/rtc-node';

export interface OutputListener {
  /** A frame is about to go to the real output, at epoch ms `at`. */
  onFrame?(frame: AudioFrame, at: number): void;
  /** The first frame of a new reply segment. */
  onSegmentStart?(at: number): void;
  /** The output was cleared (the caller interrupted): nothing queued will play. */
  onClear?(at: number): void;
}

class TappedAudioOutput extends voice.AudioOutput {
  private inSegment = false;

  constructor(
    private readonly inner: voice.AudioOutput,
    private readonly tapListeners: OutputListener[],
  ) {
    super(inner.sampleRate, inner, { pause: inner.canPause });
  }

  override async captureFrame(frame: AudioFrame): Promise<void> {
    await super.captureFrame(frame);
    const at = Date.now();
    if (!this.inSegment) {
      this.inSegment = true;
      for (const l of this.tapListeners) l.onSegmentStart?.(at);
    }
    for (const l of this.tapListeners) l.onFrame?.(frame, at);
    await this.inner.captureFrame(frame);
  }

  override flush(): void {
    super.flush();
    this.inSegment = false;
    this.inner.flush();
  }

  override clearBuffer(): void {
    this.inSegment = false;
    const at = Date.now();
    for (const l of this.tapListeners) l.onClear?.(at);
    this.inner.clearBuffer();
  }
}

/** Wraps the session's current audio output. Call after the session has started. */
export function tapOutput(session: voice.AgentSession<unknown>, listeners: OutputListener[]): void {
  const output = session.output.audio;
  if (output && listeners.length > 0) session.output.audio = new TappedAudioOutput(output, listeners);
}
