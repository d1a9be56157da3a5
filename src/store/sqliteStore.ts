/**
 * SQLite backend of the store (the default). One file, WAL mode so the CLI can read while a worker
 * writes, schema created on open and migrated by `user_version` (sqliteMigrations.ts).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import type { AppointmentStore, CallRecordStore, OpenOptions, SchemaInfo, Store } from './store.js';
import type { CampaignStore } from './campaignStore.js';
import { named, parseStoreLocation, type StoreLocation, type StoreTarget } from './location.js';
import { CALL_ENDED, DELIVERY_BUDGET_MS, type DeliveryFailure, type DeliveryState, type WebhookDelivery, type WebhookOutbox } from './outbox.js';
import { finishParams, newEventId, toAppointment, toCallRecord, toDelivery } from './rows.js';
import { normaliseStart } from './slot.js';
import { SqliteCampaignStore } from './sqliteCampaignStore.js';
import { type MessageStore, SqliteMessageStore } from './messageStore.js';
import { type RetentionStore, SqliteRetentionStore } from './retentionStore.js';
import { MIGRATIONS, migrate } from './sqliteMigrations.js';
import { StoreError, notFinishable } from './store.js';
import type { Appointment, BookResult, CallFinish, CallRecord, CallStart, NewAppointment } from './types.js';

type DB = Database.Database;

/** Opens (creating it if need be) and migrates a SQLite store; every failure names the store. */
export function openDatabase(target: string | StoreTarget | StoreLocation): { db: DB; schema: SchemaInfo } {
  const loc = parseStoreLocation(target);
  if (loc.backend !== 'sqlite') throw new StoreError(`${loc.setting}: not a SQLite location`, { code: 'bad_location' });
  const { path } = loc;
  const where = named(loc);
  let db: DB | undefined;
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    db = new Database(path);
    // The first statement is where SQLite reads the file: "file is not a database" shows up here.
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    // Several processes (workers, a dispatcher, the CLI) share the file; wait rather than fail.
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    const { from, version } = migrate(db, MIGRATIONS, 'user_version', where);
    return { db, schema: { backend: 'sqlite', location: loc.shown, from, version } };
  } catch (err) {
    db?.close();
    if (err instanceof StoreError) throw err;
    throw new StoreError(`cannot open ${where}: ${(err as Error).message}`, { cause: err, code: 'cannot_open' });
  }
}

/**
 * Prepares each SQL text once per connection. A statement prepared per call is freed only by the
 * garbage collector, and a long-running worker grew by tens of MB per 100k calls before this.
 */
function cachedPrepare(db: DB): (sql: string) => Database.Statement {
  const cache = new Map<string, Database.Statement>();
  return (sql) => {
    let stmt = cache.get(sql);
    if (!stmt) cache.set(sql, (stmt = db.prepare(sql)));
    return stmt;
  };
}

class SqliteCallRecords implements CallRecordStore {
  private readonly prepare: (sql: string) => Database.Statement;
  constructor(
    private readonly db: DB,
    private readonly webhookEndpoints: readonly string[],
  ) {
    this.prepare = cachedPrepare(db);
  }

  async start(call: CallStart): Promise<void> {
    try {
      this.prepare(
          `INSERT INTO call_records (id, room, direction, caller_number, campaign_id, contact_id, started_at, owner)
           VALUES (@id, @room, @direction, @callerNumber, @campaignId, @contactId, @startedAt, @owner)`,
        )
        .run({ campaignId: null, contactId: null, owner: null, ...call });
    } catch (err) {
      throw new StoreError(`call record ${call.id} could not be started: ${(err as Error).message}`, { cause: err });
    }
  }

  async finish(id: string, r: CallFinish): Promise<void> {
    this.db
      .transaction(() => {
        const info = this.prepare(
            `UPDATE call_records SET ended_at=@endedAt, outcome=@outcome, outcome_kind=@kind, agents=@agents,
               tool_calls=@toolCalls, userdata=@userdata, transcript=@transcript, result=@result,
               recording_path=@recordingPath, latency=@latency, cost=@cost, meta=@meta
             WHERE id=@id AND ended_at IS NULL`,
          )
          .run(finishParams(id, r));
        if (info.changes !== 1) throw notFinishable(id, this.prepare('SELECT 1 FROM call_records WHERE id = ?').get(id) !== undefined);
        if (this.webhookEndpoints.length > 0) insertEvent(this.prepare, id, this.webhookEndpoints, Date.now(), null);
      })
      .immediate();
  }

  async get(id: string): Promise<CallRecord | undefined> {
    const row = this.prepare('SELECT * FROM call_records WHERE id = ?').get(id);
    return row ? toCallRecord(row as Record<string, unknown>) : undefined;
  }

  async findByRoom(room: string): Promise<CallRecord | undefined> {
    const row = this.prepare('SELECT * FROM call_records WHERE room = ? ORDER BY (ended_at IS NOT NULL) DESC, started_at DESC LIMIT 1')
      .get(room);
    return row ? toCallRecord(row as Record<string, unknown>) : undefined;
  }

