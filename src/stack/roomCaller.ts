/**
 * A caller that joins a LiveKit room the way a browser does (the Agents Playground, our own
 * `switchboard token`): a standard participant with a join token, a microphone track, and the
 * agent's audio played to it. Built on the framework's own client, `@livekit/rtc-node`.
 *
 * It speaks PCM it is given, paced in real time as a microphone is, and keeps what it heard of the
 * agent as one 16 kHz track from the moment the agent's audio was subscribed. Between lines the
 * microphone sends silence, as a real one would, so the agent's VAD sees a caller that is there.
 */
import { AudioFrame, AudioSource, AudioStream, LocalAudioTrack, ParticipantKind, type RemoteParticipant, type RemoteTrack, Room, RoomEvent, TrackKind, TrackPublishOptions, TrackSource } from '@livekit/rtc-node';

const RATE = 16_000;
const FRAME = RATE / 100; // 10 ms

export class RoomCaller {
  readonly room = new Room();
  private readonly mic = new AudioSource(RATE, 1);
  private readonly heardChunks: Int16Array[] = [];
  private queue: Int16Array[] = [];
  private pumping?: Promise<void>;
  private closed = false;
  /** Epoch ms when the agent's audio track was subscribed (what `heard()` counts from). */
  agentAudioAt?: number;
  /** Sizes (ms) of the frames rtc-node delivered, as the worker's room input gets them too. */
  readonly frameMs = new Map<number, number>();
  /** The agent participant once it has joined. */
  agent?: RemoteParticipant;
  private agentWaiters: (() => void)[] = [];

  private constructor() {}

  /** Joins `url` with `token`, publishes a microphone and starts listening for the agent. */
  static async join(url: string, token: string): Promise<RoomCaller> {
    const c = new RoomCaller();
    c.room.on(RoomEvent.ParticipantConnected, (p) => c.seen(p));
    c.room.on(RoomEvent.TrackSubscribed, (track: RemoteTrack, _pub, p: RemoteParticipant) => {
      if (track.kind !== TrackKind.KIND_AUDIO || p.kind !== ParticipantKind.AGENT) return;
      c.agentAudioAt ??= Date.now();
      void c.listen(track);
    });
    await c.room.connect(url, token, { autoSubscribe: true, dynacast: false });
    for (const p of c.room.remoteParticipants.values()) c.seen(p);
    const track = LocalAudioTrack.createAudioTrack('microphone', c.mic);
    await c.room.localParticipant!.publishTrack(track, new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE }));
    c.pumping = c.pump();
    return c;
  }

  private seen(p: RemoteParticipant): void {
    if (p.kind !== ParticipantKind.AGENT || this.agent) return;
    this.agent = p;
    for (const w of this.agentWaiters.splice(0)) w();
  }

  /** Resolves once an agent participant is in the room. */
  waitForAgent(timeoutMs: number): Promise<RemoteParticipant> {
    if (this.agent) return Promise.resolve(this.agent);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no agent joined the room within ${timeoutMs} ms`)), timeoutMs);
      this.agentWaiters.push(() => {
        clearTimeout(timer);
        resolve(this.agent!);
      });
    });
  }

  private async listen(track: RemoteTrack): Promise<void> {
    const stream = new AudioStream(track, { sampleRate: RATE, numChannels: 1 });
    for await (const frame of stream) {
      if (this.closed) break;
      this.heardChunks.push(new Int16Array(frame.data));
      const ms = (frame.samplesPerChannel / frame.sampleRate) * 1000;
      this.frameMs.set(ms, (this.frameMs.get(ms) ?? 0) + 1);
    }
  }

  /** The microphone: the next queued line, else 10 ms of silence, paced by the source's queue. */
  private async pump(): Promise<void> {
    const quiet = new Int16Array(FRAME);
    let line: Int16Array | undefined;
    let at = 0;
    while (!this.closed) {
      if (!line) {
        line = this.queue.shift();
        at = 0;
      }
      let chunk = quiet;
      if (line) {
        chunk = new Int16Array(FRAME);
        chunk.set(line.subarray(at, at + FRAME));
        at += FRAME;
        if (at >= line.length) line = undefined;
      }
      try {
        await this.mic.captureFrame(new AudioFrame(chunk, RATE, 1, FRAME));
      } catch {
        return; // the source closed under us: the caller left
      }
    }
  }

  /** Says `pcm` (16 kHz mono) into the microphone after whatever is already queued. */
  say(pcm: Int16Array): void {
    this.queue.push(pcm);
  }

  /** What the caller heard of the agent so far, from `agentAudioAt`, at 16 kHz. */
  heard(): { pcm: Int16Array; sampleRate: number } {
    const total = this.heardChunks.reduce((n, c) => n + c.length, 0);
    const pcm = new Int16Array(total);
    let o = 0;
    for (const c of this.heardChunks) {
      pcm.set(c, o);
      o += c.length;
    }
    return { pcm, sampleRate: RATE };
  }

  /** Resolves when the room goes away under the caller (the agent deleted it), or after `timeoutMs`. */
  disconnected(timeoutMs: number): Promise<boolean> {
    if (!this.room.isConnected) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.room.once(RoomEvent.Disconnected, () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Leaves the room (the browser tab closed). */
  async leave(): Promise<void> {
    this.closed = true;
    await this.pumping;
    await this.mic.close().catch(() => undefined);
    if (this.room.isConnected) await this.room.disconnect();
  }
}
