/**
 * The SQLite schema, as numbered migrations tracked in `user_version`. Entry N (0-based) moves a
 * database from version N to N+1; never edit an entry that has shipped, append a new one.
 */
import type Database from 'better-sqlite3';
import { MESSAGE_MIGRATION } from './messageStore.js';
import { RETENTION_MIGRATION } from './retentionStore.js';
import { newerSchema } from './store.js';

type DB = Database.Database;

/** Version 2: outbound campaigns (contacts, attempts, bad rows) and call_records(room). */
const CAMPAIGN_MIGRATION = `
  CREATE TABLE campaigns (
    id TEXT PRIMARY KEY,
    source TEXT,
    imported_key TEXT,
    rows INTEGER NOT NULL DEFAULT 0,
    import_pass INTEGER NOT NULL DEFAULT 0,
    rate_tat_ms REAL NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
  );
  CREATE TABLE campaign_contacts (
    campaign_id TEXT NOT NULL REFERENCES campaigns(id),
    contact_id TEXT NOT NULL,
    line INTEGER NOT NULL,
    seen_pass INTEGER NOT NULL,
    phone TEXT NOT NULL,
    name TEXT NOT NULL,
    appointment_id TEXT,
    zones TEXT NOT NULL,
    zone_source TEXT NOT NULL,
    fields TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending','dispatching','dispatched','done','excluded')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL,
    room TEXT,
    owner TEXT,
    lease_until INTEGER,
    dispatched_at INTEGER,
    last_outcome TEXT,
    outcome TEXT,
    result TEXT,
    note TEXT,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, contact_id)
  );
  CREATE UNIQUE INDEX campaign_contacts_phone ON campaign_contacts(campaign_id, phone);
  CREATE INDEX campaign_contacts_state ON campaign_contacts(campaign_id, state, next_at);
  CREATE INDEX campaign_contacts_line ON campaign_contacts(campaign_id, line);
  CREATE TABLE campaign_attempts (
    campaign_id TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    room TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL,
    claimed_at INTEGER NOT NULL,
    dispatched_at INTEGER,
    redispatches INTEGER NOT NULL DEFAULT 0,
    ended_at INTEGER,
    outcome_kind TEXT,
    outcome TEXT,
    result TEXT,
    call_id TEXT,
    PRIMARY KEY (campaign_id, contact_id, attempt)
  );
  CREATE TABLE campaign_bad_rows (
    campaign_id TEXT NOT NULL,
    line INTEGER NOT NULL,
    reason TEXT NOT NULL,
    seen_pass INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, line)
  );
  CREATE INDEX call_records_room ON call_records(room);
`;

/**
 * Version 8: campaign files that change. `removed_pass` marks a contact whose row left the file
 * (pending ones are cancelled, in-flight ones are not retried); `campaign_changes` keeps what each
 * import of an edited file changed, for `campaign status`.
 */
const CAMPAIGN_CHANGES_MIGRATION = `
  ALTER TABLE campaign_contacts ADD COLUMN removed_pass INTEGER;
  CREATE TABLE campaign_changes (
    campaign_id TEXT NOT NULL,
    pass INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('removed','number_changed','restored')),
    contact_id TEXT NOT NULL,
    line INTEGER NOT NULL,
    old_phone TEXT,
    new_phone TEXT,
    state_before TEXT NOT NULL
  );
  CREATE INDEX campaign_changes_pass ON campaign_changes(campaign_id, pass);
`;

/** call_records(owner): the process running the call; open records are looked up by it. */
export const OPEN_CALL_OWNER_MIGRATION = `ALTER TABLE call_records ADD COLUMN owner TEXT;
   CREATE INDEX call_records_open_by_owner ON call_records(owner) WHERE ended_at IS NULL;`;

