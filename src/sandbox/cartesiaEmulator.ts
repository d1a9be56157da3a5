/**
 * Local emulator of Cartesia's TTS WebSocket (`wss://api.cartesia.ai/tts/websocket`),
 * for driving the real `@livekit/agents-plugin-cartesia` TTS `stream()` without
 * network or keys. (The plugin's `synthesize()` posts to `/tts/bytes` over
 * hard-wired HTTPS, so only the streaming WebSocket path can be emulated.)
 *
 * Audio is {@link synthesizeSpeech}: deterministic speech-like PCM whose length
 * is `msPerChar` (65 ms) per character of each transcript, in the requested
 * encoding and sample rate. Auth: `X-API-Key` header or `api_key` query param;
 * the key selects per-key behaviour (latency overrides, injected errors,
 * dropped connections), falling back to `'default'`.
 *
 * Wire protocol (context API, as the plugin speaks it):
 *  - client → server: generation requests
 *    `{model_id, voice, output_format:{container:'raw', encoding, sample_rate},
 *      language, context_id, transcript, continue, add_timestamps?, …}`
 *    (many per context: `continue:true` pieces, then one `continue:false`),
 *    and `{context_id, cancel:true}`.
 *  - server → client: `{type:'timestamps', word_timestamps:{words,start,end}, …}` (if
 *    add_timestamps), `{type:'chunk', data:<base64>, step_time, status_code:206, done:false, context_id}`,
 *    `{type:'done', done:true, status_code:206, context_id}`, and errors as
 *    `{type:'error', error:<string>, status_code, done:true, context_id}`.
 *    The plugin drops any message missing one of these fields (zod schema).
 */
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  EmulatorServer,
  type EmulatorListenOptions,
  KeyedTable,
  WS_OPEN,
  type WsSocket,
  extractApiKey,
  keyHash,
  nowMs,
  rejectUpgrade,
  sendJson,
  sleep,
  wsDataToBuffer,
} from './emulatorServer.js';
import { DEFAULT_MS_PER_CHAR, encodeMulaw, normaliseSpeechText, synthesizeSpeech } from './speechSignal.js';

// ------------------------------------------------------------------ types

export interface CartesiaEmulatorOptions extends EmulatorListenOptions {
  /** Delay from a context's first non-empty transcript to its first audio chunk. Default 0. */
  firstByteMs?: number;
  /** Audio streamed at this multiple of real time (1 = real time). `Infinity` = no pacing. Default 2. */
  realtimeFactor?: number;
  /** Audio per chunk message. Default 40 ms. */
  chunkMs?: number;
  /** Speech duration per character. Default 65 ms. */
  msPerChar?: number;
  /** Reject connections without an API key (401). Default true. */
  requireKey?: boolean;
}

/** Per-key overrides (set with {@link CartesiaEmulator.setBehaviour}). */
export interface CartesiaKeyBehaviour {
  firstByteMs?: number;
  realtimeFactor?: number;
  msPerChar?: number;
  /** Refuse the WebSocket upgrade with this HTTP status. */
  rejectStatus?: number;
}

export type GenerationOutcome = 'in-progress' | 'done' | 'cancelled' | 'error' | 'dropped' | 'connection-closed';

export interface CartesiaGenerationRecord {
  contextId: string;
  connectionId: string;
  keyHash: string | null;
  /** Every transcript piece received, verbatim, in order. */
  transcripts: string[];
  /** The pieces joined, whitespace-normalised: what was "said". */
  text: string;
  modelId?: string;
  voice?: unknown;
  language?: string;
  encoding?: string;
  sampleRate?: number;
  addTimestamps: boolean;
  /** Epoch ms (fractional) of the first request for this context. */
  requestedAt: number;
  /** First non-whitespace transcript. */
  firstTextAt?: number;
  firstByteAt?: number;
  /** When `continue:false` arrived. */
  inputEndedAt?: number;
  doneAt?: number;
  /** Audio sent, in ms and bytes, and chunk messages. */
  audioMs: number;
  audioBytes: number;
  chunks: number;
  outcome: GenerationOutcome;
  error?: { status: number; message: string };
}

export interface CartesiaConnectionRecord {
  id: string;
  keyHash: string | null;
  /** Cartesia-Version header / cartesia_version query. */
  version?: string;
  connectedAt: number;
  closedAt?: number;
  closeCode?: number;
  contexts: string[];
  /** Messages that could not be parsed / had no context_id. */
  invalidMessages: number;
}

