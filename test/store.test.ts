import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { openStore } from '../src/store/index.js';
import type { Store } from '../src/store/index.js';
import { PostgresStore } from '../src/store/postgresStore.js';
import { SqliteStore } from '../src/store/sqliteStore.js';
import { MIGRATIONS } from '../src/store/sqliteMigrations.js';
import { PG_MIGRATIONS } from '../src/store/postgresMigrations.js';
import { BACKENDS, rows } from './helpers/backends.js';

const tmpDb = () => join(mkdtempSync(join(tmpdir(), 'sb-store-')), 'nested', 'calls.db');
const finish = {
  endedAt: 't1',
  outcome: { kind: 'completed', summary: 'booked' } as const,
  agents: ['intro', 'desk'],
  toolCalls: [{ name: 'book_appointment', args: { start: 'x' }, output: 'ok', isError: false, at: 't' }],
  userdata: { callerName: 'Ana' },
  transcript: [{ role: 'caller' as const, text: 'hi', at: 't' }],
};
const base = { name: 'Ana', phone: '+15550001111', durationMin: 30, reason: null, callId: 'c1' };

describe('store migrations', () => {
  it('SQLite and PostgreSQL have one migration per schema version each', () => {
    assert.equal(PG_MIGRATIONS.length, MIGRATIONS.length);
  });
});

describe('SQLite store files', () => {
  it('creates its schema on open, in WAL mode, and keeps data across reopen', async () => {
    const path = tmpDb();
    const a = (await openStore(path)) as SqliteStore;
    assert.equal(a.db.pragma('journal_mode', { simple: true }), 'wal');
    assert.deepEqual(a.schema, { backend: 'sqlite', location: path, from: 0, version: MIGRATIONS.length });
    await a.calls.start({ id: 'c1', room: 'r1', direction: 'inbound', callerNumber: '+15550001111', startedAt: '2026-11-21T10:00:00.000Z' });
    await a.close();
    const b = await openStore(`sqlite:${path}`);
    assert.equal(b.schema.from, MIGRATIONS.length, 'nothing left to migrate');
    const rec = await b.calls.get('c1');
    assert.equal(rec?.callerNumber, '+15550001111');
    assert.equal(rec?.finished, false);
    await b.close();
  });

  it('names the store and its setting when the path cannot be opened', async () => {
    // A directory where the database file should be.
    const dir = mkdtempSync(join(tmpdir(), 'sb-store-'));
    await assert.rejects(openStore({ url: `sqlite:${dir}`, setting: 'STORE_URL' }), /cannot open the store at .* \(STORE_URL\)/);
    await assert.rejects(openStore({ url: dir, setting: 'STORE_PATH' }), /cannot open the store at .* \(STORE_PATH\)/);
  });

  it('names the store when the file is not a database', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'sb-store-')), 'notes.db');
    writeFileSync(path, 'these are my notes, not a database\n'.repeat(100));
    await assert.rejects(openStore({ url: `sqlite:${path}`, setting: 'STORE_URL' }), (err: Error) => {
      assert.match(err.message, new RegExp(`cannot open the store at ${path} \\(STORE_URL\\): file is not a database`));
      return true;
    });
  });

  it('refuses a store whose schema is newer than this build, naming it, and leaves it untouched', async () => {
    const path = tmpDb();
    await (await openStore(path)).close();
    const db = new Database(path);
    db.pragma(`user_version = ${MIGRATIONS.length + 3}`);
    db.close();
    await assert.rejects(openStore({ url: `sqlite:${path}`, setting: 'STORE_URL' }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'newer_schema');
      assert.match(err.message, new RegExp(`the store at ${path} \\(STORE_URL\\) has schema version ${MIGRATIONS.length + 3}, newer than this build`));
      return true;
    });
    assert.equal(new Database(path).pragma('user_version', { simple: true }), MIGRATIONS.length + 3);
  });

  it('migration 3 moves existing starts to whole minutes; of a slot booked twice through milliseconds, the first booking keeps it', async () => {
    const path = tmpDb();
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(path, '..'), { recursive: true });
    const db = new Database(path);
    db.exec(MIGRATIONS[0]!);
    db.exec(MIGRATIONS[1]!);
    db.pragma('user_version = 2');
    const add = db.prepare(
      `INSERT INTO appointments (id, name, phone, start_utc, duration_min, reason, status, call_id, created_at, updated_at)
       VALUES (?, ?, NULL, ?, 30, ?, 'booked', NULL, ?, ?)`,
    );
    add.run('a1', 'First', '2026-11-24T14:30:00Z', null, '2026-11-01T00:00:00.000Z', '2026-11-01T00:00:00.000Z');
    add.run('a2', 'Second', '2026-11-24T14:30:00.001Z', 'checkup', '2026-11-02T00:00:00.000Z', '2026-11-02T00:00:00.000Z');
    add.run('a3', 'Other', '2026-11-24T15:00:00.000Z', null, '2026-11-03T00:00:00.000Z', '2026-11-03T00:00:00.000Z');
    db.close();
    const s = await openStore(path);
    assert.deepEqual(
      [await s.appointments.get('a1'), await s.appointments.get('a2'), await s.appointments.get('a3')].map((a) => [a?.start, a?.status, a?.reason]),
      [
        ['2026-11-24T14:30:00Z', 'booked', null],
        ['2026-11-24T14:30:00Z', 'cancelled', 'checkup [cancelled by store migration 3: double-booked slot]'],
        ['2026-11-24T15:00:00Z', 'booked', null],
      ],
    );
    await s.close();
  });
});

