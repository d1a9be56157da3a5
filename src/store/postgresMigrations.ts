/**
 * The PostgreSQL schema, as numbered migrations tracked in `schema_migrations`. Entry N (0-based)
 * is version N+1 and matches entry N of sqliteMigrations.ts (same tables, same columns, same
 * meaning), so a version number says the same thing on both backends. Append, never edit.
 *
 * Times the campaign and outbox code compares are epoch ms (BIGINT, read back as numbers); the
 * call record's times are ISO text, JSON is text, exactly as in SQLite, so rows map the same way.
 */
export const PG_MIGRATIONS: string[] = [
  // 1: call records and appointments.
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
   CREATE UNIQUE INDEX appointments_active_slot ON appointments(start_utc) WHERE status <> 'cancelled';
   CREATE INDEX appointments_phone ON appointments(phone);`,
  // 2: outbound campaigns.
  `CREATE TABLE campaigns (
     id TEXT PRIMARY KEY,
     source TEXT,
     imported_key TEXT,
     rows INTEGER NOT NULL DEFAULT 0,
     import_pass INTEGER NOT NULL DEFAULT 0,
     rate_tat_ms DOUBLE PRECISION NOT NULL DEFAULT 0,
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
     next_at BIGINT NOT NULL,
     room TEXT,
     owner TEXT,
     lease_until BIGINT,
     dispatched_at BIGINT,
     last_outcome TEXT,
     outcome TEXT,
     result TEXT,
     note TEXT,
     updated_at BIGINT NOT NULL,
     PRIMARY KEY (campaign_id, contact_id)
   );
   CREATE UNIQUE INDEX campaign_contacts_phone ON campaign_contacts(campaign_id, phone);
   CREATE INDEX campaign_contacts_state ON campaign_contacts(campaign_id, state, next_at);
   CREATE INDEX campaign_contacts_line ON campaign_contacts(campaign_id, line);
   CREATE INDEX campaign_contacts_owner ON campaign_contacts(owner) WHERE state = 'dispatching';
   CREATE TABLE campaign_attempts (
     campaign_id TEXT NOT NULL,
     contact_id TEXT NOT NULL,
     attempt INTEGER NOT NULL,
     room TEXT NOT NULL UNIQUE,
     owner TEXT NOT NULL,
     claimed_at BIGINT NOT NULL,
     dispatched_at BIGINT,
     redispatches INTEGER NOT NULL DEFAULT 0,
     ended_at BIGINT,
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
   CREATE INDEX call_records_room ON call_records(room);`,
  // 3: slots are whole minutes (slot.ts); the database refuses any other form, so the unique
  // index on the text is a unique index on the normalised slot. Same clash rule as SQLite's 3.
  `DROP INDEX appointments_active_slot;
   UPDATE appointments SET start_utc = to_char(date_trunc('minute', start_utc::timestamptz AT TIME ZONE 'UTC'), 'YYYY-MM-DD"T"HH24:MI:"00Z"');
   UPDATE appointments a SET status = 'cancelled', updated_at = to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
     reason = trim(coalesce(a.reason, '') || ' [cancelled by store migration 3: double-booked slot]')
     WHERE a.status <> 'cancelled' AND EXISTS (
       SELECT 1 FROM appointments k WHERE k.start_utc = a.start_utc AND k.status <> 'cancelled'
         AND (k.created_at < a.created_at OR (k.created_at = a.created_at AND k.id < a.id)));
   ALTER TABLE appointments ADD CONSTRAINT appointments_start_whole_minute
     CHECK (start_utc ~ '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:00Z$');
   CREATE UNIQUE INDEX appointments_active_slot ON appointments(start_utc) WHERE status <> 'cancelled';`,
  // 4: the end-of-call webhook outbox (outbox.ts).
  `CREATE TABLE webhook_events (
     id TEXT PRIMARY KEY,
     call_id TEXT NOT NULL,
     type TEXT NOT NULL,
     replay_of TEXT,
     created_at BIGINT NOT NULL
   );
   CREATE INDEX webhook_events_call ON webhook_events(call_id);
   CREATE TABLE webhook_deliveries (
     event_id TEXT NOT NULL REFERENCES webhook_events(id),
     endpoint TEXT NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('pending','delivering','delivered','failed')),
     attempts INTEGER NOT NULL DEFAULT 0,
     next_at BIGINT NOT NULL,
     give_up_at BIGINT NOT NULL,
     owner TEXT,
     lease_until BIGINT,
     last_status INTEGER,
     last_error TEXT,
     delivered_at BIGINT,
     PRIMARY KEY (event_id, endpoint)
   );
   CREATE INDEX webhook_deliveries_due ON webhook_deliveries(state, next_at);`,
  // 5: call metadata (model, prompt and build versions, providers that answered, turn latency percentiles).
  `ALTER TABLE call_records ADD COLUMN meta TEXT;`,
  // 6: messages and callback requests (messageStore.ts).
  `CREATE TABLE messages (
     id TEXT PRIMARY KEY,
     call_id TEXT NOT NULL,
     caller_name TEXT,
     callback_number TEXT,
     text TEXT NOT NULL,
     reason TEXT,
     callback TEXT NOT NULL CHECK (callback IN ('none','pending','done')),
     created_at TEXT NOT NULL
   );
   CREATE INDEX messages_call ON messages(call_id);
   CREATE INDEX messages_pending ON messages(created_at) WHERE callback = 'pending';`,
  // 7: call_records(purged_at), for RETENTION_DAYS (retentionStore.ts).
  `ALTER TABLE call_records ADD COLUMN purged_at TEXT;`,
  // 8: campaign files that change (SQLite's CAMPAIGN_CHANGES_MIGRATION). `seq` stands in for
  // SQLite's rowid: `importChanges` lists a pass's changes in the order they were made.
  `ALTER TABLE campaign_contacts ADD COLUMN removed_pass INTEGER;
   CREATE TABLE campaign_changes (
     seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     campaign_id TEXT NOT NULL,
     pass INTEGER NOT NULL,
     kind TEXT NOT NULL CHECK (kind IN ('removed','number_changed','restored')),
     contact_id TEXT NOT NULL,
     line INTEGER NOT NULL,
     old_phone TEXT,
     new_phone TEXT,
     state_before TEXT NOT NULL
   );
   CREATE INDEX campaign_changes_pass ON campaign_changes(campaign_id, pass);`,
  // 9: who runs a call (store/owner.ts), so a restarted worker finds the calls its last run left open.
  `ALTER TABLE call_records ADD COLUMN owner TEXT;
   CREATE INDEX call_records_open_by_owner ON call_records(owner) WHERE ended_at IS NULL;`,
  // 10: appointments(date_of_birth), the second factor of IDENTITY_CHECK=dob.
  `ALTER TABLE appointments ADD COLUMN date_of_birth TEXT;`,
];
