/**
 * The whole outside world on loopback: LiveKit's server API, OpenAI, Deepgram and Cartesia.
 *
 * `switchboard sandbox`, `switchboard simulate`, the benchmarks and the tests all start the same
 * bundle, with the same fixed provider latencies, so a figure measured in one is a figure in all.
 */
import { CartesiaEmulator } from './cartesiaEmulator.js';
import { DeepgramEmulator } from './deepgramEmulator.js';
import { LiveKitApiEmulator } from './livekitApi.js';
import { OpenAIEmulator } from './openaiEmulator.js';

/** Fixed provider latencies (ms). Benchmarks subtract exactly these. */
export interface SandboxLatencies {
  /** Deepgram: end of speech detected → final transcript sent. */
  sttFinalMs: number;
  /** OpenAI: request → first token. */
  llmFirstTokenMs: number;
  /** Cartesia: first text → first audio. */
  ttsFirstByteMs: number;
}

/** The reference baseline's figures (shared/reference: STT 50, LLM 200, TTS 100). */
export const DEFAULT_LATENCIES: SandboxLatencies = { sttFinalMs: 50, llmFirstTokenMs: 200, ttsFirstByteMs: 100 };

export interface SandboxOptions {
  latencies?: Partial<SandboxLatencies>;
  /** Speech length per character for synthetic voices (shorter = faster tests). */
  msPerChar?: number;
  /** Fixed ports (the `sandbox` command); 0 = any free port. */
  ports?: { livekit?: number; openai?: number; deepgram?: number; cartesia?: number };
}

export class Sandbox {
  readonly livekit: LiveKitApiEmulator;
  readonly openai: OpenAIEmulator;
  readonly deepgram: DeepgramEmulator;
  readonly cartesia: CartesiaEmulator;
  readonly latencies: SandboxLatencies;
  readonly msPerChar: number | undefined;

  private constructor(opts: SandboxOptions) {
    this.latencies = { ...DEFAULT_LATENCIES, ...opts.latencies };
    this.msPerChar = opts.msPerChar;
    this.livekit = new LiveKitApiEmulator({ port: opts.ports?.livekit ?? 0 });
    this.openai = new OpenAIEmulator({ firstTokenMs: this.latencies.llmFirstTokenMs, port: opts.ports?.openai ?? 0 });
    this.deepgram = new DeepgramEmulator({ finalDelayMs: this.latencies.sttFinalMs, port: opts.ports?.deepgram ?? 0 });
    this.cartesia = new CartesiaEmulator({
      firstByteMs: this.latencies.ttsFirstByteMs,
      msPerChar: opts.msPerChar,
      port: opts.ports?.cartesia ?? 0,
    });
  }

  static async start(opts: SandboxOptions = {}): Promise<Sandbox> {
    const s = new Sandbox(opts);
    await Promise.all([s.livekit.start(), s.openai.start(), s.deepgram.start(), s.cartesia.start()]);
    return s;
  }

  /** Environment that points the worker and the CLI at this sandbox. No real keys involved. */
  env(): Record<string, string> {
    return {
      ...this.livekit.env(),
      OPENAI_BASE_URL: this.openai.baseURL,
      OPENAI_API_KEY: 'sandbox',
      DEEPGRAM_BASE_URL: this.deepgram.url,
      DEEPGRAM_API_KEY: 'sandbox',
      CARTESIA_BASE_URL: this.cartesia.url,
      CARTESIA_API_KEY: 'sandbox',
      STT_PROVIDERS: 'deepgram',
      TTS_PROVIDERS: 'cartesia',
    };
  }

  async close(): Promise<void> {
    await Promise.all([this.livekit.close(), this.openai.close(), this.deepgram.close(), this.cartesia.close()]);
  }
}
