/**
 * The campaign part of the store: contacts imported from a CSV, their dial attempts, bad rows, and
 * the claim/lease protocol that lets dispatchers be killed and resumed (or run side by side)
 * without dialling anyone twice.
 *
 * Contact states:
 *
 *   pending ──claim──▶ dispatching ──CreateDispatch ok──▶ dispatched ──call record finished──▶ done
 *      ▲                    │  (intent + room recorded            │                             │
 *      └──── retry (busy, no_answer…) with next_at ◀──────────────┴─────────────────────────────┘
 *   excluded: on the do-not-call list after it was imported; never dialled.
 *
 * - `claim` moves due contacts to `dispatching` in ONE immediate transaction that also enforces the
 *   campaign's concurrency and calls-per-second budget, and stamps owner + lease. The room name of
 *   the attempt (`<campaign>-<contact>-a<attempt>`) is written in the same transaction, before any
 *   CreateDispatch, so a crash leaves the intent behind.
 * - A `dispatching` row whose owner is gone (lease expired, or a dead pid on this host) is taken
 *   over with `takeOver` (a guarded UPDATE on the old owner and lease) and reconciled by asking
 *   LiveKit and the call records whether the attempt already went out.
 * - `dispatched` rows need no owner: whoever sees a finished call record for the room applies the
 *   outcome with `recordOutcome`, guarded on state and attempt, so it is applied exactly once.
 *
 * This file is the contract and its records; backends implement it beside it
 * (`sqliteCampaignStore.ts`), and their tables live in the migrations files. Async like the rest of
 * the store, so a Postgres backend can implement it. Nothing here imports from outside src/store.
 */
import type { CallOutcome, OutcomeKind } from './types.js';

export type ContactState = 'pending' | 'dispatching' | 'dispatched' | 'done' | 'excluded';

export interface CampaignSource {
  path: string;
  size: number;
  mtimeMs: number;
}

export interface CampaignInfo {
  id: string;
  source: string | null;
  /** Identity of the CSV as last fully imported (path, size, mtime); null before the first full import. */
  importedKey: string | null;
  /** Data rows (header excluded) in the last full import. */
  rows: number;
  createdAt: string;
}

/** A valid, normalised contact row from the CSV. */
export interface ContactInput {
  contactId: string;
  /** 1-based line of the CSV the row starts on. */
  line: number;
  /** E.164. */
  phone: string;
  name: string;
  appointmentId: string | null;
  /** IANA zones the contact may be in; the calling window must be open in all of them. */
  zones: string[];
  /** Where the zones came from: `column`, `area_code`, `country`, `country_uncertain`, `default_region`. */
  zoneSource: string;
  fields: Record<string, string>;
}

export type ImportRowResult =
  | { status: 'new' }
  /** Already in the store from an earlier import of this line (a resumed run). */
  | { status: 'seen' }
  | { status: 'duplicate'; of: number; by: 'phone' | 'contact_id' }
  /** An edited file gives this contact_id another number: it replaced the old one (the contact is pending again). */
  | { status: 'changed'; from: string }
  /** Removed by an earlier import, back in the file: pending again. */
  | { status: 'restored' }
  /** Another number, but a call to the old one is in flight: nothing changed; the next import tries again. */
  | { status: 'in_flight'; phone: string };

/** What an import of an edited file changed, kept for `campaign status`. */
export interface ImportChange {
  kind: 'removed' | 'number_changed' | 'restored';
  contactId: string;
  line: number;
  oldPhone: string | null;
  newPhone: string | null;
  /** The contact's state before the change (a removed `done` contact was already called). */
  stateBefore: ContactState;
}

export interface ImportChanges {
  /** The import pass these are from (the latest that changed anything), or null if none ever did. */
  pass: number | null;
  removed: number;
  numberChanged: number;
  restored: number;
  items: ImportChange[];
}

export interface BadRow {
  line: number;
  reason: string;
}

export interface ContactRow extends ContactInput {
  campaignId: string;
  state: ContactState;
  /** Attempts claimed so far; while in flight, the number of the current attempt. */
  attempts: number;
  /** Epoch ms from which a pending contact may be dialled (retry backoff, calling window). */
  nextAt: number;
  /** Room of the current (or last) attempt. */
  room: string | null;
  owner: string | null;
  leaseUntil: number | null;
  dispatchedAt: number | null;
  lastOutcome: OutcomeKind | null;
  outcome: CallOutcome | null;
  result: Record<string, unknown> | null;
  note: string | null;
}

export interface ClaimOptions {
  owner: string;
  now: number;
  leaseMs: number;
  /** Contacts of this campaign that may be dispatching or dispatched at once. */
  maxInFlight: number;
  /** Calls per second for this campaign (0: unlimited), shared by every dispatcher on it. */
  cps: number;
  /** Candidates, in order of preference (from `due`, already checked against the calling window). */
  contactIds: string[];
}

export interface ClaimResult {
  claimed: ContactRow[];
  /** What stopped the claim short of the candidates, if anything. */
  limitedBy: 'none' | 'concurrency' | 'cps';
  /** With `cps`: when the next call may be claimed. */
  nextSlotAt?: number;
}

