/**
 * Shared plumbing for the local provider emulators (OpenAI / Deepgram /
 * Cartesia): an HTTP server on 127.0.0.1 that tracks every socket so close()
 * really ends them, WebSocket upgrades via the `ws` package, API-key
 * extraction, per-key behaviour tables and key redaction.
 *
 * Keys are routing labels here ("sandbox-<callId>"), never secrets, but they are
 * still never logged or stored verbatim: records carry {@link keyHash}.
 */
import { createHash } from 'node:crypto';
import { type EventEmitter, setMaxListeners } from 'node:events';
import { type IncomingMessage, type Server, type ServerResponse, STATUS_CODES, createServer } from 'node:http';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

// ------------------------------------------------------------------ ws types
// `ws` ships without type declarations and @types/ws is not installed; this is
// the minimal surface the emulators use, loaded through createRequire so no
// ambient module declaration is needed.

export interface WsSocket extends EventEmitter {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string | Buffer, cb?: (err?: Error) => void): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
}

interface WsServer extends EventEmitter {
  handleUpgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    cb: (ws: WsSocket, req: IncomingMessage) => void,
  ): void;
  readonly clients: Set<WsSocket>;
  close(cb?: (err?: Error) => void): void;
}

interface WsModule {
  WebSocketServer: new (opts: { noServer: true; perMessageDeflate?: boolean; maxPayload?: number }) => WsServer;
}

const requireCjs = createRequire(import.meta.url);
const wsModule = requireCjs('ws') as WsModule;

export const WS_OPEN = 1;

/** Raw `ws` message payload as a single Buffer. */
export function wsDataToBuffer(data: unknown): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data as Buffer[]);
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(String(data));
}

// -------------------------------------------------------------- key helpers

/** Short, stable, non-reversible label for a key (for records and logs). */
export function keyHash(key: string | undefined | null): string | null {
  if (key === undefined || key === null || key === '') return null;
  return createHash('sha256').update(key).digest('hex').slice(0, 12);
}

function firstHeader(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/**
 * API key carried by a request, in any of the places the real providers accept
 * it: `Authorization: Bearer <k>` (OpenAI), `Authorization: Token <k>`
 * (Deepgram), `X-API-Key: <k>` (Cartesia), or the `api_key` / `token` query
 * parameters (Cartesia / Deepgram browser auth).
 */
export function extractApiKey(req: IncomingMessage, url?: URL): string | undefined {
  const auth = firstHeader(req.headers['authorization']);
  if (auth) {
    const m = /^\s*(Bearer|Token)\s+(.+?)\s*$/i.exec(auth);
    if (m) return m[2];
  }
  const x = firstHeader(req.headers['x-api-key']);
  if (x) return x.trim();
  const u = url ?? new URL(req.url ?? '/', 'http://127.0.0.1');
  return u.searchParams.get('api_key') ?? u.searchParams.get('token') ?? undefined;
}

export const DEFAULT_KEY = 'default';

/**
 * Per-key behaviour table with a fallback entry under {@link DEFAULT_KEY}.
 * `get(key)` returns the key's own entry, else the default entry.
 */
export class KeyedTable<T> {
  #map = new Map<string, T>();
  constructor(defaultValue?: T) {
    if (defaultValue !== undefined) this.#map.set(DEFAULT_KEY, defaultValue);
  }
  set(key: string, value: T): void {
    this.#map.set(key, value);
  }
  delete(key: string): boolean {
    return this.#map.delete(key);
  }
  has(key: string): boolean {
    return this.#map.has(key);
  }
  own(key: string | undefined): T | undefined {
    return key === undefined ? undefined : this.#map.get(key);
  }
  get(key: string | undefined): T | undefined {
    return this.own(key) ?? this.#map.get(DEFAULT_KEY);
  }
  clear(): void {
    this.#map.clear();
  }
}

// ----------------------------------------------------------------- timing

/** Wall clock in epoch milliseconds with sub-millisecond resolution. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Sleep `ms` (no-op for ≤ 0). Resolves `false` early if `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  if (!(ms > 0)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(t);
      resolve(false);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

// ----------------------------------------------------------------- server

export interface EmulatorListenOptions {
  /** TCP port; 0 (default) picks a free one. */
  port?: number;
  /** Bind address. Default 127.0.0.1 (the emulators are never exposed). */
  host?: string;
}

