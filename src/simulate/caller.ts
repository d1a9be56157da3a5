/**
 * An emulated caller on a phone line: speaks scripted lines as audio, in real time, through the
 * PSTN leg (8 kHz G.711 both ways), and hears the agent through the same leg.
 *
 * A real line never stops sending: between words the caller's side carries silence, and that is
 * what lets the agent's VAD find the end of a sentence. So the caller runs its own 20 ms clock and
 * sends speech when it has some, silence otherwise, until it hangs up.
 */
import { synthesizeSpeech } from '../sandbox/speechSignal.js';
import type { G711Codec } from '../telephony/g711.js';
import { PhoneChannel } from '../telephony/phoneChannel.js';
import type { TelephonyRate } from '../telephony/rates.js';
import type { PlayedFrame } from './localAudio.js';

const FRAME_MS = 20;

export interface CallerOptions {
  /** Where the caller's audio goes (the agent's input), one frame at a time. */
  send: (pcm: Int16Array) => void;
  /** Rate of the agent's input and output. */
  rate: TelephonyRate;
  /** Pass audio through the PSTN leg (phone calls); browser sessions skip it. */
  phone: boolean;
  codec?: G711Codec;
  msPerChar?: number;
  /** Gets what crossed the line: the caller's transmitted line bytes and times (for recordings). */
  onLineAudio?: (side: 'caller' | 'agent', pcm: Int16Array, rate: number, at: number) => void;
}

export interface Utterance {
  text: string;
  startedAt: number;
  endedAt: number;
}

export class EmulatedCaller {
  private readonly frameSamples: number;
  private readonly tx: PhoneChannel | null;
  private readonly rx: PhoneChannel | null;
  private readonly silence: Int16Array;
  private speech: Int16Array | null = null;
  private speechPos = 0;
  private speechDone: (() => void) | null = null;
  private timer: NodeJS.Timeout | undefined;
  private t0 = 0;
  private sent = 0;
  private rxCarry = new Int16Array(0);
  private hangUpResolve!: () => void;
  /** Resolves when the caller hangs up. */
  readonly hungUp: Promise<void>;
  /** Agent audio heard, after the phone leg. */
  heardMs = 0;
  lastHeardAt = 0;

  constructor(private readonly opts: CallerOptions) {
    this.frameSamples = (opts.rate * FRAME_MS) / 1000;
    this.silence = new Int16Array(this.frameSamples);
    this.tx = opts.phone ? new PhoneChannel({ rate: opts.rate, codec: opts.codec }) : null;
    this.rx = opts.phone ? new PhoneChannel({ rate: opts.rate, codec: opts.codec }) : null;
    this.hungUp = new Promise((r) => (this.hangUpResolve = r));
  }

  start(): void {
    this.t0 = Date.now();
    // Catch up on whole frames each tick so timer jitter never changes the audio's timing.
    this.timer = setInterval(() => this.tick(), 10);
  }

  get speaking(): boolean {
    return this.speech !== null;
  }

  /** Speaks a line; resolves once its last sample has been sent. */
  say(text: string): Promise<Utterance> {
    if (this.speech) throw new Error('the emulated caller is already speaking');
    const pcm = synthesizeSpeech(text, { sampleRate: this.opts.rate, msPerChar: this.opts.msPerChar });
    const startedAt = Date.now();
    return new Promise((resolve) => {
      this.speech = pcm;
      this.speechPos = 0;
      this.speechDone = () => resolve({ text, startedAt, endedAt: Date.now() });
    });
  }

  hangUp(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.hangUpResolve();
  }

  /** Agent audio arriving at the caller's ear. */
  hear(frame: PlayedFrame): void {
    let pcm = frame.pcm;
    if (this.rx) {
      // The phone leg works on whole 10 ms frames; TTS chunks are any size.
      const joined = new Int16Array(this.rxCarry.length + pcm.length);
      joined.set(this.rxCarry);
      joined.set(pcm, this.rxCarry.length);
      const step = frame.sampleRate / 100;
      const whole = joined.length - (joined.length % step);
      this.rxCarry = joined.slice(whole);
      if (whole === 0) return;
      pcm = this.rx.process(joined.subarray(0, whole));
    }
    this.heardMs += (pcm.length / frame.sampleRate) * 1000;
    this.lastHeardAt = frame.at;
    this.opts.onLineAudio?.('agent', pcm, frame.sampleRate, frame.at);
  }

  private tick(): void {
    const due = Math.floor((Date.now() - this.t0) / FRAME_MS);
    while (this.sent < due && this.timer) {
      const at = this.t0 + this.sent * FRAME_MS;
      this.sent++;
      let frame = this.silence;
      if (this.speech) {
        frame = new Int16Array(this.frameSamples);
        frame.set(this.speech.subarray(this.speechPos, this.speechPos + this.frameSamples));
        this.speechPos += this.frameSamples;
        if (this.speechPos >= this.speech.length) {
          this.speech = null;
          const done = this.speechDone;
          this.speechDone = null;
          queueMicrotask(() => done?.());
        }
      }
      const line = this.tx ? this.tx.process(frame) : frame;
      this.opts.onLineAudio?.('caller', line, this.opts.rate, at);
      this.opts.send(line);
    }
  }
}
