import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openStore } from '../src/store/index.js';
import { SqliteStore } from '../src/store/sqliteStore.js';

const tmpDb = () => join(mkdtempSync(join(tmpdir(), 'sb-store-')), 'nested', 'calls.db');

describe('SQLite store', () => {
  it('creates its schema on open, in WAL mode, and keeps data across reopen', async () => {
    const path = tmpDb();
    const a = openStore(path) as SqliteStore;
    assert.equal(a.db.pragma('journal_mode', { simple: true }), 'wal');
    await a.calls.start({ id: 'c1', room: 'r1', direction: 'inbound', callerNumber: '+15550001111', startedAt: '2026-11-21T10:00:00.000Z' });
    await a.close();
    const b = openStore(path);
    const rec = await b.calls.get('c1');
    assert.equal(rec?.callerNumber, '+15550001111');
    assert.equal(rec?.finished, false);
    await b.close();
  });

  it('finishes a call record once and refuses to overwrite the outcome', async () => {
    const s = openStore(':memory:');
    await s.calls.start({ id: 'c1', room: 'r1', direction: 'inbound', callerNumber: null, startedAt: 't0' });
    const finish = {
      endedAt: 't1',
      outcome: { kind: 'completed', summary: 'booked' } as const,
      agents: ['intro', 'desk'],
      toolCalls: [{ name: 'book_appointment', args: { start: 'x' }, output: 'ok', isError: false, at: 't' }],
      userdata: { callerName: 'Ana' },
      transcript: [{ role: 'caller' as const, text: 'hi', at: 't' }],
    };
    await s.calls.finish('c1', finish);
    await assert.rejects(s.calls.finish('c1', { ...finish, outcome: { kind: 'hung_up' } }), /already finished/);
    const rec = await s.calls.get('c1');
    assert.deepEqual(rec?.outcome, { kind: 'completed', summary: 'booked' });
    assert.deepEqual(rec?.agents, ['intro', 'desk']);
    assert.equal(rec?.finished, true);
  });

  it('books a slot once: the second booking of the same start is slot_taken', async () => {
    const s = openStore(':memory:');
    const base = { name: 'Ana', phone: '+15550001111', durationMin: 30, reason: null, callId: 'c1' };
    const first = await s.appointments.book({ ...base, start: '2026-11-24T15:00:00Z' });
    const second = await s.appointments.book({ ...base, name: 'Bo', start: '2026-11-24T15:00:00Z' });
    assert.equal(first.ok, true);
    assert.deepEqual(second, { ok: false, reason: 'slot_taken' });
    // A cancelled slot is free again.
    if (!first.ok) throw new Error('unreachable');
    await s.appointments.setStatus(first.appointment.id, 'cancelled');
    assert.equal((await s.appointments.book({ ...base, name: 'Bo', start: '2026-11-24T15:00:00Z' })).ok, true);
    assert.equal((await s.appointments.findByPhone('+15550001111')).length, 1);
  });

  it('reschedule into a taken slot is refused and leaves the appointment where it was', async () => {
    const s = openStore(':memory:');
    const base = { name: 'Ana', phone: '+1555', durationMin: 30, reason: null, callId: null };
    const a = await s.appointments.book({ ...base, start: '2026-11-24T15:00:00Z' });
    await s.appointments.book({ ...base, start: '2026-11-24T16:00:00Z' });
    if (!a.ok) throw new Error('unreachable');
    assert.deepEqual(await s.appointments.reschedule(a.appointment.id, '2026-11-24T16:00:00Z'), { ok: false, reason: 'slot_taken' });
    assert.equal((await s.appointments.get(a.appointment.id))?.start, '2026-11-24T15:00:00Z');
  });

  it('names STORE_PATH when the file cannot be opened', () => {
    // A directory where the database file should be.
    const dir = mkdtempSync(join(tmpdir(), 'sb-store-'));
    assert.throws(() => openStore(dir), /cannot open the store at .* \(STORE_PATH\)/);
  });
});
