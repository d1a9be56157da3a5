/**
 * Local emulator of Deepgram's streaming speech-to-text WebSocket
 * (`wss://api.deepgram.com/v1/listen`), for driving the real
 * `@livekit/agents-plugin-deepgram` STT without network or keys.
 *
 * It does not recognise speech. It segments the incoming linear16 PCM by energy
 * (see {@link EnergySegmenter}) and, at the end of each segment, answers with
 * the next transcript queued for the connection's API key
 * (`Authorization: Token <key>`): `emu.expect(key, 'I need to reschedule')`.
 * Keys without a queue of their own use the `'default'` queue. When the queue
 * is empty the final transcript is {@link DeepgramEmulatorOptions.fallbackTranscript}
 * (default `''`, which is what Deepgram sends for non-speech: the plugin then
 * emits END_OF_SPEECH but no FINAL_TRANSCRIPT), and the segment is recorded
 * with `scripted: false`.
 *
 * Wire protocol (as the plugin speaks it):
 *  - query: model, language, encoding=linear16, sample_rate, channels,
 *    interim_results, endpointing (ms or `false`), vad_events, utterance_end_ms,
 *    punctuate, smart_format, … (all recorded; unknown ones ignored)
 *  - client → server: binary PCM; text `{"type":"KeepAlive"}`, `{"type":"Finalize"}`,
 *    `{"type":"CloseStream"}`
 *  - server → client: `SpeechStarted` (when vad_events=true), `Results`
 *    (interim: is_final=false; final: is_final=true, speech_final=true when
 *    endpointing is on), `UtteranceEnd` (when utterance_end_ms is set), and
 *    `Metadata` in reply to CloseStream, after which the server closes (1000).
 */
import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  DEFAULT_KEY,
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
  wsDataToBuffer,
} from './emulatorServer.js';
import { EnergySegmenter, type SegmenterEvent } from './speechSignal.js';

// ------------------------------------------------------------------ types

export interface DeepgramEmulatorOptions extends EmulatorListenOptions {
  /** Delay between detecting the end of a segment and sending its final result. Default 0. */
  finalDelayMs?: number;
  /**
   * Force the trailing silence (ms) that ends a segment, ignoring the
   * `endpointing` query parameter. Default: honour the query parameter.
   */
  endpointingMs?: number;
  /** Segment-ending silence when the query says `endpointing=false` or omits it. Default 300. */
  defaultEndpointingMs?: number;
  /**
   * Lower bound for the query's `endpointing` (the plugin's default is 25 ms).
   * Models Deepgram's VAD hangover: stop closures and short pauses inside one
   * utterance do not end it. Default 100.
   */
  minEndpointingMs?: number;
  /** RMS (fraction of full scale) above which a 10 ms window is speech. Default 0.01 (−40 dBFS). */
  energyThreshold?: number;
  /** Speech needed to open a segment. Default 60 ms. */
  minSpeechMs?: number;
  /** Interim result cadence (audio ms) while speech is ongoing, if interim_results=true. 0 disables. Default 500. */
  interimIntervalMs?: number;
  /** Final transcript when the key's queue is empty. Default '' (no FINAL_TRANSCRIPT event downstream). */
  fallbackTranscript?: string;
  /**
   * Wall-clock fallback: end an open segment if no audio at all arrives for
   * this long (the client stopped sending mid-speech). Default
   * max(endpointing, 300) + 200 ms.
   */
  idleTimeoutMs?: number;
  /** Reject connections without an API key (401). Default true. */
  requireKey?: boolean;
}

/** Per-key overrides (set with {@link DeepgramEmulator.setBehaviour}). */
export interface DeepgramKeyBehaviour {
  finalDelayMs?: number;
  endpointingMs?: number;
  fallbackTranscript?: string;
  /** Refuse the WebSocket upgrade with this HTTP status (e.g. 401, 429, 503). */
  rejectStatus?: number;
}

export type SegmentEndReason = 'endpointing' | 'finalize' | 'close-stream' | 'idle-timeout';

