/**
 * The whole outside world on loopback: LiveKit's server API, OpenAI, Deepgram and Cartesia
 * (`Sandbox`), or LiveKit's server API alone for calls with real providers (`LiveKitSandbox`).
 *
 * `switchboard sandbox`, `switchboard simulate`, the benchmarks and the tests all start the same
 * bundle, with the same fixed provider latencies, so a figure measured in one is a figure in all.
 */
import { SipClient } from 'livekit-server-sdk';
import { CartesiaEmulator } from './cartesiaEmulator.js';
import { DeepgramEmulator } from './deepgramEmulator.js';
import { LiveKitApiEmulator } from './livekitApi.js';
import { type Brain, OpenAIEmulator } from './openaiEmulator.js';

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

/** The LiveKit side of a sandbox: all a simulated call with real providers (`simulate --live`) drives. */
export interface SimLiveKit {
  readonly livekit: {
    env(): { LIVEKIT_URL: string; LIVEKIT_API_KEY: string; LIVEKIT_API_SECRET: string };
    setOutcome(number: string, outcome: 'answer' | 'busy' | 'no_answer' | 'rejected' | 'invalid' | 'voicemail' | 'error'): void;
    joinParticipant(room: string, init: { identity: string; kind?: 'sip' | 'standard'; attributes?: Record<string, string> }): unknown;
    onRoomDeleted(cb: (ev: { room: string }) => void): () => void;
    /** Every sip.callStatus change of a SIP participant (dialing, ringing, active, hangup). */
    onCallStatus(cb: (ev: { room: string; identity: string; status: string }) => void): () => void;
    count(method: string, body?: Record<string, unknown>): number;
  };
}

/**
 * The part of a sandbox a simulated call drives. A call running in another process (as the
 * production worker runs each job) can be handed a proxy implementing just this.
 */
export interface SimSandbox extends SimLiveKit {
  readonly msPerChar: number | undefined;
  readonly openai: {
    setBrain(key: string, brain: Brain): void;
    removeBrain(key: string): void;
  };
  readonly deepgram: {
    expect(key: string, ...texts: string[]): void;
    /** Provider faults (scenario `fault:` steps); the in-process sandbox has them. */
    dropConnections?(key: string): number;
    setBehaviour?(key: string, behaviour: { rejectStatus?: number }): unknown;
  };
  readonly cartesia?: {
    failNext(key: string, o: { status?: number; message?: string; count?: number }): unknown;
    /** What was synthesised for a key (the in-process sandbox has it): each line's text and length. */
    generationsFor?(key: string): readonly { text: string; audioMs: number; outcome?: string }[];
  };
}

/**
 * LiveKit's server API alone, with the outbound trunk calls are dialled through: the world of a
 * simulated call whose providers are real. No provider emulator is started.
 */
export class LiveKitSandbox implements SimLiveKit {
  readonly livekit: LiveKitApiEmulator;
  /** The outbound trunk calls are dialled through (created in the emulator, like `setup sip`). */
  outboundTrunkId = '';

  protected constructor(opts: Pick<SandboxOptions, 'ports'>) {
    this.livekit = new LiveKitApiEmulator({ port: opts.ports?.livekit ?? 0 });
  }

  static async start(opts: Pick<SandboxOptions, 'ports'> = {}): Promise<LiveKitSandbox> {
    const s = new LiveKitSandbox(opts);
    await s.open();
    return s;
  }

  /** Starts the emulator and creates the outbound trunk. */
  protected async open(): Promise<void> {
    await this.livekit.start();
    const { LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET } = this.livekit.env();
    const sip = new SipClient(LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET);
    const trunk = await sip.createSipOutboundTrunk('sandbox-outbound', 'sip.sandbox.invalid', ['+15550000000']);
    this.outboundTrunkId = trunk.sipTrunkId;
  }

  /** Environment that points the worker and the CLI at this LiveKit API. */
  env(): Record<string, string> {
    return { ...this.livekit.env(), SIP_OUTBOUND_TRUNK_ID: this.outboundTrunkId, CALLER_ID: '+15550000000' };
  }

  async close(): Promise<void> {
    await this.livekit.close();
  }
}

/**
 * The provider emulators alone (OpenAI, Deepgram, Cartesia) with the fixed latencies: the world of
 * a call whose LiveKit side is real (`switchboard stack`, the e2e suite), and the providers half
 * of `Sandbox`.
 */
export class ProviderEmulators {
  readonly openai: OpenAIEmulator;
  readonly deepgram: DeepgramEmulator;
  readonly cartesia: CartesiaEmulator;
  readonly latencies: SandboxLatencies;

  constructor(opts: Omit<SandboxOptions, 'ports'> & { ports?: Omit<NonNullable<SandboxOptions['ports']>, 'livekit'> } = {}) {
    this.latencies = { ...DEFAULT_LATENCIES, ...opts.latencies };
    this.openai = new OpenAIEmulator({ firstTokenMs: this.latencies.llmFirstTokenMs, port: opts.ports?.openai ?? 0 });
    this.deepgram = new DeepgramEmulator({ finalDelayMs: this.latencies.sttFinalMs, port: opts.ports?.deepgram ?? 0 });
    this.cartesia = new CartesiaEmulator({
      firstByteMs: this.latencies.ttsFirstByteMs,
      msPerChar: opts.msPerChar,
      port: opts.ports?.cartesia ?? 0,
    });
  }

  async start(): Promise<this> {
    await Promise.all([this.openai.start(), this.deepgram.start(), this.cartesia.start()]);
    return this;
  }

  /** Environment that points the worker's providers here, under one key (the emulators route by key). */
  env(key = 'sandbox'): Record<string, string> {
    return {
      OPENAI_BASE_URL: this.openai.baseURL,
      OPENAI_API_KEY: key,
      DEEPGRAM_BASE_URL: this.deepgram.url,
      DEEPGRAM_API_KEY: key,
      CARTESIA_BASE_URL: this.cartesia.url,
      CARTESIA_API_KEY: key,
      STT_PROVIDERS: 'deepgram',
      TTS_PROVIDERS: 'cartesia',
    };
  }

  async close(): Promise<void> {
    await Promise.all([this.openai.close(), this.deepgram.close(), this.cartesia.close()]);
  }
}

export class Sandbox extends LiveKitSandbox implements SimSandbox {
  readonly openai: OpenAIEmulator;
  readonly deepgram: DeepgramEmulator;
  readonly cartesia: CartesiaEmulator;
  readonly latencies: SandboxLatencies;
  readonly msPerChar: number | undefined;
  readonly #providers: ProviderEmulators;

  private constructor(opts: SandboxOptions) {
    super(opts);
    this.#providers = new ProviderEmulators(opts);
    ({ openai: this.openai, deepgram: this.deepgram, cartesia: this.cartesia, latencies: this.latencies } = this.#providers);
    this.msPerChar = opts.msPerChar;
  }

  static override async start(opts: SandboxOptions = {}): Promise<Sandbox> {
    const s = new Sandbox(opts);
    await Promise.all([s.open(), s.#providers.start()]);
    return s;
  }

  /** Environment that points the worker and the CLI at this sandbox. No real keys involved. */
  override env(): Record<string, string> {
    return { ...super.env(), ...this.#providers.env('sandbox') };
  }

  override async close(): Promise<void> {
    await Promise.all([super.close(), this.#providers.close()]);
  }
}