for (const backend of BACKENDS) {
  describe(`store contract (${backend.name})`, () => {
    const open = () => backend.open();

    it('finishes a call record once and refuses to overwrite the outcome', async () => {
      const s = await open();
      await s.calls.start({ id: 'c1', room: 'r1', direction: 'inbound', callerNumber: null, startedAt: 't0' });
      await s.calls.finish('c1', finish);
      await assert.rejects(s.calls.finish('c1', { ...finish, outcome: { kind: 'hung_up' } }), (e: Error & { code?: string }) =>
        /already finished/.test(e.message) && e.code === 'already_finished',
      );
      await assert.rejects(s.calls.finish('nope', finish), (e: Error & { code?: string }) => e.code === 'not_found');
      const rec = await s.calls.get('c1');
      assert.deepEqual(rec?.outcome, { kind: 'completed', summary: 'booked' });
      assert.deepEqual(rec?.agents, ['intro', 'desk']);
      assert.deepEqual(rec?.toolCalls, finish.toolCalls);
      assert.equal(rec?.finished, true);
      assert.equal((await s.calls.findByRoom('r1'))?.id, 'c1');
      await s.calls.start({ id: 'c2', room: 'r2', direction: 'outbound', callerNumber: '+1', startedAt: 't2', campaignId: 'k' });
      assert.deepEqual((await s.calls.list()).map((r) => r.id), ['c2', 'c1']);
      assert.deepEqual((await s.calls.list({ campaignId: 'k' })).map((r) => r.id), ['c2']);
      await s.close();
    });

    it('lists calls since a time in the query itself, so the limit counts only those', async () => {
      const s = await open();
      const at = (d: string) => `2026-12-0${d}T10:00:00.000Z`;
      for (const [id, d, campaignId] of [['old', '1', 'k'], ['mid', '2', null], ['new', '3', 'k'], ['newest', '4', null]] as const) {
        await s.calls.start({ id, room: `room-${id}`, direction: 'inbound', callerNumber: null, startedAt: at(d), campaignId });
      }
      assert.deepEqual((await s.calls.list({ since: at('2') })).map((r) => r.id), ['newest', 'new', 'mid']);
      assert.deepEqual((await s.calls.list({ since: at('2'), campaignId: 'k' })).map((r) => r.id), ['new']);
      // With the filter after the limit, limit 2 would have left 'mid' out and kept nothing older.
      assert.deepEqual((await s.calls.list({ since: '2026-12-01T12:00:00.000Z', limit: 2 })).map((r) => r.id), ['newest', 'new']);
      assert.deepEqual((await s.calls.list({ since: at('5') })).map((r) => r.id), []);
      await s.close();
    });

    it('books a slot once: the second booking of the same start is slot_taken', async () => {
      const s = await open();
      const first = await s.appointments.book({ ...base, start: '2026-11-24T15:00:00Z' });
      const second = await s.appointments.book({ ...base, name: 'Bo', start: '2026-11-24T15:00:00Z' });
      assert.equal(first.ok, true);
      assert.deepEqual(second, { ok: false, reason: 'slot_taken' });
      // A cancelled slot is free again.
      if (!first.ok) throw new Error('unreachable');
      await s.appointments.setStatus(first.appointment.id, 'cancelled');
      assert.equal((await s.appointments.book({ ...base, name: 'Bo', start: '2026-11-24T15:00:00Z' })).ok, true);
      assert.equal((await s.appointments.findByPhone('+15550001111')).length, 1);
      await s.close();
    });

    it("keeps a booking's date of birth until the appointment is past the retention, then clears only that", async () => {
      const s = await open();
      const past = await s.appointments.book({ ...base, start: '2026-10-01T15:00:00Z', dateOfBirth: '1980-03-04' });
      const soon = await s.appointments.book({ ...base, start: '2026-12-20T15:00:00Z', dateOfBirth: '1980-03-04' });
      const none = await s.appointments.book({ ...base, start: '2026-12-21T15:00:00Z' });
      if (!past.ok || !soon.ok || !none.ok) throw new Error('booking failed');
      assert.equal(past.appointment.dateOfBirth, '1980-03-04');
      assert.equal(none.appointment.dateOfBirth, null);
      const cutoff = '2026-11-01T00:00:00.000Z';
      assert.equal((await s.retention.purge(cutoff, { dryRun: true })).datesOfBirth, 1);
      assert.equal((await s.appointments.get(past.appointment.id))?.dateOfBirth, '1980-03-04', 'a dry run clears nothing');
      assert.equal((await s.retention.purge(cutoff)).datesOfBirth, 1);
      const after = await s.appointments.get(past.appointment.id);
      assert.deepEqual([after?.dateOfBirth, after?.name, after?.status], [null, 'Ana', 'booked'], 'the booking itself stays');
      assert.equal((await s.appointments.get(soon.appointment.id))?.dateOfBirth, '1980-03-04');
      assert.equal((await s.retention.purge(cutoff)).datesOfBirth, 0);
      await s.close();
    });

    it('two purges at once: each expired message is counted once, by the purge that deleted it', async () => {
      const s = await open();
      const message = (callId: string, at: string) => ({ callId, callerName: null, callbackNumber: null, text: 'call me', reason: null, callback: false, at });
      for (const id of ['m1', 'm2', 'm3']) await s.messages.take(message(id, '2026-10-01T10:00:00.000Z'));
      await s.messages.take(message('kept', '2026-11-20T10:00:00.000Z'));
      const cutoff = '2026-11-01T00:00:00.000Z';
      assert.equal((await s.retention.purge(cutoff, { dryRun: true })).messages, 3, 'a dry run counts what a purge would delete');
      // On PostgreSQL, another transaction holds the messages until both purges wait to delete
      // them: both have counted them by then, and one of them finds them gone.
      const holder = s instanceof PostgresStore ? await s.pool.connect() : undefined;
      try {
        await holder?.query('BEGIN');
        await holder?.query('SELECT id FROM messages FOR UPDATE');
        const purges = Promise.all([s.retention.purge(cutoff), s.retention.purge(cutoff)]);
        if (holder) {
          // Asked outside the holder's transaction, which sees one snapshot of the activity.
          const waiting = async () =>
            Number((await rows(s, `SELECT COUNT(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'DELETE FROM messages%'`))[0]!.n);
          for (let i = 0; (await waiting()) < 2; i++) {
            assert.ok(i < 500, 'the purges never waited for the messages');
            await new Promise((r) => setTimeout(r, 10));
          }
          await holder.query('COMMIT');
        }
        const [a, b] = await purges;
        assert.equal(a.messages + b.messages, 3, `reported ${a.messages} + ${b.messages} messages deleted`);
      } finally {
        // Lets the purges go if the test failed while the messages were still held.
        await holder?.query('ROLLBACK');
        holder?.release();
      }
      assert.deepEqual((await s.messages.list()).map((m) => m.callId), ['kept']);
      await s.close();
    });

    it('milliseconds, seconds or an offset do not make a taken slot a different one', async () => {
      const s = await open();
      const first = await s.appointments.book({ ...base, start: '2026-11-24T14:30:00Z' });
      assert.equal(first.ok && first.appointment.start, '2026-11-24T14:30:00Z');
      for (const start of ['2026-11-24T14:30:00.001Z', '2026-11-24T14:30:59.999Z', '2026-11-24T09:30:00-05:00', '2026-11-24T14:30:00.000Z']) {
        assert.deepEqual(await s.appointments.book({ ...base, name: 'Eve', start }), { ok: false, reason: 'slot_taken' }, start);
      }
      const other = await s.appointments.book({ ...base, start: '2026-11-24T15:00:00.500Z' });
      assert.equal(other.ok && other.appointment.start, '2026-11-24T15:00:00Z', 'stored as the whole minute');
      if (!other.ok) throw new Error('unreachable');
      assert.deepEqual(await s.appointments.reschedule(other.appointment.id, '2026-11-24T14:30:00.250Z'), { ok: false, reason: 'slot_taken' });
      assert.equal((await s.appointments.get(other.appointment.id))?.start, '2026-11-24T15:00:00Z');
      await assert.rejects(s.appointments.book({ ...base, start: 'tomorrow at 3' }), /appointment start "tomorrow at 3" is not an ISO date-time/);
      await s.close();
    });

    it('the database itself refuses a second active booking of a minute, whatever text it is written as', async () => {
      const s = await open();
      await s.appointments.book({ ...base, start: '2026-11-24T14:30:00Z' });
      const insert = `INSERT INTO appointments (id, name, phone, start_utc, duration_min, reason, status, call_id, created_at, updated_at)
        VALUES ($1, 'Raw', NULL, $2, 30, NULL, 'booked', NULL, 'x', 'x')`;
      await assert.rejects(rows(s, insert, ['raw1', '2026-11-24T14:30:00.001Z']), /UNIQUE|unique|check constraint/);
      await s.close();
    });

    it('concurrent bookings of one slot: exactly one wins', async () => {
      const s = await open();
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) => s.appointments.book({ ...base, name: `P${i}`, start: `2026-11-24T16:00:0${i % 10}.${i}Z` })),
      );
      assert.equal(results.filter((r) => r.ok).length, 1);
      assert.equal(results.filter((r) => !r.ok).length, 11);
      await s.close();
    });

    it('reschedule into a taken slot is refused and leaves the appointment where it was', async () => {
      const s = await open();
      const b = { ...base, phone: '+1555', callId: null };
      const a = await s.appointments.book({ ...b, start: '2026-11-24T15:00:00Z' });
      await s.appointments.book({ ...b, start: '2026-11-24T16:00:00Z' });
      if (!a.ok) throw new Error('unreachable');
      assert.deepEqual(await s.appointments.reschedule(a.appointment.id, '2026-11-24T16:00:00Z'), { ok: false, reason: 'slot_taken' });
      assert.equal((await s.appointments.get(a.appointment.id))?.start, '2026-11-24T15:00:00Z');
      const moved = await s.appointments.reschedule(a.appointment.id, '2026-11-24T17:00:00Z');
      assert.equal(moved.ok && moved.appointment.start, '2026-11-24T17:00:00Z');
      assert.deepEqual((await s.appointments.activeBetween('2026-11-24T00:00:00Z', '2026-11-25T00:00:00Z')).map((x) => x.start), [
        '2026-11-24T16:00:00Z',
        '2026-11-24T17:00:00Z',
      ]);
      await s.close();
    });

    it('a finish writes one outbox delivery per endpoint in the same transaction; a refused finish writes none', async () => {
      const s = await backend.open({ webhookEndpoints: ['http://a.example/hook', 'http://b.example/hook'] });
      await s.calls.start({ id: 'c1', room: 'r1', direction: 'inbound', callerNumber: null, startedAt: 't0' });
      await s.calls.finish('c1', finish);
      await assert.rejects(s.calls.finish('c1', finish));
      const ds = await s.webhooks.list();
      assert.deepEqual(ds.map((d) => [d.callId, d.endpoint, d.state, d.attempts]).sort(), [
        ['c1', 'http://a.example/hook', 'pending', 0],
        ['c1', 'http://b.example/hook', 'pending', 0],
      ]);
      assert.equal(ds[0]!.eventId, ds[1]!.eventId, 'one event id for every endpoint');
      assert.match(ds[0]!.eventId, /^msg_[0-9a-f]{32}$/);
      await s.close();
    });

    it('outbox: a claimed row is leased to one owner; delivered, failed, retried and replayed as the protocol says', async () => {
      const s = await backend.open({ webhookEndpoints: ['http://a.example/hook'] });
      await s.calls.start({ id: 'c1', room: 'r1', direction: 'inbound', callerNumber: null, startedAt: 't0' });
      await s.calls.finish('c1', finish);
      const now = Date.now() + 1000;
      const [a, b] = await Promise.all([s.webhooks.claim('w1', now, 5000, 10), s.webhooks.claim('w2', now, 5000, 10)]);
      assert.equal(a.length + b.length, 1, 'two workers claiming at once: one gets the row');
      const [row] = [...a, ...b];
      const owner = a.length ? 'w1' : 'w2';
      assert.equal(row!.attempts, 1);
      assert.deepEqual(await s.webhooks.claim('w3', now + 1000, 5000, 10), [], 'leased');
      // The lease runs out (the worker died): the row is claimed again under the same event id.
      const [again] = await s.webhooks.claim('w3', now + 6000, 5000, 10);
      assert.equal(again?.eventId, row!.eventId);
      assert.equal(again?.attempts, 2);
      assert.equal(await s.webhooks.delivered(row!, owner, 200, now), false, 'the old owner lost the row');
      assert.equal(await s.webhooks.failed(again!, 'w3', { status: 500, error: 'HTTP 500', retryAt: now + 10_000 }), true);
      assert.equal(await s.webhooks.nextDue(), now + 10_000);
      const [third] = await s.webhooks.claim('w3', now + 10_000, 5000, 10);
      assert.equal(await s.webhooks.failed(third!, 'w3', { status: null, error: 'ECONNREFUSED', retryAt: null }), true);
      const [failed] = await s.webhooks.list({ state: 'failed' });
      assert.deepEqual([failed?.attempts, failed?.lastError, failed?.lastStatus], [3, 'ECONNREFUSED', null]);
      assert.equal(await s.webhooks.retry({ callId: 'c1', now: now + 20_000 }), 1);
      const [fourth] = await s.webhooks.claim('w4', now + 20_000, 5000, 10);
      assert.equal(fourth?.eventId, row!.eventId, 'a retry keeps the id');
      assert.equal(await s.webhooks.delivered(fourth!, 'w4', 204, now + 20_001), true);
      const replayId = await s.webhooks.replay('c1', ['http://a.example/hook'], now + 30_000);
      assert.ok(replayId && replayId !== row!.eventId, 'a replay is a new event');
      const list = await s.webhooks.list({ callId: 'c1' });
      assert.deepEqual(list.map((d) => [d.eventId === replayId, d.state, d.replayOf]).sort(), [
        [false, 'delivered', null],
        [true, 'pending', row!.eventId],
      ]);
      assert.equal(await s.webhooks.replay('nope', ['http://a.example/hook'], now), null);
      await s.close();
    });
  });
}