export interface SttSegmentRecord {
  /** Connection (= Deepgram request_id). */
  connectionId: string;
  keyHash: string | null;
  /** 0-based index within the connection. */
  index: number;
  /** Speech start / end in stream audio seconds (what Deepgram reports as start/duration). */
  startSec: number;
  endSec: number;
  /** Epoch ms (fractional) when the start of speech was detected. */
  speechStartedAt: number;
  /** Epoch ms when the audio message holding the last speech window arrived. */
  lastSpeechAt: number;
  /** Epoch ms when the end of the segment was decided. */
  endDetectedAt: number;
  /** Epoch ms when the final result was written (undefined if the socket was gone). */
  finalSentAt?: number;
  endReason: SegmentEndReason;
  transcript: string;
  /** false when the key's queue was empty and the fallback transcript was used. */
  scripted: boolean;
  speechFinal: boolean;
  interimsSent: number;
}

export interface DeepgramConnectionRecord {
  /** Deepgram request_id for this connection. */
  id: string;
  keyHash: string | null;
  /** Raw query parameters (repeated ones as arrays). */
  params: Record<string, string | string[]>;
  model: string;
  encoding: string;
  sampleRate: number;
  channels: number;
  interimResults: boolean;
  vadEvents: boolean;
  /** Effective segment-ending silence. */
  endpointingMs: number;
  /** Whether finals carry speech_final=true (endpointing not disabled). */
  endpointingEnabled: boolean;
  utteranceEndMs?: number;
  connectedAt: number;
  closedAt?: number;
  closeCode?: number;
  audioBytes: number;
  /** Binary audio messages received: with audioBytes, the client's chunk size. */
  audioMessages: number;
  /** Audio seconds received (per channel). */
  audioSec: number;
  keepAlives: number;
  finalizes: number;
  closeStreamAt?: number;
  /** Text messages that were not KeepAlive/Finalize/CloseStream. */
  unknownMessages: string[];
  segments: SttSegmentRecord[];
}

/** FIFO of transcripts for one key. */
export class TranscriptQueue {
  #items: string[] = [];
  push(...texts: string[]): this {
    this.#items.push(...texts);
    return this;
  }
  shift(): string | undefined {
    return this.#items.shift();
  }
  peek(): string | undefined {
    return this.#items[0];
  }
  clear(): void {
    this.#items.length = 0;
  }
  get pending(): readonly string[] {
    return [...this.#items];
  }
  get length(): number {
    return this.#items.length;
  }
}

// --------------------------------------------------------------- emulator

export class DeepgramEmulator extends EmulatorServer {
  finalDelayMs: number;
  endpointingMs: number | undefined;
  defaultEndpointingMs: number;
  minEndpointingMs: number;
  energyThreshold: number;
  minSpeechMs: number;
  interimIntervalMs: number;
  fallbackTranscript: string;
  idleTimeoutMs: number | undefined;
  requireKey: boolean;

  /** Every connection, in arrival order. */
  readonly connections: DeepgramConnectionRecord[] = [];

  #queues = new KeyedTable<TranscriptQueue>(new TranscriptQueue());
  #behaviour = new KeyedTable<DeepgramKeyBehaviour>();
  #sessions = new Set<ListenSession>();
  #segmentListeners = new Set<(s: SttSegmentRecord) => void>();

  constructor(opts: DeepgramEmulatorOptions = {}) {
    super(opts);
    this.finalDelayMs = opts.finalDelayMs ?? 0;
    this.endpointingMs = opts.endpointingMs;
    this.defaultEndpointingMs = opts.defaultEndpointingMs ?? 300;
    this.minEndpointingMs = opts.minEndpointingMs ?? 100;
    this.energyThreshold = opts.energyThreshold ?? 0.01;
    this.minSpeechMs = opts.minSpeechMs ?? 60;
    this.interimIntervalMs = opts.interimIntervalMs ?? 500;
    this.fallbackTranscript = opts.fallbackTranscript ?? '';
    this.idleTimeoutMs = opts.idleTimeoutMs;
    this.requireKey = opts.requireKey ?? true;
  }

  /** `ws://127.0.0.1:<port>` — the plugin's `baseUrl`. */
  get url(): string {
    return `ws://${this.host}:${this.port}`;
  }

  /** The transcript queue for `key` (created on first use). `channel('default')` is the fallback queue. */
  channel(key: string): TranscriptQueue {
    let q = this.#queues.own(key);
    if (!q) {
      q = new TranscriptQueue();
      this.#queues.set(key, q);
    }
    return q;
  }

  /** Queue transcripts for the next segments of connections using `key`. */
  expect(key: string, ...texts: string[]): this {
    this.channel(key).push(...texts);
    return this;
  }

