/**
 * The campaign dispatcher: the loop that turns pending contacts into agent dispatches and call
 * outcomes into final results or retries, within the concurrency, calls-per-second and calling
 * window limits.
 *
 * Each turn of the loop:
 *  1. renews its leases on the contacts it is dispatching;
 *  2. recovers `dispatching` contacts left by a dispatcher that died (dead pid on this host, or an
 *     expired lease) and its own failed CreateDispatch calls: it takes the claim over, then asks
 *     LiveKit (ListDispatch) and the call records whether the attempt already went out; only if
 *     neither knows it, the SAME attempt (same room) is dispatched again;
 *  3. collects outcomes: dispatched contacts whose room has a finished call record get the retry
 *     policy applied (back to pending with a backoff, or done); a call with no finished record
 *     CAMPAIGN_CALL_TIMEOUT_SECONDS after dispatch counts as `error`;
 *  4. fills free slots: due contacts outside their calling window are parked until it opens, the
 *     rest are claimed (atomically, with the shared concurrency and CPS budget) and dispatched.
 *
 * Everything durable goes through the store before the network is touched, so the process may be
 * killed at any instant. Time comes from a Clock, so tests run calling windows in virtual time.
 */
import type { CallRecordStore, CampaignProgress, CampaignStore, CallOutcome, ContactRow } from '../store/index.js';
import type { CallingWindow } from './callingWindow.js';
import { type Clock, systemClock } from './clock.js';
import { EMPTY_DNC, type DncList } from './dnc.js';
import { type DispatchSink, isFatalApiError } from './dispatchSink.js';
import { jobFor } from './outbound.js';
import { newOwner, ownerIsDead } from '../store/owner.js';
import { decideRetry, type RetryPolicy } from './retry.js';
import { type DialPolicy, checkDialable } from '../telephony/dialPolicy.js';

export interface DispatcherOptions {
  campaignId: string;
  store: CampaignStore;
  calls: CallRecordStore;
  sink: DispatchSink;
  window: CallingWindow;
  retry: RetryPolicy;
  maxConcurrent: number;
  /** Calls per second for the campaign; 0 is unlimited. */
  cps: number;
  /** A dispatched call without a finished record after this long is an `error`. */
  callTimeoutMs: number;
  dnc?: DncList;
  /**
   * Re-checked before each claim: a contact imported under an older ALLOWED_COUNTRIES (or before
   * these checks existed) is excluded, not dialled. Unset: every imported number may be dialled.
   */
  dialPolicy?: DialPolicy;
  clock?: Clock;
  owner?: string;
  /** How long a claim on a dispatching contact holds without renewal. Default 30 s. */
  leaseMs?: number;
  /** How often the store is polled for outcomes while calls are in flight. Default 250 ms. */
  pollMs?: number;
  /** Longest sleep while everything waits for a calling window (the store is re-read then). Default 60 s. */
  idleMs?: number;
  /** Contacts looked at per claim. Default 100. */
  batchSize?: number;
  /** Return (reason `parked`) instead of waiting when only contacts outside their window are left. */
  exitWhenParked?: boolean;
  signal?: AbortSignal;
  onEvent?: (event: DispatcherEvent) => void;
}

export type DispatcherEvent =
  | { type: 'dispatched'; contactId: string; room: string; attempt: number; at: number; redispatch: boolean }
  | { type: 'outcome'; contactId: string; room: string; attempt: number; kind: string; final: boolean; retryAt?: number; at: number }
  | { type: 'parked'; contacts: number; until: number }
  | { type: 'recovered'; contactId: string; room: string; found: 'dispatch' | 'call_record' }
  | { type: 'dispatch_error'; contactId: string; room: string; error: string }
  | { type: 'progress'; progress: CampaignProgress; at: number };

export interface RunResult {
  /** Every contact has a final outcome (or is excluded). */
  complete: boolean;
  reason: 'complete' | 'parked' | 'stopped';
  progress: CampaignProgress;
  /** When parked: when the first parked contact's window opens. */
  resumesAt: number | null;
  /** CreateDispatch calls this run made (redispatches of recovered attempts included). */
  dispatched: number;
  redispatched: number;
  recovered: number;
  outcomes: number;
}