describe('PostgreSQL store location', () => {
  it('names STORE_URL, without the password, when the server cannot be reached', async () => {
    await assert.rejects(openStore('postgres://sb:hunter2@127.0.0.1:1/db'), (err: Error) => {
      assert.match(err.message, /cannot open the store at postgres:\/\/sb:\*\*\*@127\.0\.0\.1:1\/db \(STORE_URL\): .*ECONNREFUSED/);
      assert.doesNotMatch(err.message, /hunter2/);
      return true;
    });
    await assert.rejects(openStore('mysql://x'), /STORE_URL: unsupported store "mysql"/);
    const { parseStoreLocation } = await import('../src/store/location.js');
    assert.deepEqual(['sqlite:./a.db', 'sqlite:///var/a.db', 'sqlite://./a.db', './a.db', ':memory:'].map((u) => parseStoreLocation(u)).map((l) => [l.backend, l.shown]), [
      ['sqlite', './a.db'],
      ['sqlite', '/var/a.db'],
      ['sqlite', './a.db'],
      ['sqlite', './a.db'],
      ['sqlite', ':memory:'],
    ]);
  });

  if (BACKENDS.some((b) => b.name === 'postgres')) {
    it('refuses a schema newer than this build, naming the store', async () => {
      const pgb = BACKENDS.find((b) => b.name === 'postgres')!;
      const url = await pgb.location();
      const s: Store = await openStore(url);
      await rows(s, 'INSERT INTO schema_migrations (version) VALUES ($1)', [PG_MIGRATIONS.length + 1]);
      await s.close();
      await assert.rejects(openStore(url), (err: Error & { code?: string }) =>
        err.code === 'newer_schema' && /\(STORE_URL\) has schema version \d+, newer than this build/.test(err.message),
      );
    });
  }
});