  setBehaviour(key: string, behaviour: DeepgramKeyBehaviour): this {
    this.#behaviour.set(key, behaviour);
    return this;
  }

  /** Abruptly close every open connection using `key` (close code 1011 by default). */
  dropConnections(key: string, code = 1011): number {
    const h = keyHash(key);
    let n = 0;
    for (const s of this.#sessions) {
      if (s.record.keyHash === h) {
        s.drop(code);
        n++;
      }
    }
    return n;
  }

  /** Subscribe to finished segments (called when the final result is sent). Returns an unsubscribe function. */
  onSegment(listener: (s: SttSegmentRecord) => void): () => void {
    this.#segmentListeners.add(listener);
    return () => this.#segmentListeners.delete(listener);
  }

  connectionsFor(key: string): DeepgramConnectionRecord[] {
    const h = keyHash(key);
    return this.connections.filter((c) => c.keyHash === h);
  }

  /** All segments, across connections, in detection order per connection. */
  get segments(): SttSegmentRecord[] {
    return this.connections.flatMap((c) => c.segments);
  }

  segmentsFor(key: string): SttSegmentRecord[] {
    return this.connectionsFor(key).flatMap((c) => c.segments);
  }

  /** @internal */
  _emitSegment(s: SttSegmentRecord): void {
    for (const l of this.#segmentListeners) {
      try {
        l(s);
      } catch {
        /* listener errors are not the emulator's problem */
      }
    }
  }

  /** @internal */
  _queueFor(key: string | undefined): TranscriptQueue {
    return this.#queues.get(key)!;
  }

  /** @internal */
  _behaviourFor(key: string | undefined): DeepgramKeyBehaviour {
    return this.#behaviour.get(key) ?? {};
  }

  protected override onClose(): void {
    for (const s of this.#sessions) s.dispose();
    this.#sessions.clear();
  }

  protected handleRequest(req: IncomingMessage, res: ServerResponse): void {
    // Pre-recorded (POST /v1/listen) is not emulated: the worker only streams.
    sendJson(res, 404, {
      err_code: 'NOT_FOUND',
      err_msg: `sandbox Deepgram emulator only serves the streaming WebSocket at /v1/listen (got ${req.method} ${req.url})`,
      request_id: randomUUID(),
    });
  }

  protected override async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const requestId = randomUUID();
    if (url.pathname.replace(/\/+$/, '') !== '/v1/listen') {
      rejectUpgrade(socket, 404, { err_code: 'NOT_FOUND', err_msg: `no such endpoint ${url.pathname}`, request_id: requestId });
      return;
    }
    const key = extractApiKey(req, url);
    if (this.requireKey && !key) {
      rejectUpgrade(socket, 401, { err_code: 'INVALID_AUTH', err_msg: 'Invalid credentials.', request_id: requestId });
      return;
    }
    const behaviour = this._behaviourFor(key);
    if (behaviour.rejectStatus) {
      rejectUpgrade(socket, behaviour.rejectStatus, {
        err_code: 'SANDBOX_REJECTED',
        err_msg: `sandbox: connection rejected with ${behaviour.rejectStatus}`,
        request_id: requestId,
      });
      return;
    }

    const params: Record<string, string | string[]> = {};
    for (const name of new Set(url.searchParams.keys())) {
      const all = url.searchParams.getAll(name);
      params[name] = all.length === 1 ? all[0]! : all;
    }
    const one = (name: string) => {
      const v = params[name];
      return Array.isArray(v) ? v[v.length - 1] : v;
    };
    const encoding = one('encoding') ?? '';
    if (encoding !== 'linear16') {
      rejectUpgrade(socket, 400, {
        err_code: 'Bad Request',
        err_msg: `sandbox Deepgram emulator only accepts raw encoding=linear16 (got ${encoding || 'none'})`,
        request_id: requestId,
      });
      return;
    }
    const sampleRate = Number(one('sample_rate'));
    if (!Number.isInteger(sampleRate) || sampleRate < 8000 || sampleRate > 48000) {
      rejectUpgrade(socket, 400, {
        err_code: 'Bad Request',
        err_msg: `sample_rate is required for encoding=linear16 and must be 8000..48000 (got ${one('sample_rate')})`,
        request_id: requestId,
      });
      return;
    }
    const channels = Math.max(1, Number(one('channels') ?? '1') || 1);
    const endpointingParam = one('endpointing');
    const endpointingEnabled = endpointingParam !== undefined && endpointingParam !== 'false';
    const queryEndpointing = endpointingParam === 'true' ? 10 : Number(endpointingParam);
    const endpointingMs =
      behaviour.endpointingMs ??
      this.endpointingMs ??
      (endpointingEnabled && Number.isFinite(queryEndpointing)
        ? Math.max(this.minEndpointingMs, queryEndpointing)
        : this.defaultEndpointingMs);
    const utteranceEnd = Number(one('utterance_end_ms'));

    const record: DeepgramConnectionRecord = {
      id: requestId,
      keyHash: keyHash(key),
      params,
      model: one('model') ?? 'base',
      encoding,
      sampleRate,
      channels,
      interimResults: one('interim_results') === 'true',
      vadEvents: one('vad_events') === 'true',
      endpointingMs,
      endpointingEnabled,
      ...(Number.isFinite(utteranceEnd) && utteranceEnd > 0 ? { utteranceEndMs: utteranceEnd } : {}),
      connectedAt: nowMs(),
      audioBytes: 0,
      audioMessages: 0,
      audioSec: 0,
      keepAlives: 0,
      finalizes: 0,
      unknownMessages: [],
      segments: [],
    };

    const ws = await this.acceptUpgrade(req, socket, head, { 'dg-request-id': requestId });
    this.connections.push(record);
    const session = new ListenSession(this, ws, record, key);
    this.#sessions.add(session);
    ws.on('close', () => this.#sessions.delete(session));
  }
}

// ---------------------------------------------------------------- session

const MODEL_UUID = '1dbdfb4d-85b2-4659-9ee0-5b4a6d6c2d1a';

class ListenSession {
  readonly record: DeepgramConnectionRecord;
  readonly #emu: DeepgramEmulator;
  readonly #ws: WsSocket;
  readonly #key: string | undefined;
  readonly #segmenter: EnergySegmenter;
  readonly #sha = createHash('sha256');
  #carry: Buffer | undefined;
  #samplesPerChannel = 0;
  #pendingFinals = new Set<Promise<void>>();
  #timers = new Set<NodeJS.Timeout>();
  #idleTimer: NodeJS.Timeout | undefined;
  #closing = false;
  #disposed = false;
  // open segment state
  #open: { startSec: number; speechStartedAt: number; lastSpeechAt: number; interims: number; nextInterimSec: number } | undefined;
  #lastSpeechEnd = -1;

