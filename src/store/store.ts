/**
 * The store: the only door to persistent state (call records, bookings, campaign state).
 *
 * Agents, tools, the call lifecycle and the CLI see these interfaces only. Methods are async even
 * though SQLite answers synchronously, so a Postgres backend for worker fleets can implement the
 * same contract without touching any caller. Backends live beside this file (`sqliteStore.ts`).
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
import type { MessageStore } from './messageStore.js';
import type { RetentionStore } from './retentionStore.js';

export interface CallRecordStore {
  /** Written when the call starts, so a worker crash still leaves a trace of the call. */
  start(call: CallStart): Promise<void>;
  /** Written once when the call ends; a second finish for the same id is refused. */
  finish(id: string, result: CallFinish): Promise<void>;
  get(id: string): Promise<CallRecord | undefined>;
  /** The record of the call in a room (the finished one if there are several); outbound attempts have one room each. */
  findByRoom(room: string): Promise<CallRecord | undefined>;
  list(options?: { limit?: number; campaignId?: string }): Promise<CallRecord[]>;
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
  /** Messages callers left and callbacks promised (messageStore.ts). */
  readonly messages: MessageStore;
  /** RETENTION_DAYS: clearing what old calls left about people (retentionStore.ts). */
  readonly retention: RetentionStore;
  close(): Promise<void>;
}

export class StoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
  }
}