interface Retrying {
  row: ContactRow;
  at: number;
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

export class Dispatcher {
  readonly owner: string;
  private readonly o: Required<Omit<DispatcherOptions, 'signal' | 'onEvent' | 'owner'>> & Pick<DispatcherOptions, 'signal' | 'onEvent'>;
  private readonly clock: Clock;
  private rpcs = 0;
  private wakeController = new AbortController();
  private fatal: unknown;
  private readonly retrying = new Map<string, Retrying>();
  private failures = 0;
  private pausedUntil = 0;
  private cpsUntil = 0;
  private nextRenew = 0;
  private nextRecover = 0;
  private nextOverdue = 0;
  private nextProgress = 0;
  private parkedNotice = 0;
  private readonly counts = { dispatched: 0, redispatched: 0, recovered: 0, outcomes: 0 };

  constructor(options: DispatcherOptions) {
    this.owner = options.owner ?? newOwner();
    this.clock = options.clock ?? systemClock;
    this.o = {
      dnc: EMPTY_DNC,
      dialPolicy: { defaultRegion: 'US', allowedCountries: ['*'] },
      clock: this.clock,
      leaseMs: 30_000,
      pollMs: 250,
      idleMs: 60_000,
      batchSize: 100,
      exitWhenParked: false,
      ...options,
    };
  }

  private emit(event: DispatcherEvent): void {
    this.o.onEvent?.(event);
  }

  private wake(): void {
    this.wakeController.abort();
  }

  async run(): Promise<RunResult> {
    const { store, campaignId } = this.o;
    try {
      for (;;) {
        if (this.fatal) throw this.fatal;
        const now = this.clock.now();
        const stopping = this.o.signal?.aborted === true;
        if (now >= this.nextRenew) {
          await store.renewLeases(this.owner, now + this.o.leaseMs);
          this.nextRenew = now + this.o.leaseMs / 3;
        }
        if (!stopping) await this.recover(now);
        await this.collect(now);
        if (!stopping && now >= this.pausedUntil && now >= this.cpsUntil) await this.fill(now);

        const { inFlight, nextAt } = await store.activity(campaignId);
        if (now >= this.nextProgress) {
          this.nextProgress = now + 1000;
          this.emit({ type: 'progress', progress: await store.progress(campaignId), at: now });
        }
        if (stopping) {
          if (this.rpcs === 0) return await this.result('stopped', null);
        } else if (inFlight === 0 && this.rpcs === 0 && this.retrying.size === 0) {
          if (nextAt === null) return await this.result('complete', null);
          if (nextAt > now) {
            if (this.o.exitWhenParked) return await this.result('parked', nextAt);
            if (this.parkedNotice !== nextAt) {
              this.parkedNotice = nextAt;
              const p = await store.progress(campaignId);
              this.emit({ type: 'parked', contacts: p.pending, until: nextAt });
            }
          }
        }
        await this.pause(now, inFlight, nextAt);
      }
    } finally {
      // Our claims are not released: the next run recovers them (that is the point).
      await this.drain();
    }
  }

  private async pause(now: number, inFlight: number, nextAt: number | null): Promise<void> {
    let ms = this.o.pollMs;
    const busy = inFlight > 0 || this.rpcs > 0 || this.retrying.size > 0;
    if (!busy && nextAt !== null && nextAt > now) ms = Math.min(nextAt - now, this.o.idleMs);
    if (busy || (nextAt !== null && nextAt <= now)) {
      // Due work waiting only on the CPS budget or a pause: wake exactly then.
      const gate = Math.max(this.cpsUntil, this.pausedUntil);
      if (gate > now) ms = Math.min(ms, gate - now);
      else if (nextAt !== null && nextAt <= now && inFlight < this.o.maxConcurrent) ms = 0;
    }
    if (ms <= 0) return;
    this.wakeController = new AbortController();
    const onAbort = () => this.wake();
    this.o.signal?.addEventListener('abort', onAbort, { once: true });
    await this.clock.sleep(ms, this.wakeController.signal);
    this.o.signal?.removeEventListener('abort', onAbort);
  }

  private async drain(): Promise<void> {
    while (this.rpcs > 0) {
      this.wakeController = new AbortController();
      await new Promise<void>((resolve) => {
        this.wakeController.signal.addEventListener('abort', () => resolve(), { once: true });
        if (this.rpcs === 0) resolve();
      });
    }
  }