  constructor(emu: DeepgramEmulator, ws: WsSocket, record: DeepgramConnectionRecord, key: string | undefined) {
    this.#emu = emu;
    this.#ws = ws;
    this.record = record;
    this.#key = key;
    this.#segmenter = new EnergySegmenter({
      sampleRate: record.sampleRate,
      threshold: emu.energyThreshold,
      minSpeechMs: emu.minSpeechMs,
      endpointingMs: record.endpointingMs,
    });
    ws.on('message', (data: unknown, isBinary: boolean) => this.#onMessage(data, isBinary));
    ws.on('close', (code: number) => {
      this.record.closedAt = nowMs();
      this.record.closeCode = code;
      this.dispose();
    });
  }

  get #behaviour(): DeepgramKeyBehaviour {
    return this.#emu._behaviourFor(this.#key);
  }

  dispose(): void {
    this.#disposed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }

  drop(code: number): void {
    this.dispose();
    try {
      this.#ws.close(code, 'sandbox: connection dropped');
    } catch {
      this.#ws.terminate();
    }
  }

  #send(msg: unknown): boolean {
    if (this.#ws.readyState !== WS_OPEN) return false;
    this.#ws.send(JSON.stringify(msg));
    return true;
  }

  #onMessage(data: unknown, isBinary: boolean): void {
    if (this.#disposed) return;
    const buf = wsDataToBuffer(data);
    if (!isBinary) {
      this.#onControl(buf.toString('utf8'));
      return;
    }
    if (this.#closing) return; // audio after CloseStream is ignored
    this.#onAudio(buf);
  }

  #onControl(text: string): void {
    let type: unknown;
    try {
      type = (JSON.parse(text) as { type?: unknown }).type;
    } catch {
      type = undefined;
    }
    switch (type) {
      case 'KeepAlive':
        this.record.keepAlives++;
        return;
      case 'Finalize':
        this.record.finalizes++;
        this.#finalize();
        return;
      case 'CloseStream':
        void this.#closeStream();
        return;
      default:
        this.record.unknownMessages.push(text.slice(0, 500));
    }
  }

  #onAudio(buf: Buffer): void {
    const arrivedAt = nowMs();
    this.record.audioBytes += buf.length;
    this.record.audioMessages++;
    this.#sha.update(buf);
    let bytes = buf;
    if (this.#carry) {
      bytes = Buffer.concat([this.#carry, buf]);
      this.#carry = undefined;
    }
    const frameBytes = 2 * this.record.channels;
    const usable = bytes.length - (bytes.length % frameBytes);
    if (usable < bytes.length) this.#carry = Buffer.from(bytes.subarray(usable));
    const frames = usable / frameBytes;
    const mono = new Int16Array(frames);
    const ch = this.record.channels;
    for (let i = 0; i < frames; i++) {
      let acc = 0;
      for (let c = 0; c < ch; c++) acc += bytes.readInt16LE((i * ch + c) * 2);
      mono[i] = Math.round(acc / ch);
    }
    this.#samplesPerChannel += frames;
    this.record.audioSec = this.#samplesPerChannel / this.record.sampleRate;

    const events = this.#segmenter.push(mono);
    // Note when speech was last heard, for latency accounting.
    const lse = this.#segmenter.lastSpeechEndSec;
    const heardSpeech = lse !== this.#lastSpeechEnd;
    this.#lastSpeechEnd = lse;
    for (const ev of events) this.#onSegmenterEvent(ev, arrivedAt, heardSpeech);
    if (this.#open && heardSpeech) this.#open.lastSpeechAt = arrivedAt;
    this.#maybeInterim();
    this.#armIdleTimer();
  }

  #onSegmenterEvent(ev: SegmenterEvent, at: number, heardSpeech: boolean): void {
    if (ev.type === 'start') {
      this.#open = {
        startSec: ev.startSec,
        speechStartedAt: at,
        lastSpeechAt: at,
        interims: 0,
        nextInterimSec: ev.startSec + this.#emu.interimIntervalMs / 1000,
      };
      if (this.record.vadEvents) this.#send({ type: 'SpeechStarted', channel: [0], timestamp: round3(ev.startSec) });
    } else {
      // Speech and its endpoint in one audio message (faster-than-real-time feeding).
      if (this.#open && heardSpeech) this.#open.lastSpeechAt = at;
      this.#endSegment(ev.startSec, ev.endSec, 'endpointing');
    }
  }

  #maybeInterim(): void {
    const open = this.#open;
    if (!open || !this.record.interimResults || !(this.#emu.interimIntervalMs > 0)) return;
    const pos = this.#segmenter.positionSec;
    if (pos < open.nextInterimSec) return;
    open.nextInterimSec = pos + this.#emu.interimIntervalMs / 1000;
    const upcoming = this.#emu._queueFor(this.#key).peek();
    if (!upcoming) return;
    const words = upcoming.split(/\s+/).filter(Boolean);
    // Reveal about one word per 300 ms of speech, never the whole utterance.
    const elapsed = pos - open.startSec;
    const n = Math.min(Math.max(1, words.length - 1), Math.max(1, Math.floor(elapsed / 0.3)));
    const partial = words.slice(0, n).join(' ');
    open.interims++;
    this.#send(this.#results(partial, open.startSec, pos, { isFinal: false, speechFinal: false, confidence: 0.9 }));
  }

  #armIdleTimer(): void {
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    if (!this.#open) return;
    const ms = this.#emu.idleTimeoutMs ?? Math.max(this.record.endpointingMs, 300) + 200;
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      const ev = this.#segmenter.forceEnd();
      if (ev && ev.type === 'end') this.#endSegment(ev.startSec, ev.endSec, 'idle-timeout');
    }, ms);
  }

  #finalize(): void {
    const ev = this.#segmenter.forceEnd();
    if (ev && ev.type === 'end') {
      this.#endSegment(ev.startSec, ev.endSec, 'finalize');
    } else if (this.#pendingFinals.size === 0) {
      // Nothing buffered: Deepgram still acknowledges with an empty final.
      const pos = this.#segmenter.positionSec;
      this.#send({ ...this.#results('', pos, pos, { isFinal: true, speechFinal: false, confidence: 0 }), from_finalize: true });
    }
  }

