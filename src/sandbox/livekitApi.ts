// LiveKit server API emulator for `switchboard sandbox`, simulated calls,
// campaign tests and provisioning tests.
//
// It speaks the real Twirp JSON protocol livekit-server-sdk uses
// (POST /twirp/livekit.<Service>/<Method>, `Authorization: Bearer <jwt>`),
// verifies every token with the SDK's own TokenVerifier, checks grants the way
// livekit-server does, keeps an in-memory model of rooms, participants, SIP
// trunks, dispatch rules and agent dispatches, and plays a configurable outcome
// for every number CreateSIPParticipant dials. Failed dials come back exactly as
// livekit-server sends them, so the SDK throws a SipCallError whose
// `sipStatusCode` / `sipStatus` are set. Checked against the real stack
// (test/e2e, livekit-server 1.8.4 + LiveKit SIP 1.0): a transfer whose REFER
// fails comes back without a SIP status (408 `canceled`, "call transfer
// failed"), and methods 1.8.4 lacks (MoveParticipant, ForwardParticipant,
// PerformRpc) are `bad_route`, as there.
//
//   const lk = new LiveKitApiEmulator();
//   await lk.start();
//   lk.setOutcome('+15550001111', 'busy');
//   const sip = new SipClient(lk.url, lk.apiKey, lk.apiSecret);
//
// Every request is recorded (never the token) — see requests(), count() and
// GET /_emulator/requests. Module layout: livekitApiTwirp (wire errors, SIP
// statuses), livekitApiAuth (JWT + grants), livekitApiOutcomes (dial outcomes),
// livekitApiState (model, hooks), livekitApiRooms (RoomService,
// AgentDispatchService), livekitApiSip (SIP service, simulated calls).

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { isDeepStrictEqual } from 'node:util';
import { GrantChecker, authenticate, type AuthErrorStyle, type AuthSummary } from './livekitApiAuth.js';
import { OutcomeTable, toOutcome, type DialOutcome, type OutcomeInput } from './livekitApiOutcomes.js';
import { agentDispatchService, joinParticipant, roomService, type JoinParticipantInit } from './livekitApiRooms.js';
import { hangupParticipant, sipService } from './livekitApiSip.js';
import {
  EmulatorState,
  callSummary,
  type EmulatorCore,
  type EmulatorEventMap,
  type EmulatorSnapshot,
  type EmulatorTiming,
  type RpcHandler,
  type SipCallSummary,
  type TransferRecord,
  type WireJson,
} from './livekitApiState.js';
import { TwirpError, type TwirpCode } from './livekitApiTwirp.js';

export { TwirpError, sipStatusError, twirpCodeForSipStatus, type TwirpCode } from './livekitApiTwirp.js';
export type { AuthErrorStyle, AuthSummary, SipGrantClaims, VideoGrantClaims } from './livekitApiAuth.js';
export type { DialOutcome, DialOutcomeKind, OutcomeInput, PlayedOutcome } from './livekitApiOutcomes.js';
export type { JoinParticipantInit } from './livekitApiRooms.js';
export type {
  CallStatusEvent,
  DispatchEvent,
  EmulatorSnapshot,
  EmulatorTiming,
  RoomDeletedEvent,
  SipCallStatus,
  SipCallSummary,
  SipParticipantEvent,
  TransferEvent,
  TransferRecord,
} from './livekitApiState.js';

export interface LiveKitApiEmulatorOptions {
  /** API key accepted in the JWT `iss`. Default "devkey" (as `livekit-server --dev`). */
  apiKey?: string;
  /** Secret for apiKey. Default "secret" (as `livekit-server --dev`). */
  apiSecret?: string;
  /** Further accepted key → secret pairs. */
  keys?: Record<string, string>;
  /** Interface to listen on. Default "127.0.0.1". */
  host?: string;
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /**
   * How auth failures look. 'livekit' (default) is what livekit-server sends:
   * bad/expired/wrongly signed tokens → HTTP 401 plain text; a missing grant →
   * Twirp `unauthenticated` (401) "permissions denied". 'twirp' instead sends
   * Twirp JSON `unauthenticated` for bad tokens and `permission_denied` (403)
   * for missing grants.
   */
  authErrors?: AuthErrorStyle;
  /** Dial outcome per number (matched exactly, then by normalized number). */
  outcomes?: Record<string, OutcomeInput>;
  /** Outcome for numbers not in `outcomes`. Default 'answer'. */
  defaultOutcome?: OutcomeInput;
  /** Transfer outcome per transfer_to destination (exact, then by its number). */
  transferOutcomes?: Record<string, OutcomeInput>;
  /** Outcome for transfer destinations not listed. Default 'answer' (transfer succeeds). */
  defaultTransferOutcome?: OutcomeInput;
  /** Simulated call timings; see EmulatorTiming for defaults. */
  timing?: Partial<EmulatorTiming>;
  /** Where hook exceptions are reported. Default console.error. */
  onHookError?: (err: unknown, hook: keyof EmulatorEventMap) => void;
}

