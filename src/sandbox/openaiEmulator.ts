/**
 * Local emulator of the OpenAI Chat Completions API, for driving the real
 * `@livekit/agents-plugin-openai` LLM (and anything else built on the `openai`
 * client) without network or keys.
 *
 *   POST /v1/chat/completions   streaming (SSE) and non-streaming
 *   GET  /v1/models
 *
 * (the same paths without the `/v1` prefix also work, for clients configured
 * with a bare base URL).
 *
 * What the "model" says comes from a pluggable {@link Brain} chosen by the
 * request's API key (`Authorization: Bearer <key>`), falling back to the brain
 * registered under `'default'` (an echo brain unless replaced). Token counts are
 * deterministic (⌈chars/4⌉), and prompt caching is emulated per key, so cost
 * and usage tests are stable.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  DEFAULT_KEY,
  EmulatorServer,
  type EmulatorListenOptions,
  KeyedTable,
  errMessage,
  extractApiKey,
  keyHash,
  nowMs,
  readBody,
  sendJson,
  sleep,
} from './emulatorServer.js';

// ------------------------------------------------------------------- types

/** A chat message as the client sent it (OpenAI wire format, loosely typed). */
export interface ChatMessage {
  role: string;
  content?: unknown;
  name?: string;
  tool_calls?: { id: string; type: string; function: { name: string; arguments: string } }[];
  tool_call_id?: string;
  [k: string]: unknown;
}

/** A tool offered in the request (`tools[]`). */
export interface ToolSpec {
  type: string;
  function?: { name: string; description?: string; parameters?: unknown; strict?: boolean };
  [k: string]: unknown;
}

export interface ToolCallReply {
  name: string;
  /** Object (serialised with JSON.stringify) or an already-serialised string, sent verbatim. */
  arguments: object | string;
  /** Call id; default `call_<requestSeq>_<index>`. */
  id?: string;
}

export interface TextReply {
  text?: string;
  toolCalls?: ToolCallReply[];
  /** Override `finish_reason`; default `tool_calls` when there are tool calls, else `stop`. */
  finishReason?: 'stop' | 'length' | 'tool_calls' | 'content_filter';
  /**
   * Fail mid-stream: after this many content/tool-call delta chunks have been
   * written, stop (streaming requests only). The chunk count excludes the
   * initial role chunk. 0 fails before any content.
   */
  failAfterChunks?: number;
  /**
   * How to fail mid-stream. `disconnect` (default): destroy the TCP socket —
   * the client sees a broken response body. `error-event`: send an SSE
   * `data: {"error": {...}}` event and end the response, as OpenAI does for
   * server errors after streaming has begun.
   */
  failMode?: 'disconnect' | 'error-event';
  /** Per-reply latency overrides. */
  firstTokenMs?: number;
  tokenIntervalMs?: number;
}

export interface ErrorReply {
  error: {
    /** HTTP status to answer with (e.g. 429, 500, 503). */
    status: number;
    message: string;
    /** OpenAI error `type`; default derived from status (e.g. `server_error`). */
    type?: string;
    code?: string | null;
  };
}

export type Reply = TextReply | ErrorReply;

export interface BrainRequest {
  messages: ChatMessage[];
  tools: ToolSpec[];
  model: string;
  /** The API key the request carried ('' if none). A routing label, not a secret. */
  key: string;
  stream: boolean;
  /** 0-based count of requests already seen for this key. */
  index: number;
  /** Full parsed request body. */
  body: Record<string, unknown>;
}

export type Brain = (req: BrainRequest) => Reply | Promise<Reply>;

export function isErrorReply(r: Reply): r is ErrorReply {
  return typeof (r as ErrorReply).error === 'object' && (r as ErrorReply).error !== null;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number; audio_tokens: number };
  completion_tokens_details: {
    reasoning_tokens: number;
    audio_tokens: number;
    accepted_prediction_tokens: number;
    rejected_prediction_tokens: number;
  };
}

export type ChatOutcome =
  | 'ok'
  | 'http-error'
  | 'failed-mid-stream'
  | 'client-aborted'
  | 'brain-error'
  | 'bad-request'
  | 'unauthorized';