export interface FinishedAttempt {
  contactId: string;
  attempt: number;
  room: string;
  callId: string;
  outcome: CallOutcome;
  result: Record<string, unknown> | null;
}

export interface OverdueAttempt {
  contactId: string;
  attempt: number;
  room: string;
  dispatchedAt: number;
  /** A call record exists for the room but never finished. */
  started: boolean;
}

export interface OutcomeUpdate {
  contactId: string;
  attempt: number;
  outcome: CallOutcome;
  result: Record<string, unknown> | null;
  callId: string | null;
  endedAt: number;
  /** Where the contact goes: back to pending (a retry, at `nextAt`) or done. */
  next: { state: 'pending'; nextAt: number } | { state: 'done' };
}

export interface CampaignProgress {
  pending: number;
  dispatching: number;
  dispatched: number;
  done: number;
  excluded: number;
  /** Earliest `next_at` of a pending contact, or null. */
  nextAt: number | null;
}

export interface CampaignStats extends CampaignProgress {
  campaignId: string;
  contacts: number;
  /** Final outcome of finished contacts, by kind (plus `excluded`). */
  byOutcome: Record<string, number>;
  /** Dial attempts made (claimed) in total. */
  attempts: number;
  /** Outcomes of every finished attempt, retries included. */
  attemptsByOutcome: Record<string, number>;
  inFlight: number;
  badRows: number;
}

export interface ExportRow {
  contactId: string;
  line: number;
  name: string;
  phone: string;
  state: ContactState;
  attempts: number;
  finalOutcome: string;
  outcome: CallOutcome | null;
  result: Record<string, unknown> | null;
  room: string | null;
  note: string | null;
}

export interface CampaignStore {
  /** Creates the campaign if it is new; returns it either way. */
  ensure(id: string, source: string | null, now: number): Promise<CampaignInfo>;
  get(id: string): Promise<CampaignInfo | undefined>;
  /** Starts an import pass; rows seen twice in one pass are duplicates, rows from older passes are not. */
  beginImport(id: string): Promise<number>;
  /** Inserts contacts (idempotently), in one transaction; results in input order. */
  importRows(id: string, pass: number, rows: ContactInput[], now: number): Promise<ImportRowResult[]>;
  recordBadRows(id: string, pass: number, rows: BadRow[]): Promise<void>;
  /** Marks pending contacts with these numbers excluded (do-not-call); returns how many. */
  excludePhones(id: string, phones: string[], note: string, now: number): Promise<number>;
  /**
   * Records a complete pass: bad rows from older passes are dropped, the source key remembered
   * (null: forget it, so the next run reads the file again). Contacts the pass did not see have
   * left the file: pending ones are cancelled (excluded, never dialled), in-flight ones get no
   * retry; returns how many were removed.
   */
  finishImport(id: string, pass: number, key: string | null, rows: number): Promise<{ removed: number }>;
  /** The changes of the latest import that changed anything (removed rows, corrected numbers), up to `limit` listed. */
  importChanges(id: string, limit?: number): Promise<ImportChanges>;

  /** Pending contacts due at `now`, earliest first. */
  due(id: string, now: number, limit: number): Promise<ContactRow[]>;
  /** Moves pending contacts' `next_at` (outside their calling window). */
  park(id: string, parks: { contactId: string; until: number }[], now: number): Promise<void>;
  claim(id: string, options: ClaimOptions): Promise<ClaimResult>;
  /** CreateDispatch succeeded (or the dispatch was found): the attempt is out. */
  markDispatched(id: string, contactId: string, attempt: number, now: number): Promise<boolean>;
  /** `dispatching` rows owned by someone else (the caller decides which are stale). */
  othersDispatching(id: string, owner: string, limit: number): Promise<ContactRow[]>;
  /** Takes a stale `dispatching` row from its old owner; false if someone else moved first. */
  takeOver(id: string, row: Pick<ContactRow, 'contactId' | 'owner' | 'attempts'>, owner: string, leaseUntil: number): Promise<boolean>;
  renewLeases(owner: string, leaseUntil: number): Promise<number>;
  /** Dispatched contacts whose room has a finished call record. */
  finishedAttempts(id: string, limit: number): Promise<FinishedAttempt[]>;
  /** Dispatched contacts without a finished call record since before `dispatchedBefore`. */
  overdue(id: string, dispatchedBefore: number, limit: number): Promise<OverdueAttempt[]>;
  /** Applies an attempt's outcome once (guarded on state and attempt); false if already applied. */
  recordOutcome(id: string, update: OutcomeUpdate): Promise<boolean>;
  /** Counts a redispatch of the same attempt (after a failed or unknown CreateDispatch). */
  noteRedispatch(id: string, contactId: string, attempt: number): Promise<void>;

  /** Cheap (indexed) view for the dispatch loop: contacts in flight, and the earliest pending `next_at`. */
  activity(id: string): Promise<{ inFlight: number; nextAt: number | null }>;
  progress(id: string): Promise<CampaignProgress>;
  stats(id: string): Promise<CampaignStats>;
  badRows(id: string, limit?: number): Promise<BadRow[]>;
  /** Every contact with its final state, in CSV order, streamed. */
  exportRows(id: string): AsyncIterable<ExportRow>;
}