  private async result(reason: RunResult['reason'], resumesAt: number | null): Promise<RunResult> {
    const progress = await this.o.store.progress(this.o.campaignId);
    this.emit({ type: 'progress', progress, at: this.clock.now() });
    return {
      complete: reason === 'complete',
      reason,
      progress,
      resumesAt,
      ...this.counts,
    };
  }

  // --- 2. recovery ---

  private async recover(now: number): Promise<void> {
    const { store, campaignId } = this.o;
    for (const [contactId, r] of this.retrying) {
      if (r.at > now || now < this.pausedUntil) continue;
      this.retrying.delete(contactId);
      await this.reconcile(r.row);
    }
    if (now < this.nextRecover) return;
    this.nextRecover = now + Math.min(1000, this.o.leaseMs / 3);
    const others = await store.othersDispatching(campaignId, this.owner, 200);
    for (const row of others) {
      const stale = (row.leaseUntil ?? 0) < now || ownerIsDead(row.owner);
      if (!stale) continue;
      if (!(await store.takeOver(campaignId, row, this.owner, now + this.o.leaseMs))) continue;
      await this.reconcile({ ...row, owner: this.owner });
    }
  }

  /**
   * A `dispatching` attempt we now own but whose CreateDispatch may or may not have happened.
   * LiveKit is asked first: if the room is already gone, the worker finished the call and its
   * record is in the store by then.
   */
  private async reconcile(row: ContactRow): Promise<void> {
    const { store, campaignId, sink, calls } = this.o;
    const room = row.room!;
    let found: 'dispatch' | 'call_record' | null;
    try {
      found = (await sink.hasDispatch(room)) ? 'dispatch' : null;
      if (!found) found = (await calls.findByRoom(room)) ? 'call_record' : null;
    } catch (err) {
      this.dispatchFailed(row, err);
      return;
    }
    if (found) {
      this.counts.recovered++;
      await store.markDispatched(campaignId, row.contactId, row.attempts, this.clock.now());
      this.emit({ type: 'recovered', contactId: row.contactId, room, found });
      return;
    }
    await store.noteRedispatch(campaignId, row.contactId, row.attempts);
    this.counts.redispatched++;
    this.fire(row, true);
  }

  // --- 3. outcomes ---

  private async collect(now: number): Promise<void> {
    const { store, campaignId } = this.o;
    for (;;) {
      const finished = await store.finishedAttempts(campaignId, 500);
      for (const f of finished) await this.apply(f.contactId, f.room, f.attempt, f.outcome, f.result, f.callId, now);
      if (finished.length < 500) break;
    }
    if (now < this.nextOverdue) return;
    this.nextOverdue = now + 1000;
    for (const late of await store.overdue(campaignId, now - this.o.callTimeoutMs, 100)) {
      if (!late.started) await this.o.sink.cancel(late.room).catch(() => undefined);
      const secs = Math.round(this.o.callTimeoutMs / 1000);
      const error = late.started
        ? `the call record of ${late.room} was not finished ${secs} s after dispatch (worker lost?)`
        : `no worker took the dispatch of ${late.room} within ${secs} s`;
      await this.apply(late.contactId, late.room, late.attempt, { kind: 'error', error }, null, null, now);
    }
  }

  private async apply(
    contactId: string,
    room: string,
    attempt: number,
    outcome: CallOutcome,
    result: Record<string, unknown> | null,
    callId: string | null,
    now: number,
  ): Promise<void> {
    const decision = decideRetry(this.o.retry, outcome.kind, attempt, now);
    const applied = await this.o.store.recordOutcome(this.o.campaignId, {
      contactId,
      attempt,
      outcome,
      result,
      callId,
      endedAt: now,
      next: decision.retry ? { state: 'pending', nextAt: decision.at } : { state: 'done' },
    });
    if (!applied) return; // another dispatcher applied it first
    this.counts.outcomes++;
    this.emit({
      type: 'outcome',
      contactId,
      room,
      attempt,
      kind: outcome.kind,
      final: !decision.retry,
      ...(decision.retry ? { retryAt: decision.at } : {}),
      at: now,
    });
  }

