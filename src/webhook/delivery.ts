/**
 * The delivery loop: claims due outbox rows (a lease per row, so several workers can share one
 * store), POSTs each end-of-call report signed per Standard Webhooks (`webhook-id`,
 * `webhook-timestamp`, `webhook-signature`, via the `standardwebhooks` package), and records the
 * answer. 2xx is delivered; anything else (status, timeout, refused connection) is retried with
 * backoff until the event's 24 h budget runs out. A worker killed mid-request leaves its row
 * `delivering`; once the lease runs out another pass sends it again under the same id, which is
 * what receivers dedupe on.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import type { CallRecordStore, WebhookDelivery, WebhookOutbox } from '../store/index.js';
import { type BackoffOptions, DEFAULT_BACKOFF, nextAttemptAt } from './backoff.js';
import { endOfCallReport } from './payload.js';

export interface DeliveryOptions {
  outbox: WebhookOutbox;
  calls: Pick<CallRecordStore, 'get'>;
  secret: string;
  timeoutMs: number;
  /** Who holds the leases; unique per process. */
  owner?: string;
  /** Rows claimed (and sent concurrently) per pass. */
  batch?: number;
  /** Longest sleep between passes when nothing is due (a row finished by another process is found within this). */
  pollMs?: number;
  backoff?: BackoffOptions;
  now?: () => number;
  onEvent?: (e: DeliveryEvent) => void;
}

export type DeliveryEvent =
  | { kind: 'delivered'; eventId: string; endpoint: string; status: number; attempt: number }
  | { kind: 'failed'; eventId: string; endpoint: string; status: number | null; error: string; attempt: number; retryAt: number | null }
  | { kind: 'lease_lost'; eventId: string; endpoint: string };

export class WebhookDeliverer {
  readonly owner: string;
  private readonly signer: Webhook;
  private readonly now: () => number;

  constructor(private readonly o: DeliveryOptions) {
    this.owner = o.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.signer = new Webhook(o.secret.replace(/^whsec_/, ''));
    this.now = o.now ?? Date.now;
  }

  /** The lease outlives the request timeout, so a live worker never loses a row it is sending. */
  get leaseMs(): number {
    return this.o.timeoutMs + 5_000;
  }

  /** One pass: claims what is due and sends it. Returns how many rows it handled. */
  async deliverDue(): Promise<number> {
    const rows = await this.o.outbox.claim(this.owner, this.now(), this.leaseMs, this.o.batch ?? 20);
    await Promise.all(rows.map((d) => this.deliver(d)));
    return rows.length;
  }

  /** Passes until `signal` aborts; sleeps until the next row is due (at most `pollMs`). */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      let handled = 0;
      try {
        handled = await this.deliverDue();
      } catch {
        // The store is unreachable for now; the rows are still there next pass.
      }
      if (handled > 0) continue;
      const due = await this.o.outbox.nextDue().catch(() => null);
      const poll = this.o.pollMs ?? 1_000;
      const wait = due === null ? poll : Math.min(poll, Math.max(0, due - this.now()));
      await sleep(Math.max(wait, 20), signal);
    }
  }

  private async deliver(d: WebhookDelivery): Promise<void> {
    let status: number | null = null;
    let error: string;
    try {
      const record = await this.o.calls.get(d.callId);
      if (!record?.finished) throw new Error(`call record ${d.callId} is not finished in this store`);
      const body = JSON.stringify(endOfCallReport(d, record));
      const at = new Date(this.now());
      const res = await fetch(d.endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'switchboard-webhooks',
          'webhook-id': d.eventId,
          'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
          'webhook-signature': this.signer.sign(d.eventId, at, body),
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.o.timeoutMs),
      });
      status = res.status;
      await res.arrayBuffer().catch(() => undefined);
      if (status >= 200 && status < 300) {
        const ok = await this.o.outbox.delivered(d, this.owner, status, this.now());
        this.o.onEvent?.(ok ? { kind: 'delivered', eventId: d.eventId, endpoint: d.endpoint, status, attempt: d.attempts } : { kind: 'lease_lost', eventId: d.eventId, endpoint: d.endpoint });
        return;
      }
      error = `HTTP ${status}`;
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      error = e.name === 'TimeoutError' ? `no answer within ${this.o.timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
    }
    const retryAt = nextAttemptAt(d.attempts, this.now(), d.giveUpAt, this.o.backoff ?? DEFAULT_BACKOFF);
    const ok = await this.o.outbox.failed(d, this.owner, { status, error, retryAt }).catch(() => false);
    this.o.onEvent?.(
      ok
        ? { kind: 'failed', eventId: d.eventId, endpoint: d.endpoint, status, error, attempt: d.attempts, retryAt }
        : { kind: 'lease_lost', eventId: d.eventId, endpoint: d.endpoint },
    );
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