/**
 * Base class: owns the HTTP server, tracks sockets and WebSockets, and tears
 * everything down in {@link close}. Subclasses implement {@link handleRequest}
 * and optionally {@link handleUpgrade}.
 */
export abstract class EmulatorServer {
  readonly #requestedPort: number;
  readonly #host: string;
  #server: Server | undefined;
  #port: number | undefined;
  #sockets = new Set<Socket>();
  #wss: WsServer | undefined;
  #lifetime = new AbortController();

  constructor(opts: EmulatorListenOptions = {}) {
    this.#requestedPort = opts.port ?? 0;
    this.#host = opts.host ?? '127.0.0.1';
    // every session / in-flight sleep listens on this signal
    setMaxListeners(0, this.#lifetime.signal);
  }

  /** Aborted when the emulator closes; pass to sleeps/streams so they stop. */
  protected get lifetime(): AbortSignal {
    return this.#lifetime.signal;
  }

  get started(): boolean {
    return this.#port !== undefined;
  }

  get port(): number {
    if (this.#port === undefined) throw new Error(`${this.constructor.name} is not started`);
    return this.#port;
  }

  get host(): string {
    return this.#host;
  }

  /** `http://127.0.0.1:<port>` */
  get httpUrl(): string {
    return `http://${this.#host}:${this.port}`;
  }

  async start(): Promise<this> {
    if (this.#server) return this;
    if (this.#lifetime.signal.aborted) throw new Error(`${this.constructor.name} was closed; create a new one`);
    const server = createServer((req, res) => {
      Promise.resolve(this.handleRequest(req, res)).catch((err: unknown) => {
        if (!res.headersSent) {
          sendJson(res, 500, { error: { message: `emulator failure: ${errMessage(err)}`, type: 'sandbox_error' } });
        } else {
          res.destroy();
        }
      });
    });
    server.on('connection', (sock: Socket) => {
      this.#sockets.add(sock);
      sock.on('close', () => this.#sockets.delete(sock));
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => {});
      Promise.resolve(this.handleUpgrade(req, socket, head)).catch((err: unknown) => {
        rejectUpgrade(socket, 500, { error: `emulator failure: ${errMessage(err)}` });
      });
    });
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#requestedPort, this.#host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address();
    if (!addr || typeof addr === 'string') throw new Error('unexpected server address');
    this.#port = addr.port;
    return this;
  }

  /** Stop accepting, end every HTTP socket and WebSocket, cancel pending work. */
  async close(): Promise<void> {
    this.#lifetime.abort();
    this.onClose();
    const server = this.#server;
    if (this.#wss) {
      for (const ws of this.#wss.clients) {
        try {
          ws.terminate();
        } catch {
          /* already gone */
        }
      }
      await new Promise<void>((r) => this.#wss!.close(() => r()));
    }
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  }

  /** Hook for subclasses: clear timers etc. Called at the start of close(). */
  protected onClose(): void {}

  protected abstract handleRequest(req: IncomingMessage, res: ServerResponse): void | Promise<void>;

  protected handleUpgrade(_req: IncomingMessage, socket: Duplex, _head: Buffer): void | Promise<void> {
    rejectUpgrade(socket, 404, { error: 'no WebSocket endpoint here' });
  }

  /** Complete a WebSocket upgrade. */
  protected acceptUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, headers: Record<string, string> = {}): Promise<WsSocket> {
    if (!this.#wss) {
      this.#wss = new wsModule.WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 16 * 1024 * 1024 });
    }
    const wss = this.#wss;
    const onHeaders = (hs: string[], r: IncomingMessage) => {
      if (r !== req) return;
      wss.off('headers', onHeaders);
      for (const [k, v] of Object.entries(headers)) hs.push(`${k}: ${v}`);
    };
    wss.on('headers', onHeaders);
    return new Promise((resolve) => {
      wss.handleUpgrade(req, socket, head, (ws) => {
        wss.off('headers', onHeaders);
        ws.on('error', () => {});
        resolve(ws);
      });
    });
  }
}

/** Refuse a WebSocket upgrade with a plain HTTP response (what the real services do on bad auth/params). */
export function rejectUpgrade(socket: Duplex, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(text)}`,
    'Connection: close',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    '',
    '',
  ];
  try {
    socket.end(lines.join('\r\n') + text);
  } catch {
    /* ignore */
  }
  setTimeout(() => socket.destroy(), 50).unref();
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

export async function readBody(req: IncomingMessage, limit = 8 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > limit) throw new Error(`request body over ${limit} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

export function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
