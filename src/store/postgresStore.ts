/**
 * PostgreSQL backend of the store, for worker fleets: every worker, dispatcher and CLI on every
 * host shares one database. A pooled `pg` client; the schema is migrated on open under an advisory
 * lock (postgresMigrations.ts), so workers starting together migrate once.
 *
 * The contracts are the SQLite backend's (store.ts, campaignStore.ts, outbox.ts); where SQLite
 * relies on its single writer lock, this backend takes row locks: `FOR UPDATE` on the campaign
 * row around a claim, `FOR UPDATE SKIP LOCKED` on the rows being claimed.
 */
import type { MessageStore } from './messageStore.js';
import { PostgresMessageStore, PostgresRetentionStore } from './postgresMessageStore.js';
import type { RetentionStore } from './retentionStore.js';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { CampaignStore } from './campaignStore.js';
import { named, parseStoreLocation, type StoreLocation, type StoreTarget } from './location.js';
import { CALL_ENDED, DELIVERY_BUDGET_MS, type DeliveryFailure, type DeliveryState, type WebhookDelivery, type WebhookOutbox } from './outbox.js';
import { PostgresCampaignStore } from './postgresCampaignStore.js';
import { transaction } from './postgresTx.js';
import { PG_MIGRATIONS } from './postgresMigrations.js';
import { finishParams, newEventId, toAppointment, toCallRecord, toDelivery } from './rows.js';
import { normaliseStart } from './slot.js';
import type { AppointmentStore, CallRecordStore, OpenOptions, SchemaInfo, Store } from './store.js';
import { StoreError, newerSchema, notFinishable } from './store.js';
import type { Appointment, BookResult, CallFinish, CallRecord, CallStart, NewAppointment } from './types.js';

type Row = Record<string, unknown>;
export type Queryable = Pick<pg.PoolClient, 'query'>;

/** BIGINT (epoch ms, counts) as numbers: every value we store fits a double exactly. */
const TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** Any two processes migrating the same database take turns on this lock. */
const MIGRATION_LOCK = 7_429_001;

async function migrate(pool: pg.Pool, where: string): Promise<{ from: number; version: number }> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await client.query(
        'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())',
      );
      const from = (await client.query('SELECT coalesce(max(version), 0) AS v FROM schema_migrations')).rows[0].v as number;
      if (from > PG_MIGRATIONS.length) throw newerSchema(where, from, PG_MIGRATIONS.length);
      for (let v = from; v < PG_MIGRATIONS.length; v++) {
        await client.query('BEGIN');
        try {
          await client.query(PG_MIGRATIONS[v]!);
          await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [v + 1]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw new StoreError(`${where}: migration ${v + 1} failed: ${(err as Error).message}`, { cause: err });
        }
      }
      return { from, version: PG_MIGRATIONS.length };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    }
  } finally {
    client.release();
  }
}