interface Fault {
  kind: 'error' | 'drop';
  status: number;
  message: string;
  afterChunks: number;
}

const SUPPORTED_ENCODINGS = new Set(['pcm_s16le', 'pcm_f32le', 'pcm_mulaw']);

// --------------------------------------------------------------- emulator

export class CartesiaEmulator extends EmulatorServer {
  firstByteMs: number;
  realtimeFactor: number;
  chunkMs: number;
  msPerChar: number;
  requireKey: boolean;

  /** Every generation context, in order of first request. */
  readonly generations: CartesiaGenerationRecord[] = [];
  readonly connections: CartesiaConnectionRecord[] = [];

  #behaviour = new KeyedTable<CartesiaKeyBehaviour>();
  /** Per key, in order: a fault and how many more generations it hits (`Infinity`: the provider is down). */
  #faults = new Map<string, { fault: Fault; remaining: number }[]>();
  #sessions = new Set<TtsSession>();

  constructor(opts: CartesiaEmulatorOptions = {}) {
    super(opts);
    this.firstByteMs = opts.firstByteMs ?? 0;
    this.realtimeFactor = opts.realtimeFactor ?? 2;
    this.chunkMs = opts.chunkMs ?? 40;
    this.msPerChar = opts.msPerChar ?? DEFAULT_MS_PER_CHAR;
    this.requireKey = opts.requireKey ?? true;
  }

  /** `http://127.0.0.1:<port>` — the plugin's `baseUrl` (it swaps http→ws itself). */
  get url(): string {
    return this.httpUrl;
  }

  /** `ws://127.0.0.1:<port>/tts/websocket` */
  get websocketUrl(): string {
    return `ws://${this.host}:${this.port}/tts/websocket`;
  }

  setBehaviour(key: string, behaviour: CartesiaKeyBehaviour): this {
    this.#behaviour.set(key, behaviour);
    return this;
  }

  /**
   * The next `count` generations for `key` fail: at their first request (or
   * after `afterChunks` audio chunks) the emulator sends
   * `{type:'error', status_code: status, done:true}` for the context. 5xx is
   * fatal for the plugin (retryable APIStatusError), 4xx is logged and ends the
   * generation quietly. `count: Infinity`: every generation from now on (the
   * provider is down).
   */
  failNext(key: string, o: { status?: number; message?: string; afterChunks?: number; count?: number } = {}): this {
    return this.#addFault(key, 'error', o);
  }

  /** The next `count` generations for `key` lose their socket (terminated) after `afterChunks` chunks (default 1). */
  dropNext(key: string, o: { afterChunks?: number; count?: number } = {}): this {
    return this.#addFault(key, 'drop', { afterChunks: 1, ...o });
  }

  #addFault(key: string, kind: Fault['kind'], o: { status?: number; message?: string; afterChunks?: number; count?: number }): this {
    const list = this.#faults.get(key) ?? [];
    list.push({
      fault: {
        kind,
        status: o.status ?? 500,
        message: o.message ?? (kind === 'drop' ? 'sandbox: connection dropped' : 'sandbox: injected generation failure'),
        afterChunks: o.afterChunks ?? 0,
      },
      remaining: o.count ?? 1,
    });
    this.#faults.set(key, list);
    return this;
  }

  generationsFor(key: string): CartesiaGenerationRecord[] {
    const h = keyHash(key);
    return this.generations.filter((g) => g.keyHash === h);
  }

  connectionsFor(key: string): CartesiaConnectionRecord[] {
    const h = keyHash(key);
    return this.connections.filter((c) => c.keyHash === h);
  }

  /** @internal */
  _behaviourFor(key: string | undefined): CartesiaKeyBehaviour {
    return this.#behaviour.get(key) ?? {};
  }

  /** @internal */
  _takeFault(key: string | undefined): Fault | undefined {
    if (key === undefined) return undefined;
    const list = this.#faults.get(key);
    const next = list?.[0];
    if (!next) return undefined;
    if (--next.remaining <= 0) list.shift();
    return next.fault;
  }

  /** @internal */
  get _lifetime(): AbortSignal {
    return this.lifetime;
  }

  protected override onClose(): void {
    for (const s of this.#sessions) s.abort('connection-closed');
    this.#sessions.clear();
  }

  protected handleRequest(req: IncomingMessage, res: ServerResponse): void {
    sendJson(res, 404, {
      error: `sandbox Cartesia emulator only serves the WebSocket at /tts/websocket (got ${req.method} ${req.url}); /tts/bytes is not emulated`,
    });
  }

  protected override async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname.replace(/\/+$/, '') !== '/tts/websocket') {
      rejectUpgrade(socket, 404, { error: `no such endpoint ${url.pathname}` });
      return;
    }
    const key = extractApiKey(req, url);
    if (this.requireKey && !key) {
      rejectUpgrade(socket, 401, { error: 'Missing API key: send X-API-Key or api_key' });
      return;
    }
    const behaviour = this._behaviourFor(key);
    if (behaviour.rejectStatus) {
      rejectUpgrade(socket, behaviour.rejectStatus, { error: `sandbox: connection rejected with ${behaviour.rejectStatus}` });
      return;
    }
    const versionHeader = req.headers['cartesia-version'];
    const version = (Array.isArray(versionHeader) ? versionHeader[0] : versionHeader) ?? url.searchParams.get('cartesia_version') ?? undefined;
    const record: CartesiaConnectionRecord = {
      id: randomUUID(),
      keyHash: keyHash(key),
      ...(version ? { version } : {}),
      connectedAt: nowMs(),
      contexts: [],
      invalidMessages: 0,
    };
    const ws = await this.acceptUpgrade(req, socket, head);
    this.connections.push(record);
    const session = new TtsSession(this, ws, record, key);
    this.#sessions.add(session);
    ws.on('close', () => this.#sessions.delete(session));
  }
}