  // --- 4. claiming and dispatching ---

  private async fill(now: number): Promise<void> {
    const { store, campaignId, window, dnc } = this.o;
    for (let round = 0; round < 20; round++) {
      const candidates = await store.due(campaignId, now, this.o.batchSize);
      if (candidates.length === 0) return;
      const ready: string[] = [];
      const parks: { contactId: string; until: number }[] = [];
      const blocked: string[] = [];
      const refused = new Map<string, string[]>();
      for (const c of candidates) {
        if (dnc.has(c.phone)) {
          blocked.push(c.phone);
          continue;
        }
        const check = checkDialable(c.phone, this.o.dialPolicy, { requireValid: false });
        if (!check.ok) {
          refused.set(check.reason, [...(refused.get(check.reason) ?? []), c.phone]);
          continue;
        }
        const open = window.nextOpen(c.zones, now) ?? window.nextOpenIn(c.zones[0]!, now);
        if (open > now) parks.push({ contactId: c.contactId, until: open });
        else ready.push(c.contactId);
      }
      if (blocked.length > 0) await store.excludePhones(campaignId, blocked, 'do-not-call list', now);
      for (const [reason, phones] of refused) await store.excludePhones(campaignId, phones, `not dialled: ${reason}`, now);
      if (parks.length > 0) await store.park(campaignId, parks, now);
      if (ready.length === 0) continue;
      const claim = await store.claim(campaignId, {
        owner: this.owner,
        now,
        leaseMs: this.o.leaseMs,
        maxInFlight: this.o.maxConcurrent,
        cps: this.o.cps,
        contactIds: ready,
      });
      for (const row of claim.claimed) this.fire(row, false);
      if (claim.limitedBy === 'cps') {
        this.cpsUntil = claim.nextSlotAt ?? now;
        return;
      }
      if (claim.limitedBy === 'concurrency') return;
      if (claim.nextSlotAt !== undefined && claim.nextSlotAt > now) {
        this.cpsUntil = claim.nextSlotAt;
        return;
      }
    }
  }

  /** Starts CreateDispatch for a claimed attempt; the loop goes on meanwhile. */
  private fire(row: ContactRow, redispatch: boolean): void {
    const { store, campaignId, sink } = this.o;
    let metadata: string;
    try {
      metadata = JSON.stringify(jobFor(row));
    } catch (err) {
      // Cannot happen for imported rows (they were validated), but never dial a malformed job.
      void this.apply(row.contactId, row.room!, row.attempts, { kind: 'error', error: `invalid job: ${errorText(err)}` }, null, null, this.clock.now());
      return;
    }
    this.rpcs++;
    this.counts.dispatched++;
    sink
      .dispatch(row.room!, metadata)
      .then(
        async () => {
          this.failures = 0;
          const at = this.clock.now();
          await store.markDispatched(campaignId, row.contactId, row.attempts, at);
          this.emit({ type: 'dispatched', contactId: row.contactId, room: row.room!, attempt: row.attempts, at, redispatch });
        },
        (err: unknown) => this.dispatchFailed(row, err),
      )
      .catch((err: unknown) => {
        this.fatal ??= err;
      })
      .finally(() => {
        this.rpcs--;
        this.wake();
      });
  }

  /**
   * CreateDispatch (or the recovery look-up) failed. Whether the dispatch exists is unknown, so
   * the contact stays `dispatching` under our lease and is reconciled after a backoff. Claiming
   * pauses meanwhile; auth failures stop the run.
   */
  private dispatchFailed(row: ContactRow, err: unknown): void {
    const now = this.clock.now();
    this.emit({ type: 'dispatch_error', contactId: row.contactId, room: row.room!, error: errorText(err) });
    if (isFatalApiError(err)) {
      this.fatal ??= new Error(`LiveKit refused the dispatch (${errorText(err)}): check LIVEKIT_API_KEY/LIVEKIT_API_SECRET`, { cause: err });
      return;
    }
    this.failures++;
    const backoff = Math.min(30_000, 500 * 2 ** Math.min(this.failures - 1, 6));
    this.pausedUntil = Math.max(this.pausedUntil, now + backoff);
    this.retrying.set(row.contactId, { row, at: now + backoff });
  }
}