class PgCallRecords implements CallRecordStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly webhookEndpoints: readonly string[],
  ) {}

  async start(call: CallStart): Promise<void> {
    try {
      await this.pool.query(
        `INSERT INTO call_records (id, room, direction, caller_number, campaign_id, contact_id, started_at, owner)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [call.id, call.room, call.direction, call.callerNumber, call.campaignId ?? null, call.contactId ?? null, call.startedAt, call.owner ?? null],
      );
    } catch (err) {
      throw new StoreError(`call record ${call.id} could not be started: ${(err as Error).message}`, { cause: err });
    }
  }

  async finish(id: string, r: CallFinish): Promise<void> {
    const p = finishParams(id, r);
    await transaction(this.pool, async (c) => {
      const res = await c.query(
        `UPDATE call_records SET ended_at=$2, outcome=$3, outcome_kind=$4, agents=$5, tool_calls=$6, userdata=$7,
           transcript=$8, result=$9, recording_path=$10, latency=$11, cost=$12, meta=$13
         WHERE id=$1 AND ended_at IS NULL`,
        [p.id, p.endedAt, p.outcome, p.kind, p.agents, p.toolCalls, p.userdata, p.transcript, p.result, p.recordingPath, p.latency, p.cost, p.meta],
      );
      if (res.rowCount !== 1) {
        throw notFinishable(id, ((await c.query('SELECT 1 FROM call_records WHERE id = $1', [id])).rowCount ?? 0) > 0);
      }
      if (this.webhookEndpoints.length > 0) await insertEvent(c, id, this.webhookEndpoints, Date.now(), null);
    });
  }

  async get(id: string): Promise<CallRecord | undefined> {
    const { rows } = await this.pool.query('SELECT * FROM call_records WHERE id = $1', [id]);
    return rows[0] ? toCallRecord(rows[0] as Row) : undefined;
  }

  async findByRoom(room: string): Promise<CallRecord | undefined> {
    const { rows } = await this.pool.query(
      'SELECT * FROM call_records WHERE room = $1 ORDER BY (ended_at IS NOT NULL) DESC, started_at DESC LIMIT 1',
      [room],
    );
    return rows[0] ? toCallRecord(rows[0] as Row) : undefined;
  }

  async list(options: { limit?: number; campaignId?: string; since?: string } = {}): Promise<CallRecord[]> {
    const { rows } = await this.pool.query(
      'SELECT * FROM call_records WHERE ($1::text IS NULL OR campaign_id = $1) AND ($2::text IS NULL OR started_at >= $2) ORDER BY started_at DESC LIMIT $3',
      [options.campaignId ?? null, options.since ?? null, options.limit ?? 100],
    );
    return (rows as Row[]).map(toCallRecord);
  }

  async openOnHost(host: string): Promise<CallRecord[]> {
    const { rows } = await this.pool.query(
      'SELECT * FROM call_records WHERE ended_at IS NULL AND starts_with(owner, $1) ORDER BY started_at',
      [`${host}:`],
    );
    return (rows as Row[]).map(toCallRecord);
  }
}

const isUniqueViolation = (err: unknown) => (err as { code?: string })?.code === '23505';

class PgAppointments implements AppointmentStore {
  constructor(private readonly pool: pg.Pool) {}

  async activeBetween(fromIso: string, toIso: string): Promise<Appointment[]> {
    const { rows } = await this.pool.query(
      `SELECT * FROM appointments WHERE status <> 'cancelled' AND start_utc >= $1 AND start_utc < $2 ORDER BY start_utc`,
      [fromIso, toIso],
    );
    return (rows as Row[]).map(toAppointment);
  }

  async book(a: NewAppointment): Promise<BookResult> {
    const id = `apt_${randomUUID().slice(0, 8)}`;
    const now = new Date().toISOString();
    try {
      await this.pool.query(
        `INSERT INTO appointments (id, name, phone, start_utc, duration_min, reason, status, call_id, created_at, updated_at, date_of_birth)
         VALUES ($1, $2, $3, $4, $5, $6, 'booked', $7, $8, $8, $9)`,
        [id, a.name, a.phone, normaliseStart(a.start), a.durationMin, a.reason, a.callId, now, a.dateOfBirth ?? null],
      );
    } catch (err) {
      if (isUniqueViolation(err)) return { ok: false, reason: 'slot_taken' };
      throw err;
    }
    return { ok: true, appointment: (await this.get(id))! };
  }

  async get(id: string): Promise<Appointment | undefined> {
    const { rows } = await this.pool.query('SELECT * FROM appointments WHERE id = $1', [id]);
    return rows[0] ? toAppointment(rows[0] as Row) : undefined;
  }

  async findByPhone(phone: string): Promise<Appointment[]> {
    const { rows } = await this.pool.query(
      `SELECT * FROM appointments WHERE phone = $1 AND status <> 'cancelled' ORDER BY start_utc`,
      [phone],
    );
    return (rows as Row[]).map(toAppointment);
  }

  async reschedule(id: string, newStartIso: string): Promise<BookResult> {
    try {
      const res = await this.pool.query(
        `UPDATE appointments SET start_utc = $1, status = 'booked', updated_at = $2 WHERE id = $3 AND status <> 'cancelled'`,
        [normaliseStart(newStartIso), new Date().toISOString(), id],
      );
      if (res.rowCount !== 1) throw new StoreError(`appointment ${id} does not exist or was cancelled`);
    } catch (err) {
      if (isUniqueViolation(err)) return { ok: false, reason: 'slot_taken' };
      throw err;
    }
    return { ok: true, appointment: (await this.get(id))! };
  }

  async setStatus(id: string, status: 'confirmed' | 'cancelled'): Promise<Appointment | undefined> {
    await this.pool.query(`UPDATE appointments SET status = $1, updated_at = $2 WHERE id = $3 AND status <> 'cancelled'`, [
      status,
      new Date().toISOString(),
      id,
    ]);
    return this.get(id);
  }
}

async function insertEvent(c: Queryable, callId: string, endpoints: readonly string[], now: number, replayOf: string | null): Promise<string> {
  const id = newEventId();
  await c.query('INSERT INTO webhook_events (id, call_id, type, replay_of, created_at) VALUES ($1, $2, $3, $4, $5)', [
    id,
    callId,
    CALL_ENDED,
    replayOf,
    now,
  ]);
  await c.query(
    `INSERT INTO webhook_deliveries (event_id, endpoint, state, next_at, give_up_at)
     SELECT $1, e, 'pending', $3, $4 FROM unnest($2::text[]) AS e ON CONFLICT DO NOTHING`,
    [id, [...endpoints], now, now + DELIVERY_BUDGET_MS],
  );
  return id;
}

const DELIVERY_ROW = `SELECT d.*, e.call_id, e.type, e.replay_of, e.created_at FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id`;

class PgOutbox implements WebhookOutbox {
  constructor(private readonly pool: pg.Pool) {}

  async claim(owner: string, now: number, leaseMs: number, limit: number): Promise<WebhookDelivery[]> {
    // SKIP LOCKED: workers claiming at once each get different rows and never wait on each other.
    const { rows } = await this.pool.query(
      `WITH due AS (
         SELECT event_id, endpoint FROM webhook_deliveries
         WHERE (state = 'pending' AND next_at <= $2) OR (state = 'delivering' AND lease_until < $2)
         ORDER BY next_at LIMIT $4 FOR UPDATE SKIP LOCKED)
       UPDATE webhook_deliveries d SET state = 'delivering', owner = $1, lease_until = $3, attempts = d.attempts + 1
       FROM due WHERE d.event_id = due.event_id AND d.endpoint = due.endpoint
       RETURNING d.event_id, d.endpoint`,
      [owner, now, now + leaseMs, limit],
    );
    if (rows.length === 0) return [];
    const got = await this.pool.query(`${DELIVERY_ROW} WHERE d.owner = $1 AND (d.event_id, d.endpoint) IN (SELECT * FROM unnest($2::text[], $3::text[])) ORDER BY d.next_at`, [
      owner,
      rows.map((r) => r.event_id as string),
      rows.map((r) => r.endpoint as string),
    ]);
    return (got.rows as Row[]).map(toDelivery);
  }

  async delivered(d: Pick<WebhookDelivery, 'eventId' | 'endpoint' | 'attempts'>, owner: string, status: number, now: number): Promise<boolean> {
    const res = await this.pool.query(
      `UPDATE webhook_deliveries SET state = 'delivered', delivered_at = $1, last_status = $2, last_error = NULL,
         owner = NULL, lease_until = NULL
       WHERE event_id = $3 AND endpoint = $4 AND owner = $5 AND attempts = $6 AND state = 'delivering'`,
      [now, status, d.eventId, d.endpoint, owner, d.attempts],
    );
    return res.rowCount === 1;
  }

  async failed(d: Pick<WebhookDelivery, 'eventId' | 'endpoint' | 'attempts'>, owner: string, f: DeliveryFailure): Promise<boolean> {
    const res = await this.pool.query(
      `UPDATE webhook_deliveries SET state = $1, next_at = coalesce($2, next_at), last_status = $3, last_error = $4,
         owner = NULL, lease_until = NULL
       WHERE event_id = $5 AND endpoint = $6 AND owner = $7 AND attempts = $8 AND state = 'delivering'`,
      [f.retryAt === null ? 'failed' : 'pending', f.retryAt, f.status, f.error, d.eventId, d.endpoint, owner, d.attempts],
    );
    return res.rowCount === 1;
  }

  async list(o: { callId?: string; state?: DeliveryState; limit?: number } = {}): Promise<WebhookDelivery[]> {
    const { rows } = await this.pool.query(
      `${DELIVERY_ROW} WHERE ($1::text IS NULL OR e.call_id = $1) AND ($2::text IS NULL OR d.state = $2)
       ORDER BY e.created_at DESC, d.event_id, d.endpoint LIMIT $3`,
      [o.callId ?? null, o.state ?? null, o.limit ?? 100],
    );
    return (rows as Row[]).map(toDelivery);
  }

  async retry(o: { callId?: string; now: number }): Promise<number> {
    const res = await this.pool.query(
      `UPDATE webhook_deliveries SET state = 'pending', next_at = $1, give_up_at = $2
       WHERE state = 'failed' AND ($3::text IS NULL OR event_id IN (SELECT id FROM webhook_events WHERE call_id = $3))`,
      [o.now, o.now + DELIVERY_BUDGET_MS, o.callId ?? null],
    );
    return res.rowCount ?? 0;
  }

  async replay(callId: string, endpoints: readonly string[], now: number): Promise<string | null> {
    return transaction(this.pool, async (c) => {
      const rec = await c.query('SELECT ended_at FROM call_records WHERE id = $1', [callId]);
      if (!rec.rows[0]?.ended_at) return null;
      const last = await c.query('SELECT id FROM webhook_events WHERE call_id = $1 ORDER BY created_at LIMIT 1', [callId]);
      return insertEvent(c, callId, endpoints, now, (last.rows[0]?.id as string | undefined) ?? null);
    });
  }

  async nextDue(): Promise<number | null> {
    const { rows } = await this.pool.query(`SELECT min(next_at) AS t FROM webhook_deliveries WHERE state = 'pending'`);
    return (rows[0]?.t as number | null) ?? null;
  }
}

export class PostgresStore implements Store {
  readonly calls: CallRecordStore;
  readonly appointments: AppointmentStore;
  readonly campaigns: CampaignStore;
  readonly webhooks: WebhookOutbox;
  readonly messages: MessageStore;
  readonly retention: RetentionStore;

  private constructor(
    readonly pool: pg.Pool,
    readonly schema: SchemaInfo,
    options: OpenOptions,
  ) {
    this.calls = new PgCallRecords(pool, options.webhookEndpoints ?? []);
    this.appointments = new PgAppointments(pool);
    this.campaigns = new PostgresCampaignStore(pool);
    this.webhooks = new PgOutbox(pool);
    this.messages = new PostgresMessageStore(pool);
    this.retention = new PostgresRetentionStore(pool);
  }

  static async open(target: string | StoreTarget | StoreLocation, options: OpenOptions = {}): Promise<PostgresStore> {
    const loc = parseStoreLocation(target);
    if (loc.backend !== 'postgres') throw new StoreError(`${loc.setting}: not a postgres:// location`, { code: 'bad_location' });
    const where = named(loc);
    const pool = new pg.Pool({ connectionString: loc.url, types: TYPES, max: 10, connectionTimeoutMillis: 10_000 });
    // An idle connection the server dropped must not crash the process; the next query reconnects.
    pool.on('error', () => undefined);
    try {
      const { from, version } = await migrate(pool, where);
      return new PostgresStore(pool, { backend: 'postgres', location: loc.shown, from, version }, options);
    } catch (err) {
      await pool.end().catch(() => undefined);
      if (err instanceof StoreError) throw err;
      throw new StoreError(`cannot open ${where}: ${(err as Error).message}`, { cause: err, code: 'cannot_open' });
    }
  }

  async close(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
  }
}