/** One recorded HTTP request. The token is never recorded, only what it granted. */
export interface RecordedRequest {
  /** 1-based arrival order. */
  seq: number;
  /** Arrival time, ms since start(). */
  t: number;
  /** Twirp service ("RoomService", "SIP", "AgentDispatchService"), or "" for a non-Twirp path. */
  service: string;
  /** Twirp method ("DeleteRoom"), or "" for a non-Twirp path. */
  method: string;
  httpMethod: string;
  path: string;
  /** The request body as parsed JSON, exactly as sent (the SDK sends camelCase); raw text if not JSON. */
  body: unknown;
  /** Who called with what grants, from the verified token; null when no token was sent or it failed. */
  auth: AuthSummary | null;
  /** Why the token was rejected, when it was. */
  authError?: string;
  /** HTTP status; undefined while the request is still pending (e.g. waiting for an answer). */
  status?: number;
  /** Twirp error code, for failed requests. */
  code?: TwirpCode;
  /** Error message, for failed requests. */
  error?: string;
  /** SIP status of a failed dial/transfer (from meta.sip_status_code). */
  sipStatusCode?: number;
  durationMs?: number;
}

export interface RequestFilter {
  service?: string;
  method?: string;
  /** true: 2xx only; false: failures only. */
  ok?: boolean;
  status?: number;
  code?: TwirpCode;
  /** Body fields that must deep-equal; keys match in snake_case or camelCase. */
  body?: Record<string, unknown>;
}

type Listener<K extends keyof EmulatorEventMap> = (event: EmulatorEventMap[K]) => void | Promise<void>;

const TWIRP_PATH = /^\/twirp\/livekit\.([A-Za-z0-9_]+)\/([A-Za-z0-9_]+)$/;
/** livekit-server serves these, the emulator does not model them: every method is `unimplemented`. */
const NOT_EMULATED_SERVICES = new Set(['Egress', 'Ingress', 'Connector', 'PhoneNumberService']);
const MAX_BODY_BYTES = 8 * 1024 * 1024;

const DEFAULT_TIMING: EmulatorTiming = { dialingMs: 50, ringMs: 150, hangupLingerMs: 1000, transferMs: 100 };