  async #closeStream(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.record.closeStreamAt = nowMs();
    const ev = this.#segmenter.forceEnd();
    if (ev && ev.type === 'end') this.#endSegment(ev.startSec, ev.endSec, 'close-stream');
    await Promise.all([...this.#pendingFinals]);
    if (this.#disposed) return;
    this.#send({
      type: 'Metadata',
      transaction_key: 'deprecated',
      request_id: this.record.id,
      sha256: this.#sha.digest('hex'),
      created: new Date(this.record.connectedAt).toISOString(),
      duration: round3(this.record.audioSec),
      channels: this.record.channels,
      models: [MODEL_UUID],
      model_info: { [MODEL_UUID]: { name: `general-${this.record.model}`, version: 'sandbox', arch: this.record.model } },
    });
    try {
      this.#ws.close(1000);
    } catch {
      /* gone */
    }
  }

  #endSegment(startSec: number, endSec: number, reason: SegmentEndReason): void {
    const open = this.#open;
    this.#open = undefined;
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    const endDetectedAt = nowMs();
    const behaviour = this.#behaviour;
    const queued = this.#emu._queueFor(this.#key).shift();
    const transcript = queued ?? behaviour.fallbackTranscript ?? this.#emu.fallbackTranscript;
    const seg: SttSegmentRecord = {
      connectionId: this.record.id,
      keyHash: this.record.keyHash,
      index: this.record.segments.length,
      startSec: round3(startSec),
      endSec: round3(endSec),
      speechStartedAt: open?.speechStartedAt ?? endDetectedAt,
      lastSpeechAt: open?.lastSpeechAt ?? endDetectedAt,
      endDetectedAt,
      endReason: reason,
      transcript,
      scripted: queued !== undefined,
      speechFinal: this.record.endpointingEnabled,
      interimsSent: open?.interims ?? 0,
    };
    this.record.segments.push(seg);
    const delay = behaviour.finalDelayMs ?? this.#emu.finalDelayMs;
    const p = new Promise<void>((resolve) => {
      const fire = () => {
        if (!this.#disposed) {
          const msg = this.#results(transcript, startSec, endSec, {
            isFinal: true,
            speechFinal: seg.speechFinal,
            confidence: transcript ? 0.99 : 0,
          });
          if (reason === 'finalize') (msg as Record<string, unknown>).from_finalize = true;
          if (this.#send(msg)) {
            seg.finalSentAt = nowMs();
            if (this.record.utteranceEndMs !== undefined && this.record.interimResults) {
              this.#send({ type: 'UtteranceEnd', channel: [0, 1], last_word_end: round3(endSec) });
            }
          }
          this.#emu._emitSegment(seg);
        }
        resolve();
      };
      if (delay > 0) {
        const t = setTimeout(() => {
          this.#timers.delete(t);
          fire();
        }, delay);
        this.#timers.add(t);
      } else {
        fire();
      }
    });
    this.#pendingFinals.add(p);
    void p.then(() => this.#pendingFinals.delete(p));
  }

  #results(
    transcript: string,
    startSec: number,
    endSec: number,
    o: { isFinal: boolean; speechFinal: boolean; confidence: number },
  ): Record<string, unknown> {
    return {
      type: 'Results',
      channel_index: [0, 1],
      duration: round3(Math.max(0, endSec - startSec)),
      start: round3(startSec),
      is_final: o.isFinal,
      speech_final: o.speechFinal,
      channel: {
        alternatives: [{ transcript, confidence: o.confidence, words: wordTimings(transcript, startSec, endSec, o.confidence) }],
      },
      metadata: {
        request_id: this.record.id,
        model_info: { name: `general-${this.record.model}`, version: 'sandbox', arch: this.record.model },
        model_uuid: MODEL_UUID,
      },
      from_finalize: false,
    };
  }
}

/** Spread words over [start, end] proportionally to their length. */
function wordTimings(transcript: string, startSec: number, endSec: number, confidence: number) {
  const words = transcript.split(/\s+/).filter(Boolean);
  const total = words.reduce((n, w) => n + w.length, 0);
  const span = Math.max(0, endSec - startSec);
  let t = startSec;
  return words.map((w) => {
    const d = total ? (span * w.length) / total : 0;
    const item = {
      word: w.toLowerCase().replace(/[^\p{L}\p{N}'-]/gu, '') || w.toLowerCase(),
      start: round3(t),
      end: round3(t + d),
      confidence,
      punctuated_word: w,
    };
    t += d;
    return item;
  });
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

export { DEFAULT_KEY };