/** Each entry moves the schema up one version; never edit an entry that has shipped. */
export const MIGRATIONS: string[] = [
  `CREATE TABLE call_records (
     id TEXT PRIMARY KEY,
     room TEXT NOT NULL,
     direction TEXT NOT NULL,
     caller_number TEXT,
     campaign_id TEXT,
     contact_id TEXT,
     started_at TEXT NOT NULL,
     ended_at TEXT,
     outcome TEXT,
     outcome_kind TEXT,
     agents TEXT,
     tool_calls TEXT,
     userdata TEXT,
     transcript TEXT,
     result TEXT,
     recording_path TEXT,
     latency TEXT,
     cost TEXT
   );
   CREATE INDEX call_records_campaign ON call_records(campaign_id);
   CREATE TABLE appointments (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     phone TEXT,
     start_utc TEXT NOT NULL,
     duration_min INTEGER NOT NULL,
     reason TEXT,
     status TEXT NOT NULL CHECK (status IN ('booked','confirmed','cancelled')),
     call_id TEXT,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL
   );
   -- One active appointment per start time: the database, not the tool, prevents double booking.
   CREATE UNIQUE INDEX appointments_active_slot ON appointments(start_utc) WHERE status != 'cancelled';
   CREATE INDEX appointments_phone ON appointments(phone);`,
  // 2: see CAMPAIGN_MIGRATION above.
  CAMPAIGN_MIGRATION,
  // 3: slots are whole minutes (slot.ts). The old index compared text, so `…:00.001Z` got past it.
  // Existing starts are normalised; of bookings that now share a slot, the earliest keeps it and
  // the others are cancelled with a note saying why (the slot was only ever one person's).
  `DROP INDEX appointments_active_slot;
   UPDATE appointments SET start_utc = strftime('%Y-%m-%dT%H:%M:00Z', start_utc)
     WHERE strftime('%Y-%m-%dT%H:%M:00Z', start_utc) IS NOT NULL;
   UPDATE appointments SET status = 'cancelled', updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
     reason = trim(coalesce(reason, '') || ' [cancelled by store migration 3: double-booked slot]')
     WHERE status != 'cancelled' AND EXISTS (
       SELECT 1 FROM appointments k WHERE k.start_utc = appointments.start_utc AND k.status != 'cancelled'
         AND (k.created_at < appointments.created_at OR (k.created_at = appointments.created_at AND k.id < appointments.id)));
   CREATE UNIQUE INDEX appointments_active_slot ON appointments(strftime('%Y-%m-%dT%H:%M', start_utc))
     WHERE status != 'cancelled';`,
  // 4: the end-of-call webhook outbox (outbox.ts).
  `CREATE TABLE webhook_events (
     id TEXT PRIMARY KEY,
     call_id TEXT NOT NULL,
     type TEXT NOT NULL,
     replay_of TEXT,
     created_at INTEGER NOT NULL
   );
   CREATE INDEX webhook_events_call ON webhook_events(call_id);
   CREATE TABLE webhook_deliveries (
     event_id TEXT NOT NULL REFERENCES webhook_events(id),
     endpoint TEXT NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('pending','delivering','delivered','failed')),
     attempts INTEGER NOT NULL DEFAULT 0,
     next_at INTEGER NOT NULL,
     give_up_at INTEGER NOT NULL,
     owner TEXT,
     lease_until INTEGER,
     last_status INTEGER,
     last_error TEXT,
     delivered_at INTEGER,
     PRIMARY KEY (event_id, endpoint)
   );
   CREATE INDEX webhook_deliveries_due ON webhook_deliveries(state, next_at);`,
  // 5: call metadata (model, prompt and build versions, providers that answered, turn latency percentiles).
  `ALTER TABLE call_records ADD COLUMN meta TEXT;`,
  // 6: messages and callback requests (messageStore.ts).
  MESSAGE_MIGRATION,
  // 7: call_records(purged_at), for RETENTION_DAYS (retentionStore.ts).
  RETENTION_MIGRATION,
  // 8: see CAMPAIGN_CHANGES_MIGRATION above.
  CAMPAIGN_CHANGES_MIGRATION,
  // 9: who runs a call (store/owner.ts), so a restarted worker finds the calls its last run left open.
  OPEN_CALL_OWNER_MIGRATION,
  // 10: appointments(date_of_birth), the second factor of IDENTITY_CHECK=dob.
  `ALTER TABLE appointments ADD COLUMN date_of_birth TEXT;`,
];

/**
 * Applies the migrations a database has not seen yet, each in its own transaction. A database
 * from a newer build is refused, before anything is written to it: this code does not know its
 * tables. `where` names the store in that error.
 */
export function migrate(db: DB, migrations: readonly string[], versionPragma = 'user_version', where = 'the store'): { from: number; version: number } {
  const current = db.pragma(versionPragma, { simple: true }) as number;
  if (current > migrations.length) throw newerSchema(where, current, migrations.length);
  for (let v = current; v < migrations.length; v++) {
    db.transaction(() => {
      db.exec(migrations[v]!);
      db.pragma(`${versionPragma} = ${v + 1}`);
    }).immediate();
  }
  return { from: current, version: migrations.length };
}