export interface ChatRequestRecord {
  /** `chatcmpl-…` id returned to the client. */
  id: string;
  /** Redacted key ({@link keyHash}); null when no key was sent. */
  keyHash: string | null;
  model: string;
  stream: boolean;
  includeUsage: boolean;
  messages: ChatMessage[];
  /** Names of the function tools offered. */
  toolNames: string[];
  tools: ToolSpec[];
  /** Remaining request fields (temperature, tool_choice, parallel_tool_calls, …). */
  params: Record<string, unknown>;
  /** Epoch ms (fractional). */
  receivedAt: number;
  /**
   * Whether this request opened its TCP connection (none of ours came before it on that socket).
   * Against the real API a new connection is a TCP and TLS handshake before the request can go.
   */
  newConnection: boolean;
  /** When the response headers were written. */
  headersAt?: number;
  /** When the first content/tool delta was written. */
  firstChunkAt?: number;
  completedAt?: number;
  status: number;
  outcome: ChatOutcome;
  reply?: Reply;
  usage?: Usage;
  /** Content/tool delta chunks written. */
  chunksSent: number;
  error?: string;
}

// ------------------------------------------------------------ token model

/** Deterministic token estimate: ⌈chars / 4⌉. */
export function countTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** The string prompt tokens are counted over: tools first (stable prefix), then messages. */
export function promptText(messages: unknown, tools: unknown): string {
  return JSON.stringify(tools ?? []) + JSON.stringify(messages ?? []);
}

function completionText(text: string, toolCalls: { name: string; args: string }[]): string {
  return text + toolCalls.map((t) => t.name + t.args).join('');
}

/**
 * Cached-token emulation in the spirit of OpenAI's prompt caching: prompts of at
 * least 1024 tokens get the longest prefix they share with one of the same
 * key's recent prompts credited as cached, in 128-token increments.
 */
export function cachedTokensFor(prompt: string, previous: readonly string[]): number {
  if (countTokens(prompt) < 1024) return 0;
  let best = 0;
  for (const prev of previous) {
    const max = Math.min(prev.length, prompt.length);
    let i = 0;
    while (i < max && prev.charCodeAt(i) === prompt.charCodeAt(i)) i++;
    if (i > best) best = i;
  }
  const tokens = Math.floor(best / 4);
  return tokens < 1024 ? 0 : Math.floor(tokens / 128) * 128;
}

/** Split text into word-ish pieces (leading whitespace attached), concatenating back to `text`. */
export function splitTextPieces(text: string): string[] {
  if (!text) return [];
  return text.match(/\s*\S+|\s+$/g) ?? [text];
}

function splitArgs(args: string, size = 12): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i += size) out.push(args.slice(i, i + size));
  return out.length ? out : [''];
}

// ------------------------------------------------------------------ brains

export class ScriptExhaustedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScriptExhaustedError';
  }
}

export interface ScriptedBrain extends Brain {
  /** Queue more replies (or per-request reply functions). */
  push(...replies: (Reply | Brain)[]): ScriptedBrain;
  /** Replies not yet consumed. */
  readonly remaining: number;
  /** Replies consumed so far. */
  readonly consumed: number;
}

/**
 * A brain that answers with queued replies, in order, one per request. When the
 * queue is empty it throws {@link ScriptExhaustedError}; the emulator answers
 * that request with HTTP 500 (type `sandbox_script_exhausted`) and records it,
 * so a test that under-scripts a conversation fails loudly instead of hanging.
 */
export function scriptedBrain(replies: (Reply | Brain)[] = [], name = 'scripted brain'): ScriptedBrain {
  const queue: (Reply | Brain)[] = [...replies];
  let consumed = 0;
  const brain = (async (req: BrainRequest) => {
    const next = queue.shift();
    if (next === undefined) {
      const lastUser = [...req.messages].reverse().find((m) => m.role === 'user');
      const said = lastUser ? contentText(lastUser.content).slice(0, 80) : '(none)';
      throw new ScriptExhaustedError(
        `${name}: no reply queued for request #${consumed + 1} (model ${req.model}, last user message: ${JSON.stringify(said)})`,
      );
    }
    consumed++;
    return typeof next === 'function' ? next(req) : next;
  }) as ScriptedBrain;
  Object.defineProperties(brain, {
    push: {
      value: (...more: (Reply | Brain)[]) => {
        queue.push(...more);
        return brain;
      },
    },
    remaining: { get: () => queue.length },
    consumed: { get: () => consumed },
  });
  return brain;
}

/** Text of a message `content` (string or content-part array). */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((p) => (p && typeof p === 'object' && typeof (p as { text?: unknown }).text === 'string' ? (p as { text: string }).text : ''))
      .join('');
  }
  return '';
}

