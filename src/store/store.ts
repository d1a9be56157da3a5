/**
 * The store: the only door to persistent state (call records, bookings, campaign state).
 *
 * Agents, tools, the call lifecycle and the CLI see these interfaces only. Methods are async even
 * though SQLite answers synchronously, so a Postgres backend for worker fleets can implement the
 * same contract without touching any caller. Backends live beside this file (`sqliteStore.ts`, `postgresStore.ts`).
 */
import type {
  Appointment,
  BookResult,
  CallFinish,
  CallRecord,
  CallStart,
  NewAppointment,
} from './types.js';
import type { CampaignStore } from './campaignStore.js';
import type { WebhookOutbox } from './outbox.js';
import type { MessageStore } from './messageStore.js';
import type { RetentionStore } from './retentionStore.js';

export interface CallRecordStore {
  /** Written when the call starts, so a worker crash still leaves a trace of the call. */
  start(call: CallStart): Promise<void>;
  /**
   * Written once when the call ends; a second finish for the same id is refused. In the same
   * transaction, one end-of-call webhook delivery per endpoint the store was opened with.
   */
  finish(id: string, result: CallFinish): Promise<void>;
  get(id: string): Promise<CallRecord | undefined>;
  /** The record of the call in a room (the finished one if there are several); outbound attempts have one room each. */
  findByRoom(room: string): Promise<CallRecord | undefined>;
  /**
   * Newest first. `since`: only calls started at or after this ISO time (records store
   * `toISOString()` times, which order as text).
   */
  list(options?: { limit?: number; campaignId?: string; since?: string }): Promise<CallRecord[]>;
  /** Records not finished yet whose owner runs on `host` (store/owner.ts), oldest first. */
  openOnHost(host: string): Promise<CallRecord[]>;
}

export interface AppointmentStore {
  /** Active (not cancelled) appointments that start in [fromIso, toIso). */
  activeBetween(fromIso: string, toIso: string): Promise<Appointment[]>;
  /** Books atomically: two calls racing for one slot get one `ok` and one `slot_taken`. */
  book(appointment: NewAppointment): Promise<BookResult>;
  get(id: string): Promise<Appointment | undefined>;
  /** Active appointments for a phone number, soonest first. */
  findByPhone(phone: string): Promise<Appointment[]>;
  reschedule(id: string, newStartIso: string): Promise<BookResult>;
  setStatus(id: string, status: 'confirmed' | 'cancelled'): Promise<Appointment | undefined>;
}

export interface Store {
  readonly calls: CallRecordStore;
  readonly appointments: AppointmentStore;
  /** Outbound campaign state (campaignStore.ts). Absent in stores that only serve calls. */
  readonly campaigns?: CampaignStore;
  /** End-of-call webhook deliveries (outbox.ts). */
  readonly webhooks: WebhookOutbox;
  /** Which schema this store has, and what opening it migrated. */
  readonly schema: SchemaInfo;
  /** Messages callers left and callbacks promised (messageStore.ts). */
  readonly messages: MessageStore;
  /** RETENTION_DAYS: clearing what old calls left about people (retentionStore.ts). */
  readonly retention: RetentionStore;
  close(): Promise<void>;
}

export interface SchemaInfo {
  backend: 'sqlite' | 'postgres';
  /** The location as it may be shown (no password). */
  location: string;
  /** Schema version before this open ran the migrations, and after. */
  from: number;
  version: number;
}

/** Options every backend takes when opened. */
export interface OpenOptions {
  /** End-of-call webhook endpoints: each finished call gets one outbox row per endpoint. */
  webhookEndpoints?: readonly string[];
}

/** What kind of failure a StoreError is, where a caller acts on it (retry or not, say what). */
export type StoreErrorCode = 'already_finished' | 'not_found' | 'newer_schema' | 'bad_location' | 'cannot_open';

export class StoreError extends Error {
  readonly code?: StoreErrorCode;
  constructor(message: string, options?: { cause?: unknown; code?: StoreErrorCode }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = options?.code;
  }
}

export function notFinishable(id: string, exists: boolean): StoreError {
  return exists
    ? new StoreError(`call record ${id} is already finished; the outcome was not overwritten`, { code: 'already_finished' })
    : new StoreError(`call record ${id} is missing; it was never started in this store`, { code: 'not_found' });
}

/** `where` names the store ("the store at … (STORE_URL)"). */
export function newerSchema(where: string, found: number, known: number): StoreError {
  return new StoreError(
    `${where} has schema version ${found}, newer than this build of switchboard knows (${known}); ` +
      'upgrade switchboard, or point the store setting at another database',
    { code: 'newer_schema' },
  );
}
