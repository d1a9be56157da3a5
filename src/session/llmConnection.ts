/**
 * The OpenAI client a call's LLM talks through, kept connected across the caller's turns.
 *
 * An idle keep-alive connection lives about 4 s in Node's fetch (undici's default when the server
 * gives no longer hint), and a caller's turn is usually longer than that: the agent's reply plays,
 * then the caller speaks. So without help nearly every turn's LLM request opened a new connection,
 * which against the real API is a TCP and TLS handshake on the path between the caller's last word
 * and the reply. The framework's `prewarm()` does this once per session; `warm()` does it again
 * whenever the connection may have gone idle: the session factory calls it when the caller starts
 * speaking and on their interim transcripts, so a connection is open by the time the final
 * transcript starts the request. A warm-up is `GET /models`: no tokens, no cost.
 */
import OpenAI from 'openai';

/** Past this since the last request, the connection may be gone (undici keeps idle ones ~4 s). */
export const IDLE_MS = 3000;

export interface LlmConnectionOptions {
  apiKey?: string;
  baseURL?: string;
  idleMs?: number;
}

export class LlmConnection {
  readonly client: OpenAI;
  /** Warm-up requests sent (the tests read it). */
  warmups = 0;
  private lastRequestAt = 0;
  private readonly idleMs: number;
  private closed = false;
  /** Warm-ups in flight, so close() can cancel them (one signal each: the SDK leaves its listener on). */
  private readonly inFlight = new Set<AbortController>();

  constructor(opts: LlmConnectionOptions) {
    this.idleMs = opts.idleMs ?? IDLE_MS;
    this.client = new OpenAI({
      apiKey: opts.apiKey,
      ...(opts.baseURL ? { baseURL: opts.baseURL } : {}),
      // The framework retries (connOptions), not the SDK.
      maxRetries: 0,
      fetch: (url, init) => {
        this.lastRequestAt = Date.now();
        return fetch(url, init);
      },
    });
  }

  /** Opens a connection if the last request is old enough for it to have closed. Never throws. */
  warm(): void {
    if (this.closed || Date.now() - this.lastRequestAt < this.idleMs) return;
    this.warmups++;
    const abort = new AbortController();
    this.inFlight.add(abort);
    this.client.models
      .list({ signal: abort.signal, timeout: 10_000 })
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => this.inFlight.delete(abort));
  }

  close(): void {
    this.closed = true;
    for (const abort of this.inFlight) abort.abort();
    this.inFlight.clear();
  }
}
