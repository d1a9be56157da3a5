/**
 * The end-of-call webhook outbox: one event per finished call (and per replay), one delivery row
 * per endpoint. Rows are written in the call record's finishing transaction, so a crash can lose
 * neither the record nor its event; the delivery loop (src/webhook/) claims due rows with a lease,
 * so several workers can deliver from one store without sending a row twice at once.
 *
 *   pending ──claim──▶ delivering ──2xx──▶ delivered
 *      ▲                  │  │
 *      └── non-2xx, ◀─────┘  └── non-2xx past give_up_at ──▶ failed ──retry──▶ pending
 *          timeout (backoff)
 *   A `delivering` row whose lease ran out (its worker died mid-request) is claimed again, under
 *   the same event id: receivers dedupe on it.
 */

export type DeliveryState = 'pending' | 'delivering' | 'delivered' | 'failed';

export interface WebhookDelivery {
  /** The event id, sent as `webhook-id`; the same on every attempt and every endpoint. */
  eventId: string;
  callId: string;
  type: string;
  /** Epoch ms the event was created (the payload's timestamp). */
  createdAt: number;
  /** Set on a replayed event: the event it repeats. */
  replayOf: string | null;
  endpoint: string;
  state: DeliveryState;
  /** Attempts started so far (the current one included while delivering). */
  attempts: number;
  nextAt: number;
  giveUpAt: number;
  owner: string | null;
  leaseUntil: number | null;
  lastStatus: number | null;
  lastError: string | null;
  deliveredAt: number | null;
}

export interface DeliveryFailure {
  status: number | null;
  error: string;
  /** Retry at this epoch ms; null: give up (the row becomes `failed`). */
  retryAt: number | null;
}

export interface WebhookOutbox {
  /** Due `pending` rows and `delivering` rows whose lease ran out, moved to `delivering` for `owner`. */
  claim(owner: string, now: number, leaseMs: number, limit: number): Promise<WebhookDelivery[]>;
  /** Guarded on owner and attempt: false if the lease was lost and someone else has the row. */
  delivered(d: Pick<WebhookDelivery, 'eventId' | 'endpoint' | 'attempts'>, owner: string, status: number, now: number): Promise<boolean>;
  failed(d: Pick<WebhookDelivery, 'eventId' | 'endpoint' | 'attempts'>, owner: string, failure: DeliveryFailure): Promise<boolean>;
  list(options?: { callId?: string; state?: DeliveryState; limit?: number }): Promise<WebhookDelivery[]>;
  /** `failed` rows (of one call, or all) back to `pending`, same event id, a new 24 h budget. */
  retry(options: { callId?: string; now: number }): Promise<number>;
  /** A new event (new id) for a finished call, one delivery per endpoint; null if the call is not finished. */
  replay(callId: string, endpoints: readonly string[], now: number): Promise<string | null>;
  /** When the next `pending` row is due (null: none), so an idle loop can sleep until then. */
  nextDue(): Promise<number | null>;
}

/** The one event type today. */
export const CALL_ENDED = 'call.ended';
/** How long a delivery is retried from when its event was created. */
export const DELIVERY_BUDGET_MS = 24 * 3600_000;
