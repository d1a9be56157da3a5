/**
 * The emulated caller's voice when the providers are real (`switchboard simulate --live`): a real
 * STT needs real speech, so each scripted line is spoken by the real Cartesia TTS, in a voice of
 * its own (SIMULATE_CALLER_VOICE, not the agent's CARTESIA_VOICE). One generation per line, each
 * line voiced once per run (a scenario played twice, or two scenarios sharing a line, pay once).
 * The audio is then played by the emulated caller through the same phone leg as offline speech.
 */
import { type APIConnectOptions, tts } from '@livekit/agents';
import * as cartesia from '@livekit/agents-plugin-cartesia';
import type { Config } from '../config.js';
import { concatPcm } from '../sandbox/speechSignal.js';

export interface CallerVoiceOptions {
  apiKey: string;
  /** Cartesia voice id. */
  voice: string;
  model: string;
  /** Endpoint override (a proxy, or the sandbox's Cartesia emulator in tests). */
  baseUrl?: string;
}

/** One retry: a line that cannot be voiced stops the run before the call, with the reason. */
const CONN_OPTIONS: APIConnectOptions = { maxRetry: 1, retryIntervalMs: 500, timeoutMs: 15_000 };

export class CallerVoice {
  /** One TTS per sample rate (phone lines want 8 kHz, a browser session 24 kHz). */
  private readonly engines = new Map<number, cartesia.TTS>();
  private readonly lines = new Map<string, Promise<Int16Array>>();

  constructor(private readonly opts: CallerVoiceOptions) {}

  /** The caller's voice from config: the Cartesia key, model and endpoint the agent uses, another voice. */
  static fromConfig(config: Config, voice = config.SIMULATE_CALLER_VOICE): CallerVoice {
    if (!config.CARTESIA_API_KEY) throw new Error('the caller voice needs CARTESIA_API_KEY');
    return new CallerVoice({
      apiKey: config.CARTESIA_API_KEY,
      voice,
      model: config.CARTESIA_MODEL,
      ...(config.CARTESIA_BASE_URL ? { baseUrl: config.CARTESIA_BASE_URL } : {}),
    });
  }

  /** The line as mono PCM at `rate`: synthesised on first use, from this run's cache after. */
  speak(text: string, rate: number): Promise<Int16Array> {
    const key = `${rate}\n${text}`;
    let line = this.lines.get(key);
    if (!line) {
      line = this.synthesize(text, rate);
      // A failure is not cached: the next call may ask again.
      line.catch(() => this.lines.delete(key));
      this.lines.set(key, line);
    }
    return line;
  }

  async close(): Promise<void> {
    await Promise.all([...this.engines.values()].map((e) => e.close()));
    this.engines.clear();
  }

  private engine(rate: number): cartesia.TTS {
    let engine = this.engines.get(rate);
    if (!engine) {
      engine = new cartesia.TTS({
        apiKey: this.opts.apiKey,
        model: this.opts.model,
        voice: this.opts.voice,
        sampleRate: rate,
        wordTimestamps: false,
        ...(this.opts.baseUrl ? { baseUrl: this.opts.baseUrl } : {}),
      });
      this.engines.set(rate, engine);
    }
    return engine;
  }

  private async synthesize(text: string, rate: number): Promise<Int16Array> {
    const engine = this.engine(rate);
    let failure: Error | undefined;
    const onError = (ev: { error: Error }) => (failure = ev.error);
    engine.on('error', onError);
    const stream = engine.stream({ connOptions: CONN_OPTIONS });
    const parts: Int16Array[] = [];
    try {
      stream.pushText(text);
      stream.endInput();
      for await (const ev of stream) {
        if (ev === tts.SynthesizeStream.END_OF_STREAM) continue;
        parts.push(new Int16Array(ev.frame.data));
      }
    } finally {
      stream.close();
      engine.off('error', onError);
    }
    if (parts.length === 0) {
      throw new Error(`Cartesia gave no audio for the caller's line ${JSON.stringify(text)}${failure ? `: ${failure.message}` : ''}`);
    }
    return concatPcm(...parts);
  }
}