/** Default brain: repeats the last user message ("You said: …"), or greets. */
export const echoBrain: Brain = (req) => {
  const lastUser = [...req.messages].reverse().find((m) => m.role === 'user');
  const said = lastUser ? contentText(lastUser.content).trim() : '';
  return { text: said ? `You said: ${said}` : 'Hello! How can I help you today?' };
};

// ---------------------------------------------------------------- emulator

export interface OpenAIEmulatorOptions extends EmulatorListenOptions {
  /** Delay before the response headers + first token. Default 0. */
  firstTokenMs?: number;
  /** Delay between streamed chunks. Default 0. */
  tokenIntervalMs?: number;
  /** Brain for keys without their own. Default {@link echoBrain}. */
  defaultBrain?: Brain;
  /** Reject requests with no API key (401), like the real API. Default true. */
  requireKey?: boolean;
  /** Model ids listed by GET /v1/models. */
  models?: string[];
  /** Emulate prompt caching (cached_tokens). Default true. */
  promptCaching?: boolean;
}

const DEFAULT_MODELS = ['gpt-4.1', 'gpt-4.1-mini', 'gpt-4.1-nano', 'gpt-4o', 'gpt-4o-mini'];

export class OpenAIEmulator extends EmulatorServer {
  firstTokenMs: number;
  tokenIntervalMs: number;
  requireKey: boolean;
  promptCaching: boolean;
  models: string[];
  /** Every chat request, in arrival order. */
  readonly requests: ChatRequestRecord[] = [];
  /** Sockets that have carried a request (see ChatRequestRecord.newConnection). */
  readonly #usedSockets = new WeakSet<object>();

  #brains: KeyedTable<Brain>;
  #counts = new Map<string, number>();
  #recentPrompts = new Map<string, string[]>();
  #seq = 0;

  constructor(opts: OpenAIEmulatorOptions = {}) {
    super(opts);
    this.firstTokenMs = opts.firstTokenMs ?? 0;
    this.tokenIntervalMs = opts.tokenIntervalMs ?? 0;
    this.requireKey = opts.requireKey ?? true;
    this.promptCaching = opts.promptCaching ?? true;
    this.models = opts.models ?? DEFAULT_MODELS;
    this.#brains = new KeyedTable<Brain>(opts.defaultBrain ?? echoBrain);
  }

  /** `http://127.0.0.1:<port>` — pass `url + '/v1'` as the client's baseURL. */
  get url(): string {
    return this.httpUrl;
  }

  /** `http://127.0.0.1:<port>/v1` */
  get baseURL(): string {
    return `${this.httpUrl}/v1`;
  }

  /** Route requests carrying `key` (or every unknown key, for `'default'`) to `brain`. */
  setBrain(key: string, brain: Brain): this {
    this.#brains.set(key, brain);
    return this;
  }

  /** Shorthand: `setBrain(key, scriptedBrain(replies))`; returns the script for more pushes. */
  script(key: string, replies: (Reply | Brain)[] = []): ScriptedBrain {
    const b = scriptedBrain(replies, `scripted brain for key ${keyHash(key) ?? DEFAULT_KEY}`);
    this.#brains.set(key, b);
    return b;
  }

  removeBrain(key: string): this {
    this.#brains.delete(key);
    return this;
  }

  /** Requests made with `key`. */
  requestsFor(key: string): ChatRequestRecord[] {
    const h = keyHash(key);
    return this.requests.filter((r) => r.keyHash === h);
  }