function toCamel(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function toSnake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Reads a body field by its proto name or JSON name. */
function bodyField(body: unknown, key: string): unknown {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const o = body as Record<string, unknown>;
  for (const k of [key, toCamel(key), toSnake(key)]) if (Object.hasOwn(o, k)) return o[k];
  return undefined;
}

function matches(r: RecordedRequest, f: RequestFilter): boolean {
  if (f.service !== undefined && r.service !== f.service) return false;
  if (f.method !== undefined && r.method !== f.method) return false;
  if (f.status !== undefined && r.status !== f.status) return false;
  if (f.code !== undefined && r.code !== f.code) return false;
  if (f.ok !== undefined) {
    const ok = r.status !== undefined && r.status >= 200 && r.status < 300;
    if (ok !== f.ok) return false;
  }
  if (f.body) {
    for (const [k, v] of Object.entries(f.body)) if (!isDeepStrictEqual(bodyField(r.body, k), v)) return false;
  }
  return true;
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY_BYTES) throw new TwirpError('malformed', `request body exceeds ${MAX_BODY_BYTES} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

export class LiveKitApiEmulator {
  readonly apiKey: string;
  readonly apiSecret: string;

  readonly #keys: Map<string, string>;
  readonly #host: string;
  readonly #requestedPort: number;
  readonly #authErrors: AuthErrorStyle;
  readonly #onHookError: (err: unknown, hook: keyof EmulatorEventMap) => void;
  readonly #state = new EmulatorState();
  readonly #timing: EmulatorTiming;
  readonly #dialOutcomes = new OutcomeTable();
  readonly #transferOutcomes = new OutcomeTable();
  #defaultDialOutcome: DialOutcome;
  #defaultTransferOutcome: DialOutcome;
  readonly #core: EmulatorCore;
  readonly #services: ReadonlyMap<string, Record<string, RpcHandler>>;
  readonly #listeners: { [K in keyof EmulatorEventMap]: Set<Listener<K>> } = {
    dispatch: new Set(),
    roomDeleted: new Set(),
    sipParticipant: new Set(),
    callStatus: new Set(),
    transfer: new Set(),
  };
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #sleepers = new Set<(err: TwirpError) => void>();
  #log: RecordedRequest[] = [];
  #seq = 0;
  #startedAt = performance.now();
  #server: http.Server | undefined;
  #baseUrl: string | undefined;

  constructor(options: LiveKitApiEmulatorOptions = {}) {
    this.apiKey = options.apiKey ?? 'devkey';
    this.apiSecret = options.apiSecret ?? 'secret';
    this.#keys = new Map(Object.entries(options.keys ?? {}));
    this.#keys.set(this.apiKey, this.apiSecret);
    this.#host = options.host ?? '127.0.0.1';
    this.#requestedPort = options.port ?? 0;
    this.#authErrors = options.authErrors ?? 'livekit';
    this.#onHookError =
      options.onHookError ?? ((err, hook) => console.error(`[livekit-api-emulator] ${hook} hook threw:`, err));
    this.#timing = { ...DEFAULT_TIMING, ...(options.timing ?? {}) };
    this.#defaultDialOutcome = toOutcome(options.defaultOutcome ?? 'answer');
    this.#defaultTransferOutcome = toOutcome(options.defaultTransferOutcome ?? 'answer');
    for (const [k, v] of Object.entries(options.outcomes ?? {})) this.#dialOutcomes.set(k, v);
    for (const [k, v] of Object.entries(options.transferOutcomes ?? {})) this.#transferOutcomes.set(k, v);

    const self = this;
    this.#core = {
      state: this.#state,
      timing: this.#timing,
      dialOutcomes: this.#dialOutcomes,
      transferOutcomes: this.#transferOutcomes,
      get defaultDialOutcome() {
        return self.#defaultDialOutcome;
      },
      get defaultTransferOutcome() {
        return self.#defaultTransferOutcome;
      },
      schedule: (ms, fn) => this.#schedule(ms, fn),
      sleep: (ms) => this.#sleep(ms),
      emit: (name, event) => this.#emit(name, event),
    };
    this.#services = new Map([
      ['RoomService', roomService(this.#core)],
      ['SIP', sipService(this.#core)],
      ['AgentDispatchService', agentDispatchService(this.#core)],
    ]);
  }

  // --- lifecycle ---

  /** Starts listening; resolves to the base URL (http://127.0.0.1:<port>). */
  async start(port: number = this.#requestedPort): Promise<string> {
    if (this.#baseUrl) return this.#baseUrl;
    const server = http.createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        const error = new TwirpError('internal', err instanceof Error ? err.message : String(err));
        if (!res.headersSent && !res.destroyed) {
          res.writeHead(error.httpStatus, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify(error.toBody()));
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.#host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address() as AddressInfo;
    this.#server = server;
    this.#startedAt = performance.now();
    this.#baseUrl = `http://${this.#host.includes(':') ? `[${this.#host}]` : this.#host}:${addr.port}`;
    return this.#baseUrl;
  }

  /** Base URL for the SDK clients (http://…); throws before start(). */
  get url(): string {
    if (!this.#baseUrl) throw new Error('LiveKitApiEmulator is not started; await start() first');
    return this.#baseUrl;
  }

  get port(): number {
    return Number(new URL(this.url).port);
  }

  /** Environment a worker or CLI needs to talk to this emulator. */
  env(): { LIVEKIT_URL: string; LIVEKIT_API_KEY: string; LIVEKIT_API_SECRET: string } {
    return { LIVEKIT_URL: this.url, LIVEKIT_API_KEY: this.apiKey, LIVEKIT_API_SECRET: this.apiSecret };
  }

  /** Stops the server, drops every open socket and cancels simulated-call timers. */
  async close(): Promise<void> {
    this.#cancelPending('LiveKit API emulator closed');
    const server = this.#server;
    this.#server = undefined;
    this.#baseUrl = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  // --- harness hooks ---

  /** Called after every agent dispatch (CreateDispatch, or CreateRoom with agents). Returns an unsubscribe function. */
  onDispatch(cb: Listener<'dispatch'>): () => void {
    return this.#on('dispatch', cb);
  }

  /** Called when DeleteRoom removes a room. */
  onRoomDeleted(cb: Listener<'roomDeleted'>): () => void {
    return this.#on('roomDeleted', cb);
  }

  /** Called when a dialled call is answered or fails, with the outcome that played. */
  onSipParticipant(cb: Listener<'sipParticipant'>): () => void {
    return this.#on('sipParticipant', cb);
  }

  /** Called on every sip.callStatus change (dialing, ringing, active, hangup). */
  onCallStatus(cb: Listener<'callStatus'>): () => void {
    return this.#on('callStatus', cb);
  }

  /** Called when a TransferSIPParticipant completes or fails. */
  onTransfer(cb: Listener<'transfer'>): () => void {
    return this.#on('transfer', cb);
  }

  /** How a dial to `number` will be answered (its configured outcome, else the default). */
  outcomeFor(number: string): DialOutcome {
    return this.#dialOutcomes.get(number) ?? this.#defaultDialOutcome;
  }

  /** Sets (or with null, clears) what dialling `number` does. */
  setOutcome(number: string, outcome: OutcomeInput | null): void {
    this.#dialOutcomes.set(number, outcome);
  }

  /** Sets (or with null, clears) what transferring to `dest` (e.g. "tel:+1555…") does. */
  setTransferOutcome(dest: string, outcome: OutcomeInput | null): void {
    this.#transferOutcomes.set(dest, outcome);
  }

  setDefaultOutcome(outcome: OutcomeInput): void {
    this.#defaultDialOutcome = toOutcome(outcome);
  }

  setDefaultTransferOutcome(outcome: OutcomeInput): void {
    this.#defaultTransferOutcome = toOutcome(outcome);
  }

  /** Simulates the far end hanging up an ongoing SIP call. False if there is no live call. */
  hangup(room: string, identity: string, reason?: string): boolean {
    return hangupParticipant(this.#core, room, identity, reason);
  }

  /** Simulates a non-API participant (an agent, a browser) joining; creates the room if needed. */
  joinParticipant(room: string, init: JoinParticipantInit): WireJson {
    return joinParticipant(this.#core, room, init);
  }

  /** Simulates a participant leaving. */
  leaveParticipant(room: string, identity: string): boolean {
    const p = this.#state.participant(room, identity);
    if (!p) return false;
    if (p.callId) this.hangup(room, identity, 'left');
    return this.#state.removeParticipantSid(room, identity, p.info.sid);
  }

  // --- introspection ---

  /** Recorded requests in arrival order, optionally filtered. Copies, safe to keep. */
  requests(filter?: RequestFilter | ((r: RecordedRequest) => boolean)): RecordedRequest[] {
    const pick = typeof filter === 'function' ? filter : (r: RecordedRequest) => (filter ? matches(r, filter) : true);
    return this.#log.filter((r) => pick(r)).map((r) => structuredClone(r));
  }

  /** How many `method` requests were made whose body has these fields, e.g. count('DeleteRoom', { room }). */
  count(method: string, body?: Record<string, unknown>): number {
    return this.#log.filter((r) => matches(r, body ? { method, body } : { method })).length;
  }

  /** Rooms, participants, trunks, rules, dispatches, calls and transfers, as wire JSON. */
  snapshot(): EmulatorSnapshot {
    return this.#state.snapshot();
  }

  calls(): SipCallSummary[] {
    return [...this.#state.calls.values()].map(callSummary);
  }

  transfers(): TransferRecord[] {
    return this.#state.transfers.map((t) => ({ ...t }));
  }

  /** Forgets every request (the model is kept). */
  clearRequests(): void {
    this.#log = [];
    this.#seq = 0;
  }

  /**
   * Clears the request log and the whole model (rooms, trunks, rules,
   * dispatches, calls) and cancels simulated-call timers. Outcome tables,
   * hooks and keys are kept.
   */
  reset(): void {
    this.#cancelPending('LiveKit API emulator was reset');
    this.#state.clear();
    this.clearRequests();
  }

  // --- internals ---

  #on<K extends keyof EmulatorEventMap>(name: K, cb: Listener<K>): () => void {
    const set = this.#listeners[name] as Set<Listener<K>>;
    set.add(cb);
    return () => {
      set.delete(cb);
    };
  }

  #emit<K extends keyof EmulatorEventMap>(name: K, event: EmulatorEventMap[K]): void {
    for (const cb of [...(this.#listeners[name] as Set<Listener<K>>)]) {
      try {
        const result = cb(event);
        if (result && typeof (result as Promise<void>).then === 'function') {
          (result as Promise<void>).catch((err: unknown) => this.#onHookError(err, name));
        }
      } catch (err) {
        this.#onHookError(err, name);
      }
    }
  }

  #schedule(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      try {
        fn();
      } catch (err) {
        console.error('[livekit-api-emulator] simulated call step failed:', err);
      }
    }, Math.max(0, ms));
    timer.unref();
    this.#timers.add(timer);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const cancel = (err: TwirpError): void => reject(err);
      this.#sleepers.add(cancel);
      this.#schedule(ms, () => {
        this.#sleepers.delete(cancel);
        resolve();
      });
    });
  }

  #cancelPending(why: string): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    const err = new TwirpError('unavailable', why);
    for (const cancel of [...this.#sleepers]) cancel(err);
    this.#sleepers.clear();
    for (const call of this.#state.calls.values()) {
      const settle = call.settle;
      call.settle = undefined;
      settle?.reject(err);
    }
  }

  #elapsed(): number {
    return Math.round((performance.now() - this.#startedAt) * 1000) / 1000;
  }

  #finish(rec: RecordedRequest, status: number, error?: { code?: TwirpCode; message: string; meta?: Record<string, string> }): void {
    rec.status = status;
    rec.durationMs = Math.round((this.#elapsed() - rec.t) * 1000) / 1000;
    if (error) {
      if (error.code !== undefined) rec.code = error.code;
      rec.error = error.message;
      const sip = error.meta?.sip_status_code;
      if (sip !== undefined) rec.sipStatusCode = Number(sip);
    }
  }

  #sendJson(res: http.ServerResponse, rec: RecordedRequest, body: unknown): void {
    this.#finish(rec, 200);
    if (res.destroyed || res.writableEnded) return;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  #sendError(res: http.ServerResponse, rec: RecordedRequest, err: TwirpError): void {
    this.#finish(rec, err.httpStatus, { code: err.code, message: err.message, meta: err.meta });
    if (res.destroyed || res.writableEnded) return;
    // livekit-server-sdk only parses the error as JSON when Content-Type is exactly this.
    res.writeHead(err.httpStatus, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(err.toBody()));
  }

  #sendText(res: http.ServerResponse, rec: RecordedRequest, status: number, text: string): void {
    this.#finish(rec, status, { message: text });
    if (res.destroyed || res.writableEnded) return;
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end(text);
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator.invalid');
    if (url.pathname.startsWith('/_emulator/')) return this.#handleIntrospection(req, res, url);
    if (url.pathname === '/' && (req.method === 'GET' || req.method === 'HEAD')) {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('OK');
      return;
    }

    const route = TWIRP_PATH.exec(url.pathname);
    const rec: RecordedRequest = {
      seq: ++this.#seq,
      t: this.#elapsed(),
      service: route?.[1] ?? '',
      method: route?.[2] ?? '',
      httpMethod: req.method ?? '',
      path: url.pathname,
      body: undefined,
      auth: null,
    };
    this.#log.push(rec);

    let raw: Buffer;
    try {
      raw = await readBody(req);
    } catch (err) {
      this.#sendError(res, rec, err instanceof TwirpError ? err : new TwirpError('malformed', 'failed to read request body'));
      return;
    }
    const text = raw.toString('utf8');
    let json: unknown;
    let jsonError: string | undefined;
    if (text.length > 0) {
      try {
        json = JSON.parse(text);
        rec.body = json;
      } catch (err) {
        jsonError = err instanceof Error ? err.message : String(err);
        rec.body = text;
      }
    } else {
      jsonError = 'empty body';
    }

    // 1. Auth middleware (runs before routing, as in livekit-server).
    const auth = await authenticate(req.headers.authorization, url.searchParams.get('access_token'), this.#keys);
    if (!auth.ok) {
      rec.authError = auth.message;
      if (this.#authErrors === 'twirp') this.#sendError(res, rec, new TwirpError('unauthenticated', auth.message));
      else this.#sendText(res, rec, auth.status, auth.message);
      return;
    }
    rec.auth = auth.auth ? structuredClone(auth.auth) : null;

    // 2. Routing: unknown services fall through to the server's plain 404; unknown
    //    methods of a Twirp service are `bad_route`.
    const service = route?.[1];
    const method = route?.[2] ?? '';
    if (!route || !service || (!this.#services.has(service) && !NOT_EMULATED_SERVICES.has(service))) {
      this.#sendText(res, rec, 404, '404 page not found');
      return;
    }
    const invalidRoute = { twirp_invalid_route: `${req.method ?? ''} ${url.pathname}` };
    if (req.method !== 'POST') {
      this.#sendError(res, rec, new TwirpError('bad_route', `unsupported method "${req.method ?? ''}" (only POST is allowed)`, invalidRoute));
      return;
    }
    const handlers = this.#services.get(service);
    let handler: RpcHandler | undefined;
    if (handlers) {
      if (!Object.hasOwn(handlers, method)) {
        this.#sendError(res, rec, new TwirpError('bad_route', `no handler for path "${url.pathname}"`, invalidRoute));
        return;
      }
      handler = handlers[method];
    }
    if (!handler) {
      this.#sendError(res, rec, new TwirpError('unimplemented', `${service}.${method} is not emulated by the Switchboard LiveKit API emulator`));
      return;
    }

    // 3. Content type and body decoding.
    const contentType = req.headers['content-type'] ?? '';
    const mediaType = (contentType.split(';')[0] ?? '').trim().toLowerCase();
    if (mediaType === 'application/protobuf') {
      this.#sendError(res, rec, new TwirpError('unimplemented', 'the emulator speaks Twirp JSON only; send Content-Type: application/json'));
      return;
    }
    if (mediaType !== 'application/json') {
      this.#sendError(res, rec, new TwirpError('bad_route', `unexpected Content-Type: ${JSON.stringify(contentType)}`, invalidRoute));
      return;
    }
    if (jsonError !== undefined) {
      this.#sendError(res, rec, new TwirpError('malformed', `the json request could not be decoded: ${jsonError}`, { cause: jsonError }));
      return;
    }

    // 4. The RPC itself.
    try {
      const out = await handler.handle(json, { grants: new GrantChecker(auth.auth, this.#authErrors), auth: auth.auth });
      this.#sendJson(res, rec, out);
    } catch (err) {
      const error = err instanceof TwirpError ? err : new TwirpError('internal', err instanceof Error ? err.message : String(err));
      this.#sendError(res, rec, error);
    }
  }

  async #handleIntrospection(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const send = (status: number, body?: unknown): void => {
      if (body === undefined) {
        res.writeHead(status);
        res.end();
        return;
      }
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const route = `${req.method ?? ''} ${url.pathname}`;
    try {
      switch (route) {
        case 'GET /_emulator/requests': {
          const filter: RequestFilter = {};
          const service = url.searchParams.get('service');
          const method = url.searchParams.get('method');
          if (service) filter.service = service;
          if (method) filter.method = method;
          send(200, this.requests(filter));
          return;
        }
        case 'GET /_emulator/state':
          send(200, this.snapshot());
          return;
        case 'GET /_emulator/calls':
          send(200, this.calls());
          return;
        case 'POST /_emulator/reset':
          await readBody(req);
          this.reset();
          send(204);
          return;
        case 'POST /_emulator/outcomes': {
          const body = JSON.parse((await readBody(req)).toString('utf8') || '{}') as {
            dial?: Record<string, OutcomeInput | null>;
            transfer?: Record<string, OutcomeInput | null>;
          };
          for (const [k, v] of Object.entries(body.dial ?? {})) this.setOutcome(k, v);
          for (const [k, v] of Object.entries(body.transfer ?? {})) this.setTransferOutcome(k, v);
          send(204);
          return;
        }
        default:
          send(404, {
            error: `unknown emulator route ${route}`,
            routes: [
              'GET /_emulator/requests[?service=&method=]',
              'GET /_emulator/state',
              'GET /_emulator/calls',
              'POST /_emulator/reset',
              'POST /_emulator/outcomes {"dial":{number:outcome|null},"transfer":{dest:outcome|null}}',
            ],
          });
      }
    } catch (err) {
      send(400, { error: err instanceof Error ? err.message : String(err) });
    }
  }
}