  async list(options: { limit?: number; campaignId?: string; since?: string } = {}): Promise<CallRecord[]> {
    const rows = this.prepare(
      'SELECT * FROM call_records WHERE (@campaign IS NULL OR campaign_id = @campaign) AND (@since IS NULL OR started_at >= @since) ORDER BY started_at DESC LIMIT @limit',
    ).all({ campaign: options.campaignId ?? null, since: options.since ?? null, limit: options.limit ?? 100 });
    return (rows as Record<string, unknown>[]).map(toCallRecord);
  }

  async openOnHost(host: string): Promise<CallRecord[]> {
    // substr, not LIKE: a host name may hold LIKE's wildcards.
    const rows = this.prepare('SELECT * FROM call_records WHERE ended_at IS NULL AND substr(owner, 1, ?) = ? ORDER BY started_at')
      .all(host.length + 1, `${host}:`);
    return (rows as Record<string, unknown>[]).map(toCallRecord);
  }
}

class SqliteAppointments implements AppointmentStore {
  private readonly prepare: (sql: string) => Database.Statement;
  constructor(db: DB) {
    this.prepare = cachedPrepare(db);
  }

  async activeBetween(fromIso: string, toIso: string): Promise<Appointment[]> {
    const rows = this.prepare(
        `SELECT * FROM appointments WHERE status != 'cancelled' AND start_utc >= ? AND start_utc < ? ORDER BY start_utc`,
      )
      .all(fromIso, toIso);
    return (rows as Record<string, unknown>[]).map(toAppointment);
  }

  async book(a: NewAppointment): Promise<BookResult> {
    const id = `apt_${randomUUID().slice(0, 8)}`;
    const now = new Date().toISOString();
    try {
      this.prepare(
          `INSERT INTO appointments (id, name, phone, start_utc, duration_min, reason, status, call_id, created_at, updated_at, date_of_birth)
           VALUES (?, ?, ?, ?, ?, ?, 'booked', ?, ?, ?, ?)`,
        )
        .run(id, a.name, a.phone, normaliseStart(a.start), a.durationMin, a.reason, a.callId, now, now, a.dateOfBirth ?? null);
    } catch (err) {
      if (isUniqueViolation(err)) return { ok: false, reason: 'slot_taken' };
      throw err;
    }
    return { ok: true, appointment: (await this.get(id))! };
  }

  async get(id: string): Promise<Appointment | undefined> {
    const row = this.prepare('SELECT * FROM appointments WHERE id = ?').get(id);
    return row ? toAppointment(row as Record<string, unknown>) : undefined;
  }

  async findByPhone(phone: string): Promise<Appointment[]> {
    const rows = this.prepare(`SELECT * FROM appointments WHERE phone = ? AND status != 'cancelled' ORDER BY start_utc`)
      .all(phone);
    return (rows as Record<string, unknown>[]).map(toAppointment);
  }

  async reschedule(id: string, newStartIso: string): Promise<BookResult> {
    try {
      const info = this.prepare(
          `UPDATE appointments SET start_utc = ?, status = 'booked', updated_at = ? WHERE id = ? AND status != 'cancelled'`,
        )
        .run(normaliseStart(newStartIso), new Date().toISOString(), id);
      if (info.changes !== 1) throw new StoreError(`appointment ${id} does not exist or was cancelled`);
    } catch (err) {
      if (isUniqueViolation(err)) return { ok: false, reason: 'slot_taken' };
      throw err;
    }
    return { ok: true, appointment: (await this.get(id))! };
  }

  async setStatus(id: string, status: 'confirmed' | 'cancelled'): Promise<Appointment | undefined> {
    this.prepare(`UPDATE appointments SET status = ?, updated_at = ? WHERE id = ? AND status != 'cancelled'`)
      .run(status, new Date().toISOString(), id);
    return this.get(id);
  }
}

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string })?.code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/** One event and a pending delivery per endpoint, inside the caller's transaction. */
function insertEvent(prepare: (sql: string) => Database.Statement, callId: string, endpoints: readonly string[], now: number, replayOf: string | null): string {
  const id = newEventId();
  prepare('INSERT INTO webhook_events (id, call_id, type, replay_of, created_at) VALUES (?, ?, ?, ?, ?)').run(id, callId, CALL_ENDED, replayOf, now);
  const add = prepare(
    `INSERT INTO webhook_deliveries (event_id, endpoint, state, next_at, give_up_at) VALUES (?, ?, 'pending', ?, ?)
     ON CONFLICT DO NOTHING`,
  );
  for (const e of endpoints) add.run(id, e, now, now + DELIVERY_BUDGET_MS);
  return id;
}

const DELIVERY_ROW = `SELECT d.*, e.call_id, e.type, e.replay_of, e.created_at FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id`;

class SqliteOutbox implements WebhookOutbox {
  private readonly prepare: (sql: string) => Database.Statement;
  constructor(private readonly db: DB) {
    this.prepare = cachedPrepare(db);
  }