// ---------------------------------------------------------------- session

interface GenerationRequest {
  context_id?: unknown;
  transcript?: unknown;
  continue?: unknown;
  cancel?: unknown;
  model_id?: unknown;
  voice?: unknown;
  language?: unknown;
  add_timestamps?: unknown;
  output_format?: { container?: unknown; encoding?: unknown; sample_rate?: unknown };
}

class TtsSession {
  readonly #emu: CartesiaEmulator;
  readonly #ws: WsSocket;
  readonly #record: CartesiaConnectionRecord;
  readonly #key: string | undefined;
  readonly #contexts = new Map<string, Generation>();
  readonly #abort = new AbortController();

  constructor(emu: CartesiaEmulator, ws: WsSocket, record: CartesiaConnectionRecord, key: string | undefined) {
    this.#emu = emu;
    this.#ws = ws;
    this.#record = record;
    this.#key = key;
    setMaxListeners(0, this.#abort.signal); // one listener per generation on this socket
    emu._lifetime.addEventListener('abort', () => this.#abort.abort(), { once: true });
    ws.on('message', (data: unknown) => this.#onMessage(wsDataToBuffer(data).toString('utf8')));
    ws.on('close', (code: number) => {
      record.closedAt = nowMs();
      record.closeCode = code;
      this.abort('connection-closed');
    });
  }

  get key(): string | undefined {
    return this.#key;
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  abort(outcome: GenerationOutcome): void {
    for (const g of this.#contexts.values()) g.stop(outcome);
    this.#abort.abort();
  }

  send(msg: unknown): boolean {
    if (this.#ws.readyState !== WS_OPEN) return false;
    this.#ws.send(JSON.stringify(msg));
    return true;
  }

  sendError(contextId: string, status: number, message: string): void {
    this.send({ type: 'error', context_id: contextId, status_code: status, done: true, error: message });
  }

  terminate(): void {
    this.abort('dropped');
    this.#ws.terminate();
  }

  #onMessage(text: string): void {
    let msg: GenerationRequest;
    try {
      msg = JSON.parse(text) as GenerationRequest;
      if (!msg || typeof msg !== 'object') throw new Error('not an object');
    } catch {
      this.#record.invalidMessages++;
      this.sendError('', 400, 'Invalid message: expected a JSON object');
      return;
    }
    const contextId = typeof msg.context_id === 'string' ? msg.context_id : '';
    if (!contextId) {
      this.#record.invalidMessages++;
      this.sendError('', 400, 'context_id is required');
      return;
    }
    const existing = this.#contexts.get(contextId);

    if (msg.cancel === true) {
      existing?.stop('cancelled');
      return;
    }

    if (existing && existing.finished) {
      this.sendError(contextId, 400, `Context ${contextId} has already been closed`);
      return;
    }

    let gen = existing;
    if (!gen) {
      const fmt = msg.output_format ?? {};
      const record: CartesiaGenerationRecord = {
        contextId,
        connectionId: this.#record.id,
        keyHash: this.#record.keyHash,
        transcripts: [],
        text: '',
        ...(typeof msg.model_id === 'string' ? { modelId: msg.model_id } : {}),
        ...(msg.voice !== undefined ? { voice: msg.voice } : {}),
        ...(typeof msg.language === 'string' ? { language: msg.language } : {}),
        ...(typeof fmt.encoding === 'string' ? { encoding: fmt.encoding } : {}),
        ...(typeof fmt.sample_rate === 'number' ? { sampleRate: fmt.sample_rate } : {}),
        addTimestamps: msg.add_timestamps === true,
        requestedAt: nowMs(),
        audioMs: 0,
        audioBytes: 0,
        chunks: 0,
        outcome: 'in-progress',
      };
      this.#emu.generations.push(record);
      this.#record.contexts.push(contextId);
      gen = new Generation(this.#emu, this, record);
      this.#contexts.set(contextId, gen);

      const problem = validate(msg);
      if (problem) {
        gen.fail(400, problem);
        return;
      }
      const fault = this.#emu._takeFault(this.#key);
      if (fault) gen.fault = fault;
    }
    if (typeof msg.transcript !== 'string') {
      gen.fail(400, 'transcript must be a string');
      return;
    }
    gen.push(msg.transcript, msg.continue === true);
  }
}

function validate(msg: GenerationRequest): string | undefined {
  if (typeof msg.model_id !== 'string' || !msg.model_id) return 'model_id is required';
  if (!msg.voice || typeof msg.voice !== 'object') return 'voice is required';
  const fmt = msg.output_format;
  if (!fmt || typeof fmt !== 'object') return 'output_format is required';
  if (fmt.container !== 'raw') return `sandbox emulator only supports output_format.container "raw" (got ${String(fmt.container)})`;
  if (typeof fmt.encoding !== 'string' || !SUPPORTED_ENCODINGS.has(fmt.encoding)) {
    return `unsupported output_format.encoding ${String(fmt.encoding)} (sandbox supports ${[...SUPPORTED_ENCODINGS].join(', ')})`;
  }
  const sr = fmt.sample_rate;
  if (typeof sr !== 'number' || !Number.isInteger(sr) || sr < 8000 || sr > 48000) return `invalid output_format.sample_rate ${String(sr)}`;
  return undefined;
}

class Generation {
  readonly record: CartesiaGenerationRecord;
  fault: Fault | undefined;
  readonly #emu: CartesiaEmulator;
  readonly #session: TtsSession;
  readonly #pending: string[] = [];
  #inputDone = false;
  #finished = false;
  #running = false;
  #wake: (() => void) | undefined;
  #nextSendAt = 0;
  #cursorSec = 0;
  readonly #stop = new AbortController();

  constructor(emu: CartesiaEmulator, session: TtsSession, record: CartesiaGenerationRecord) {
    this.#emu = emu;
    this.#session = session;
    this.record = record;
    session.signal.addEventListener('abort', () => this.#stop.abort(), { once: true });
  }

  get finished(): boolean {
    return this.#finished;
  }

  push(transcript: string, cont: boolean): void {
    this.record.transcripts.push(transcript);
    this.record.text = normaliseSpeechText(this.record.transcripts.join(''));
    if (transcript.trim() && this.record.firstTextAt === undefined) this.record.firstTextAt = nowMs();
    this.#pending.push(transcript);
    if (!cont) {
      this.#inputDone = true;
      this.record.inputEndedAt = nowMs();
    }
    this.#wake?.();
    if (!this.#running) {
      this.#running = true;
      void this.#run().finally(() => (this.#running = false));
    }
  }

  fail(status: number, message: string): void {
    if (this.#finished) return;
    this.#finished = true;
    this.record.outcome = 'error';
    this.record.error = { status, message };
    this.record.doneAt = nowMs();
    this.#session.sendError(this.record.contextId, status, message);
    this.#stop.abort();
    this.#wake?.();
  }

  stop(outcome: GenerationOutcome): void {
    if (this.#finished) return;
    this.#finished = true;
    this.record.outcome = outcome;
    this.record.doneAt = nowMs();
    this.#stop.abort();
    this.#wake?.();
  }

  get #behaviour(): CartesiaKeyBehaviour {
    return this.#emu._behaviourFor(this.#session.key);
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    const sampleRate = this.record.sampleRate!;
    const encoding = this.record.encoding!;
    const b = this.#behaviour;
    const msPerChar = b.msPerChar ?? this.#emu.msPerChar;
    const factor = b.realtimeFactor ?? this.#emu.realtimeFactor;
    const chunkSamples = Math.max(1, Math.round((this.#emu.chunkMs * sampleRate) / 1000));

    if (this.fault && this.fault.kind === 'error' && this.fault.afterChunks === 0) {
      this.fail(this.fault.status, this.fault.message);
      return;
    }

    while (!signal.aborted && !this.#finished) {
      const piece = this.#pending.shift();
      if (piece === undefined) {
        if (this.#inputDone) break;
        await new Promise<void>((r) => (this.#wake = r));
        this.#wake = undefined;
        continue;
      }
      const text = normaliseSpeechText(piece);
      if (!text) continue;

      // Synthesise first, so the first-byte delay is not stretched by synthesis time.
      const pcm = synthesizeSpeech(text, { sampleRate, msPerChar });
      if (this.record.firstByteAt === undefined) {
        const firstByteMs = b.firstByteMs ?? this.#emu.firstByteMs;
        const wait = this.record.firstTextAt! + firstByteMs - nowMs();
        if (!(await sleep(wait, signal))) return;
        this.#nextSendAt = nowMs();
      }
      const durSec = pcm.length / sampleRate;
      if (this.record.addTimestamps) {
        const words: string[] = [];
        const start: number[] = [];
        const end: number[] = [];
        const re = /\S+/g;
        let m: RegExpExecArray | null;
        while ((m = re.exec(text))) {
          words.push(m[0]);
          start.push(round3(this.#cursorSec + (m.index * msPerChar) / 1000));
          end.push(round3(this.#cursorSec + ((m.index + m[0].length) * msPerChar) / 1000));
        }
        this.#session.send({
          type: 'timestamps',
          context_id: this.record.contextId,
          status_code: 206,
          done: false,
          word_timestamps: { words, start, end },
        });
      }
      this.#cursorSec += durSec;

      for (let o = 0; o < pcm.length; o += chunkSamples) {
        if (Number.isFinite(factor) && factor > 0) {
          if (!(await sleep(this.#nextSendAt - nowMs(), signal))) return;
        } else {
          await new Promise<void>((r) => setImmediate(r));
          if (signal.aborted) return;
        }
        if (this.#finished) return;
        const slice = pcm.subarray(o, Math.min(pcm.length, o + chunkSamples));
        const bytes = encode(slice, encoding);
        const sent = this.#session.send({
          type: 'chunk',
          data: bytes.toString('base64'),
          step_time: round3((slice.length / sampleRate) * 1000 * 0.2),
          status_code: 206,
          done: false,
          context_id: this.record.contextId,
        });
        if (!sent) {
          this.stop('connection-closed');
          return;
        }
        if (this.record.firstByteAt === undefined) this.record.firstByteAt = nowMs();
        this.record.chunks++;
        this.record.audioBytes += bytes.length;
        this.record.audioMs = round3(this.record.audioMs + (slice.length / sampleRate) * 1000);
        if (Number.isFinite(factor) && factor > 0) {
          this.#nextSendAt = Math.max(this.#nextSendAt, nowMs() - 50) + (slice.length / sampleRate) * (1000 / factor);
        }

        const f = this.fault;
        if (f && this.record.chunks >= f.afterChunks && f.afterChunks > 0) {
          this.fault = undefined;
          if (f.kind === 'drop') {
            this.#session.terminate();
          } else {
            this.fail(f.status, f.message);
          }
          return;
        }
      }
    }

    if (signal.aborted || this.#finished) return;
    if (!this.record.text) {
      // What Cartesia does for a context that never had any text (e.g. a tool-call-only turn).
      this.fail(400, 'No transcript was provided for this context');
      return;
    }
    this.#finished = true;
    this.record.outcome = 'done';
    this.record.doneAt = nowMs();
    this.#session.send({ type: 'done', context_id: this.record.contextId, status_code: 206, done: true });
  }
}

function encode(pcm: Int16Array, encoding: string): Buffer {
  switch (encoding) {
    case 'pcm_f32le': {
      const b = Buffer.alloc(pcm.length * 4);
      for (let i = 0; i < pcm.length; i++) b.writeFloatLE(pcm[i]! / 32768, i * 4);
      return b;
    }
    case 'pcm_mulaw':
      return Buffer.from(encodeMulaw(pcm));
    default: {
      const b = Buffer.alloc(pcm.length * 2);
      for (let i = 0; i < pcm.length; i++) b.writeInt16LE(pcm[i]!, i * 2);
      return b;
    }
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