  protected async handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname.replace(/\/+$/, '');
    if (req.method === 'GET' && (path === '/v1/models' || path === '/models')) {
      this.#usedSockets.add(req.socket);
      const created = 1_700_000_000;
      sendJson(res, 200, {
        object: 'list',
        data: this.models.map((id) => ({ id, object: 'model', created, owned_by: 'switchboard-sandbox' })),
      });
      return;
    }
    if (req.method === 'POST' && (path === '/v1/chat/completions' || path === '/chat/completions')) {
      await this.#chat(req, res);
      return;
    }
    sendJson(res, 404, {
      error: { message: `Unknown request URL: ${req.method} ${url.pathname}`, type: 'invalid_request_error', code: 'unknown_url' },
    });
  }

  async #chat(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const receivedAt = nowMs();
    const newConnection = !this.#usedSockets.has(req.socket);
    this.#usedSockets.add(req.socket);
    const key = extractApiKey(req) ?? '';
    const id = `chatcmpl-sbx${(++this.#seq).toString(36)}${randomUUID().replace(/-/g, '').slice(0, 16)}`;
    const seq = this.#seq;
    const record: ChatRequestRecord = {
      id,
      keyHash: keyHash(key),
      model: '',
      stream: false,
      includeUsage: false,
      messages: [],
      toolNames: [],
      tools: [],
      params: {},
      receivedAt,
      newConnection,
      status: 0,
      outcome: 'ok',
      chunksSent: 0,
    };

    let body: Record<string, unknown>;
    try {
      const raw = await readBody(req);
      const parsed: unknown = JSON.parse(raw.toString('utf8'));
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('body is not a JSON object');
      body = parsed as Record<string, unknown>;
    } catch (err) {
      this.requests.push(record);
      this.#fail(res, record, 400, 'bad-request', `We could not parse the JSON body of your request. (${errMessage(err)})`, 'invalid_request_error');
      return;
    }

    const { messages, tools, model, stream, stream_options, ...params } = body;
    record.model = typeof model === 'string' ? model : '';
    record.stream = stream === true;
    record.includeUsage = !!(stream_options && typeof stream_options === 'object' && (stream_options as { include_usage?: unknown }).include_usage === true);
    record.messages = Array.isArray(messages) ? (messages as ChatMessage[]) : [];
    record.tools = Array.isArray(tools) ? (tools as ToolSpec[]) : [];
    record.toolNames = record.tools.map((t) => t.function?.name ?? '').filter((n) => n);
    record.params = params;
    this.requests.push(record);

    if (this.requireKey && !key) {
      this.#fail(
        res,
        record,
        401,
        'unauthorized',
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        'invalid_request_error',
      );
      return;
    }
    if (!record.model) {
      this.#fail(res, record, 400, 'bad-request', 'you must provide a model parameter', 'invalid_request_error');
      return;
    }
    if (!Array.isArray(messages) || messages.length === 0) {
      this.#fail(res, record, 400, 'bad-request', "Invalid 'messages': empty array or missing.", 'invalid_request_error');
      return;
    }

    const routeKey = key || DEFAULT_KEY;
    const index = this.#counts.get(routeKey) ?? 0;
    this.#counts.set(routeKey, index + 1);
    const brain = this.#brains.get(key || undefined)!;

    let reply: Reply;
    try {
      reply = await brain({ messages: record.messages, tools: record.tools, model: record.model, key, stream: record.stream, index, body });
    } catch (err) {
      const type = err instanceof ScriptExhaustedError ? 'sandbox_script_exhausted' : 'sandbox_brain_error';
      this.#fail(res, record, 500, 'brain-error', `sandbox brain failed: ${errMessage(err)}`, type);
      return;
    }
    record.reply = reply;

    if (isErrorReply(reply)) {
      const { status, message, type, code } = reply.error;
      this.#fail(res, record, status, 'http-error', message, type ?? defaultErrorType(status), code ?? null);
      return;
    }

    // Usage (deterministic) and prompt caching.
    const text = reply.text ?? '';
    const calls = (reply.toolCalls ?? []).map((tc, i) => ({
      id: tc.id ?? `call_sbx${seq}_${i}`,
      name: tc.name,
      args: typeof tc.arguments === 'string' ? tc.arguments : JSON.stringify(tc.arguments),
    }));
    const prompt = promptText(record.messages, body.tools);
    const recent = this.#recentPrompts.get(routeKey) ?? [];
    const cached = this.promptCaching ? cachedTokensFor(prompt, recent) : 0;
    recent.push(prompt);
    if (recent.length > 8) recent.shift();
    this.#recentPrompts.set(routeKey, recent);
    const promptTokens = countTokens(prompt);
    const completionTokens = countTokens(completionText(text, calls));
    const usage: Usage = {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
      prompt_tokens_details: { cached_tokens: cached, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    };
    record.usage = usage;
    const finishReason = reply.finishReason ?? (calls.length ? 'tool_calls' : 'stop');
    const firstTokenMs = reply.firstTokenMs ?? this.firstTokenMs;
    const tokenIntervalMs = reply.tokenIntervalMs ?? this.tokenIntervalMs;
    const created = Math.floor(receivedAt / 1000);
    const requestId = `req_${id.slice(8)}`;

    let clientGone = false;
    res.on('close', () => {
      if (!res.writableFinished) clientGone = true;
    });

    if (!record.stream) {
      const pieces = splitTextPieces(text).length + calls.length;
      if (!(await sleep(firstTokenMs + Math.max(0, pieces - 1) * tokenIntervalMs, this.lifetime))) return;
      if (clientGone) {
        record.outcome = 'client-aborted';
        record.completedAt = nowMs();
        return;
      }
      record.status = 200;
      record.headersAt = record.firstChunkAt = nowMs();
      sendJson(
        res,
        200,
        {
          id,
          object: 'chat.completion',
          created,
          model: record.model,
          system_fingerprint: 'fp_sandbox',
          choices: [
            {
              index: 0,
              message: {
                role: 'assistant',
                content: text || (calls.length ? null : ''),
                refusal: null,
                ...(calls.length
                  ? { tool_calls: calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.args } })) }
                  : {}),
              },
              logprobs: null,
              finish_reason: finishReason,
            },
          ],
          usage,
          service_tier: 'default',
        },
        { 'x-request-id': requestId, 'openai-processing-ms': String(Math.round(nowMs() - receivedAt)) },
      );
      record.chunksSent = 1;
      record.completedAt = nowMs();
      return;
    }

    // ---- streaming
    if (!(await sleep(firstTokenMs, this.lifetime))) return;
    if (clientGone) {
      record.outcome = 'client-aborted';
      record.completedAt = nowMs();
      return;
    }
    record.status = 200;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-request-id': requestId,
      'openai-processing-ms': String(Math.round(nowMs() - receivedAt)),
    });
    record.headersAt = nowMs();
    const usageField = record.includeUsage ? { usage: null } : {};
    const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
      id,
      object: 'chat.completion.chunk',
      created,
      model: record.model,
      system_fingerprint: 'fp_sandbox',
      service_tier: 'default',
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...usageField,
    });
    const write = (payload: unknown) => {
      res.write(`data: ${JSON.stringify(payload)}\n\n`);
    };

    const deltas: Record<string, unknown>[] = [];
    for (const piece of splitTextPieces(text)) deltas.push({ content: piece });
    calls.forEach((c, i) => {
      deltas.push({ tool_calls: [{ index: i, id: c.id, type: 'function', function: { name: c.name, arguments: '' } }] });
      for (const part of splitArgs(c.args)) {
        if (part) deltas.push({ tool_calls: [{ index: i, function: { arguments: part } }] });
      }
    });

    write(chunk({ role: 'assistant', content: '', refusal: null }));
    const failAfter = reply.failAfterChunks;
    for (let i = 0; i < deltas.length; i++) {
      if (failAfter !== undefined && i >= failAfter) break;
      if (i > 0 && !(await sleep(tokenIntervalMs, this.lifetime))) return;
      if (clientGone) {
        record.outcome = 'client-aborted';
        record.completedAt = nowMs();
        return;
      }
      write(chunk(deltas[i]!));
      record.chunksSent++;
      if (record.firstChunkAt === undefined) record.firstChunkAt = nowMs();
    }

    if (failAfter !== undefined) {
      record.outcome = 'failed-mid-stream';
      record.completedAt = nowMs();
      if (reply.failMode === 'error-event') {
        record.error = 'sent SSE error event';
        write({ error: { message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error', param: null, code: null } });
        res.end();
      } else {
        record.error = 'destroyed socket mid-stream';
        // Let the written chunks flush before the connection is cut.
        await new Promise<void>((r) => setImmediate(r));
        res.socket?.destroy();
      }
      return;
    }

    if (!(await sleep(deltas.length ? tokenIntervalMs : 0, this.lifetime))) return;
    write(chunk({}, finishReason));
    if (record.includeUsage) {
      write({ id, object: 'chat.completion.chunk', created, model: record.model, system_fingerprint: 'fp_sandbox', service_tier: 'default', choices: [], usage });
    }
    res.write('data: [DONE]\n\n');
    res.end();
    record.completedAt = nowMs();
  }

  #fail(
    res: ServerResponse,
    record: ChatRequestRecord,
    status: number,
    outcome: ChatOutcome,
    message: string,
    type: string,
    code: string | null = null,
  ): void {
    record.status = status;
    record.outcome = outcome;
    record.error = message;
    record.completedAt = nowMs();
    sendJson(res, status, { error: { message, type, param: null, code } }, { 'x-request-id': `req_${record.id.slice(8)}` });
  }
}

function defaultErrorType(status: number): string {
  if (status === 401) return 'invalid_request_error';
  if (status === 429) return 'rate_limit_exceeded';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}