  async claim(owner: string, now: number, leaseMs: number, limit: number): Promise<WebhookDelivery[]> {
    // IMMEDIATE: the write lock is held from the read to the update, so two workers never claim one row.
    return this.db
      .transaction(() => {
        const due = this.prepare(
            `SELECT event_id, endpoint FROM webhook_deliveries
             WHERE (state = 'pending' AND next_at <= @now) OR (state = 'delivering' AND lease_until < @now)
             ORDER BY next_at LIMIT @limit`,
          )
          .all({ now, limit }) as { event_id: string; endpoint: string }[];
        const take = this.prepare(
          `UPDATE webhook_deliveries SET state = 'delivering', owner = ?, lease_until = ?, attempts = attempts + 1
           WHERE event_id = ? AND endpoint = ?`,
        );
        for (const d of due) take.run(owner, now + leaseMs, d.event_id, d.endpoint);
        const get = this.prepare(`${DELIVERY_ROW} WHERE d.event_id = ? AND d.endpoint = ?`);
        return due.map((d) => toDelivery(get.get(d.event_id, d.endpoint) as Record<string, unknown>));
      })
      .immediate();
  }

  async delivered(d: Pick<WebhookDelivery, 'eventId' | 'endpoint' | 'attempts'>, owner: string, status: number, now: number): Promise<boolean> {
    return (
      this.prepare(
          `UPDATE webhook_deliveries SET state = 'delivered', delivered_at = ?, last_status = ?, last_error = NULL,
             owner = NULL, lease_until = NULL
           WHERE event_id = ? AND endpoint = ? AND owner = ? AND attempts = ? AND state = 'delivering'`,
        )
        .run(now, status, d.eventId, d.endpoint, owner, d.attempts).changes === 1
    );
  }

  async failed(d: Pick<WebhookDelivery, 'eventId' | 'endpoint' | 'attempts'>, owner: string, f: DeliveryFailure): Promise<boolean> {
    return (
      this.prepare(
          `UPDATE webhook_deliveries SET state = ?, next_at = coalesce(?, next_at), last_status = ?, last_error = ?,
             owner = NULL, lease_until = NULL
           WHERE event_id = ? AND endpoint = ? AND owner = ? AND attempts = ? AND state = 'delivering'`,
        )
        .run(f.retryAt === null ? 'failed' : 'pending', f.retryAt, f.status, f.error, d.eventId, d.endpoint, owner, d.attempts)
        .changes === 1
    );
  }

  async list(o: { callId?: string; state?: DeliveryState; limit?: number } = {}): Promise<WebhookDelivery[]> {
    const rows = this.prepare(
        `${DELIVERY_ROW} WHERE (@callId IS NULL OR e.call_id = @callId) AND (@state IS NULL OR d.state = @state)
         ORDER BY e.created_at DESC, d.event_id, d.endpoint LIMIT @limit`,
      )
      .all({ callId: o.callId ?? null, state: o.state ?? null, limit: o.limit ?? 100 }) as Record<string, unknown>[];
    return rows.map(toDelivery);
  }

  async retry(o: { callId?: string; now: number }): Promise<number> {
    return this.prepare(
        `UPDATE webhook_deliveries SET state = 'pending', next_at = @now, give_up_at = @now + ${DELIVERY_BUDGET_MS}
         WHERE state = 'failed' AND (@callId IS NULL OR event_id IN (SELECT id FROM webhook_events WHERE call_id = @callId))`,
      )
      .run({ now: o.now, callId: o.callId ?? null }).changes;
  }

  async replay(callId: string, endpoints: readonly string[], now: number): Promise<string | null> {
    return this.db
      .transaction(() => {
        const rec = this.prepare('SELECT ended_at FROM call_records WHERE id = ?').get(callId) as { ended_at: string | null } | undefined;
        if (!rec?.ended_at) return null;
        const last = this.prepare('SELECT id FROM webhook_events WHERE call_id = ? ORDER BY created_at LIMIT 1').get(callId) as { id: string } | undefined;
        return insertEvent(this.prepare, callId, endpoints, now, last?.id ?? null);
      })
      .immediate();
  }

  async nextDue(): Promise<number | null> {
    return (this.prepare(`SELECT min(next_at) AS t FROM webhook_deliveries WHERE state = 'pending'`).get() as { t: number | null }).t;
  }
}

export class SqliteStore implements Store {
  readonly calls: CallRecordStore;
  readonly appointments: AppointmentStore;
  readonly campaigns: CampaignStore;
  readonly webhooks: WebhookOutbox;
  readonly messages: MessageStore;
  readonly retention: RetentionStore;

  constructor(
    readonly db: DB,
    readonly schema: SchemaInfo,
    options: OpenOptions = {},
  ) {
    this.calls = new SqliteCallRecords(db, options.webhookEndpoints ?? []);
    this.appointments = new SqliteAppointments(db);
    this.campaigns = new SqliteCampaignStore(db);
    this.webhooks = new SqliteOutbox(db);
    this.messages = new SqliteMessageStore(db);
    this.retention = new SqliteRetentionStore(db);
  }

  static open(target: string | StoreTarget | StoreLocation, options: OpenOptions = {}): SqliteStore {
    const { db, schema } = openDatabase(target);
    return new SqliteStore(db, schema, options);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
