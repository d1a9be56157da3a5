/**
 * SQLite backend of the store (the default). One file, WAL mode so the CLI can read while a worker
 * writes, schema created on open and migrated by `user_version`.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import type { AppointmentStore, CallRecordStore, Store } from './store.js';
import { CAMPAIGN_MIGRATION, type CampaignStore, SqliteCampaignStore } from './campaignStore.js';
import { MESSAGE_MIGRATION, type MessageStore, SqliteMessageStore } from './messageStore.js';
import { RETENTION_MIGRATION, type RetentionStore, SqliteRetentionStore } from './retentionStore.js';
import { StoreError } from './store.js';
import type {
  Appointment,
  AppointmentStatus,
  BookResult,
  CallFinish,
  CallRecord,
  CallStart,
  NewAppointment,
} from './types.js';

type DB = Database.Database;

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
  // 2: outbound campaigns (contacts, attempts, bad rows) and call_records(room); see campaignStore.ts.
  CAMPAIGN_MIGRATION,
  // 3: messages and callback requests (messageStore.ts).
  MESSAGE_MIGRATION,
  // 4: call_records(purged_at), for RETENTION_DAYS (retentionStore.ts).
  RETENTION_MIGRATION,
];

export function openDatabase(path: string): DB {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  let db: DB;
  try {
    db = new Database(path);
  } catch (err) {
    throw new StoreError(`cannot open the store at ${path} (STORE_PATH): ${(err as Error).message}`, { cause: err });
  }
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  // Several processes (workers, a dispatcher, the CLI) share the file; wait rather than fail.
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  migrate(db, MIGRATIONS);
  return db;
}

/** Applies the migrations a database has not seen yet, each in its own transaction. */
export function migrate(db: DB, migrations: readonly string[], versionPragma = 'user_version'): void {
  const current = db.pragma(versionPragma, { simple: true }) as number;
  for (let v = current; v < migrations.length; v++) {
    db.transaction(() => {
      db.exec(migrations[v]!);
      db.pragma(`${versionPragma} = ${v + 1}`);
    }).immediate();
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

const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));
const parse = <T>(s: unknown): T | undefined => (typeof s === 'string' ? (JSON.parse(s) as T) : undefined);

class SqliteCallRecords implements CallRecordStore {
  private readonly prepare: (sql: string) => Database.Statement;
  constructor(db: DB) {
    this.prepare = cachedPrepare(db);
  }

  async start(call: CallStart): Promise<void> {
    try {
      this.prepare(
          `INSERT INTO call_records (id, room, direction, caller_number, campaign_id, contact_id, started_at)
           VALUES (@id, @room, @direction, @callerNumber, @campaignId, @contactId, @startedAt)`,
        )
        .run({ campaignId: null, contactId: null, ...call });
    } catch (err) {
      throw new StoreError(`call record ${call.id} could not be started: ${(err as Error).message}`, { cause: err });
    }
  }

  async finish(id: string, r: CallFinish): Promise<void> {
    const info = this.prepare(
        `UPDATE call_records SET ended_at=@endedAt, outcome=@outcome, outcome_kind=@kind, agents=@agents,
           tool_calls=@toolCalls, userdata=@userdata, transcript=@transcript, result=@result,
           recording_path=@recordingPath, latency=@latency, cost=@cost
         WHERE id=@id AND ended_at IS NULL`,
      )
      .run({
        id,
        endedAt: r.endedAt,
        outcome: json(r.outcome),
        kind: r.outcome.kind,
        agents: json(r.agents),
        toolCalls: json(r.toolCalls),
        userdata: json(r.userdata),
        transcript: json(r.transcript),
        result: json(r.result ?? null),
        recordingPath: r.recordingPath ?? null,
        latency: json(r.latency ?? null),
        cost: json(r.cost ?? null),
      });
    if (info.changes !== 1) {
      throw new StoreError(`call record ${id} is missing or already finished; the outcome was not overwritten`);
    }
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

  async list(options: { limit?: number; campaignId?: string } = {}): Promise<CallRecord[]> {
    const limit = options.limit ?? 100;
    const rows = options.campaignId
      ? this.prepare('SELECT * FROM call_records WHERE campaign_id = ? ORDER BY started_at DESC LIMIT ?')
          .all(options.campaignId, limit)
      : this.prepare('SELECT * FROM call_records ORDER BY started_at DESC LIMIT ?').all(limit);
    return (rows as Record<string, unknown>[]).map(toCallRecord);
  }
}

function toCallRecord(r: Record<string, unknown>): CallRecord {
  return {
    id: r.id as string,
    room: r.room as string,
    direction: r.direction as CallRecord['direction'],
    callerNumber: (r.caller_number as string | null) ?? null,
    campaignId: (r.campaign_id as string | null) ?? null,
    contactId: (r.contact_id as string | null) ?? null,
    startedAt: r.started_at as string,
    finished: r.ended_at !== null,
    endedAt: (r.ended_at as string | null) ?? undefined,
    outcome: parse(r.outcome),
    agents: parse(r.agents),
    toolCalls: parse(r.tool_calls),
    userdata: parse(r.userdata),
    transcript: parse(r.transcript),
    result: parse(r.result) ?? null,
    recordingPath: (r.recording_path as string | null) ?? null,
    latency: parse(r.latency),
    cost: parse(r.cost),
  };
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
          `INSERT INTO appointments (id, name, phone, start_utc, duration_min, reason, status, call_id, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, 'booked', ?, ?, ?)`,
        )
        .run(id, a.name, a.phone, a.start, a.durationMin, a.reason, a.callId, now, now);
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
        .run(newStartIso, new Date().toISOString(), id);
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

function toAppointment(r: Record<string, unknown>): Appointment {
  return {
    id: r.id as string,
    name: r.name as string,
    phone: (r.phone as string | null) ?? null,
    start: r.start_utc as string,
    durationMin: r.duration_min as number,
    reason: (r.reason as string | null) ?? null,
    status: r.status as AppointmentStatus,
    callId: (r.call_id as string | null) ?? null,
  };
}

export class SqliteStore implements Store {
  readonly calls: CallRecordStore;
  readonly appointments: AppointmentStore;
  readonly campaigns: CampaignStore;
  readonly messages: MessageStore;
  readonly retention: RetentionStore;

  constructor(readonly db: DB) {
    this.calls = new SqliteCallRecords(db);
    this.appointments = new SqliteAppointments(db);
    this.campaigns = new SqliteCampaignStore(db);
    this.messages = new SqliteMessageStore(db);
    this.retention = new SqliteRetentionStore(db);
  }

  static open(path: string): SqliteStore {
    return new SqliteStore(openDatabase(path));
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
