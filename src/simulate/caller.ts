/**
 * An emulated caller on a phone line: speaks scripted lines as audio, in real time, through the
 * PSTN leg (8 kHz G.711 both ways), and hears the agent through the same leg.
 *
 * A real line never stops sending: between words the caller's side carries silence, and that is
 * what lets the agent's VAD find the end of a sentence. So the caller runs its own 20 ms clock and
 * sends speech when it has some, silence otherwise, until it hangs up.
 */
import { delay } from '@livekit/agents';
import { synthesizeSpeech } from '../sandbox/speechSignal.js';
import type { G711Codec } from '../telephony/g711.js';
import { PhoneChannel } from '../telephony/phoneChannel.js';
import type { TelephonyRate } from '../telephony/rates.js';
import { callWait } from './callWait.js';
import type { PlayedFrame } from './localAudio.js';

const FRAME_MS = 20;
/** A key press: the tone (a person holds a key for 150–250 ms), then the gap before the next key. */
const KEY_TONE_MS = 200;
const KEY_GAP_MS = 80;
/** DTMF row and column frequencies (Hz) of each key. */
const DTMF_FREQS: Record<string, [number, number]> = {
  '1': [697, 1209], '2': [697, 1336], '3': [697, 1477], A: [697, 1633],
  '4': [770, 1209], '5': [770, 1336], '6': [770, 1477], B: [770, 1633],
  '7': [852, 1209], '8': [852, 1336], '9': [852, 1477], C: [852, 1633],
  '*': [941, 1209], '0': [941, 1336], '#': [941, 1477], D: [941, 1633],
};

/** A key's dual tone, as a handset plays it into the audio path. */
export function dtmfTone(key: string, rate: number, ms = KEY_TONE_MS): Int16Array {
  const freqs = DTMF_FREQS[key];
  if (!freqs) throw new RangeError(`not a keypad key: ${JSON.stringify(key)}`);
  const n = Math.round((rate * ms) / 1000);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    const t = i / rate;
    out[i] = Math.round(0.35 * 32767 * (Math.sin(2 * Math.PI * freqs[0] * t) + Math.sin(2 * Math.PI * freqs[1] * t)) / 2);
  }
  return out;
}

export interface CallerOptions {
  /** Where the caller's audio goes (the agent's input), one frame at a time. */
  send: (pcm: Int16Array) => void;
  /** Rate of the agent's input and output. */
  rate: TelephonyRate;
  /** Pass audio through the PSTN leg (phone calls); browser sessions skip it. */
  phone: boolean;
  codec?: G711Codec;
  msPerChar?: number;
  /**
   * The caller's voice: a line's PCM at `rate`. Default: the sandbox's synthetic speech, which the
   * STT emulator segments; a real STT needs real speech (see callerVoice.ts).
   */
  voice?: (text: string) => Int16Array;
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
  /** Keypad tones the agent sent us, in order (a phone menu reacts to these). */
  keysHeard = '';
  private keyWaiters: { keys: string; resolve: () => void }[] = [];

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
    const pcm = this.opts.voice?.(text) ?? synthesizeSpeech(text, { sampleRate: this.opts.rate, msPerChar: this.opts.msPerChar });
    const startedAt = Date.now();
    return this.play(pcm).then(() => ({ text, startedAt, endedAt: Date.now() }));
  }

  /**
   * Presses keys. Each key reaches the far end as a DTMF event (`onKey`) when the key is released,
   * as LiveKit SIP reports RFC 4733 events once their end bit arrives. With `inBand`, the handset's
   * tone also goes down the audio path, as on a line where the tones leak into the audio.
   */
  async pressKeys(keys: string, onKey: (key: string) => void, opts: { inBand?: boolean } = {}): Promise<void> {
    for (const key of keys) {
      if (!this.timer) return;
      if (opts.inBand) await this.play(dtmfTone(key, this.opts.rate));
      else await delay(KEY_TONE_MS);
      onKey(key);
      await delay(KEY_GAP_MS);
    }
  }

  /** A keypad tone from the agent's side arrives (what `publishDtmf` sends to a SIP caller). */
  receiveKey(key: string): void {
    this.keysHeard += key;
    // Each wait takes its own waiter off the list when it ends (callWait).
    for (const w of [...this.keyWaiters]) if (this.keysHeard.includes(w.keys)) w.resolve();
  }

  /**
   * Resolves once the agent has sent these keys (in one run), or once `until` aborts (the call is
   * over); rejects after `timeoutMs`.
   */
  waitForKeys(keys: string, timeoutMs: number, until?: AbortSignal): Promise<void> {
    if (this.keysHeard.includes(keys)) return Promise.resolve();
    return callWait(
      (done) => {
        const waiter = { keys, resolve: done };
        this.keyWaiters.push(waiter);
        return () => (this.keyWaiters = this.keyWaiters.filter((w) => w !== waiter));
      },
      { timeoutMs, timeoutError: () => new Error(`the agent did not press ${keys} within ${timeoutMs / 1000} s (heard "${this.keysHeard}")`), until },
    );
  }

  /** Sends PCM down the line at the caller's pace; resolves once its last sample has been sent. */
  private play(pcm: Int16Array): Promise<void> {
    if (this.speech) throw new Error('the emulated caller is already speaking');
    return new Promise((resolve) => {
      this.speech = pcm;
      this.speechPos = 0;
      this.speechDone = () => resolve();
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
