/**
 * Call records when the store will not take them (issue #19): the final write is retried, then
 * spooled to the journal and replayed on the next start; a first write that fails still ends the
 * call on the path that deletes the room, without dialling or starting a session.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCall } from '../src/call/callLifecycle.js';
import { loadConfig } from '../src/config.js';
import { type CallFinish, type Store, replayRecordJournal, withRecordJournal } from '../src/store/index.js';
import type { JournalEvent } from '../src/store/recordJournal.js';
import { BACKENDS } from './helpers/backends.js';

/** The store as a locked or full database answers: every call-record write fails while `down`. */
function flaky(store: Store, errors: { down: boolean; failures: number }) {
  const calls = new Proxy(store.calls, {
    get(target, key, receiver) {
      const v = Reflect.get(target, key, receiver) as unknown;
      if ((key !== 'start' && key !== 'finish') || typeof v !== 'function') return typeof v === 'function' ? v.bind(target) : v;
      return (...args: unknown[]) => {
        if (errors.down || errors.failures > 0) {
          errors.failures = Math.max(0, errors.failures - 1);
          const err = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
          return Promise.reject(err);
        }
        return (v as (...a: unknown[]) => Promise<void>).apply(target, args);
      };
    },
  });
  return new Proxy(store, { get: (t, k, r) => (k === 'calls' ? calls : Reflect.get(t, k, r)) });
}

const finish: CallFinish = {
  endedAt: '2026-12-02T10:05:00.000Z',
  outcome: { kind: 'completed' },
  agents: ['intro'],
  toolCalls: [],
  userdata: null,
  transcript: [{ role: 'caller', text: 'hello', at: '2026-12-02T10:01:00.000Z' }],
};
const start = { id: 'c1', room: 'r1', direction: 'inbound' as const, callerNumber: '+15550001111', startedAt: '2026-12-02T10:00:00.000Z' };
const fast = { startRetryMs: [1, 1], finishRetryMs: [1, 2, 4] };

for (const backend of BACKENDS) {
  describe(`call-record journal (${backend.name})`, () => {
    it('a final write that fails a few times is retried into the store; nothing is journaled', async () => {
      const path = join(mkdtempSync(join(tmpdir(), 'sb-journal-')), 'journal.ndjson');
      const inner = await backend.open();
      const events: JournalEvent[] = [];
      const errors = { down: false, failures: 0 };
      const store = withRecordJournal(flaky(inner, errors), { path, ...fast, onEvent: (e) => events.push(e) });
      await store.calls.start(start);
      errors.failures = 2;
      await store.calls.finish('c1', finish);
      assert.equal((await inner.calls.get('c1'))?.finished, true);
      assert.deepEqual(events.map((e) => [e.kind, e.op]), [['retry', 'finish'], ['retry', 'finish']]);
      assert.equal(existsSync(path), false);
      await inner.close();
    });

    it('a final write the store keeps refusing is journaled, and replayed (with its webhook) on the next start', async () => {
      const path = join(mkdtempSync(join(tmpdir(), 'sb-journal-')), 'journal.ndjson');
      const location = await backend.location();
      const { openStore } = await import('../src/store/index.js');
      const inner = await openStore(location, { webhookEndpoints: ['http://hooks.example/x'] });
      const errors = { down: false, failures: 0 };
      const store = withRecordJournal(flaky(inner, errors), { path, ...fast });
      await store.calls.start(start);
      errors.down = true;
      await store.calls.finish('c1', finish); // resolves: the record is safe in the journal
      assert.equal((await inner.calls.get('c1'))?.finished, false, 'the store still says in progress');
      assert.equal((await store.calls.get('c1'))?.finished, true, 'this process answers from the journal');
      assert.equal(readFileSync(path, 'utf8').trim().split('\n').length, 1);
      await assert.rejects(store.calls.finish('c1', finish), /already finished/, 'and refuses a second outcome');
      await inner.close();

      // The next start: the store takes writes again.
      const next = await openStore(location, { webhookEndpoints: ['http://hooks.example/x'] });
      assert.deepEqual(await replayRecordJournal(next, path), { replayed: 1, kept: 0, rejected: 0 });
      const rec = await next.calls.get('c1');
      assert.deepEqual([rec?.finished, rec?.outcome, rec?.transcript], [true, finish.outcome, finish.transcript]);
      assert.equal((await next.webhooks.list({ callId: 'c1' })).length, 1, 'the webhook event is written with the replayed finish');
      assert.equal(existsSync(path), false, 'the journal is emptied');
      assert.deepEqual(await replayRecordJournal(next, path), { replayed: 0, kept: 0, rejected: 0 }, 'replay is idempotent');
      await next.close();
    });

    it('replay keeps what the store still refuses and sets aside what can never apply', async () => {
      const path = join(mkdtempSync(join(tmpdir(), 'sb-journal-')), 'journal.ndjson');
      const inner = await backend.open();
      await inner.calls.start({ ...start, id: 'done' });
      await inner.calls.finish('done', finish);
      writeFileSync(
        path,
        [
          JSON.stringify({ op: 'start', call: { ...start, id: 'c2', room: 'r2' } }),
          JSON.stringify({ op: 'finish', id: 'c2', finish }),
          JSON.stringify({ op: 'finish', id: 'done', finish }), // already in the store: done
          JSON.stringify({ op: 'finish', id: 'ghost', finish }), // no start anywhere: can never apply
          '{not json',
        ].join('\n') + '\n',
      );
      // Still down at this start: all but the unreadable line is kept for the next one.
      assert.deepEqual(await replayRecordJournal(flaky(inner, { down: true, failures: 0 }), path), { replayed: 0, kept: 4, rejected: 1 });
      assert.deepEqual(await replayRecordJournal(inner, path), { replayed: 3, kept: 0, rejected: 1 });
      assert.equal((await inner.calls.get('c2'))?.finished, true);
      assert.equal(readFileSync(`${path}.rejected`, 'utf8').trim().split('\n').length, 2);
      assert.equal(existsSync(path), false);
      await inner.close();
    });

    it('a first write that fails ends the call on the path that deletes the room: no dial, no session, record journaled', async () => {
      const path = join(mkdtempSync(join(tmpdir(), 'sb-journal-')), 'journal.ndjson');
      const location = await backend.location();
      const { openStore } = await import('../src/store/index.js');
      const inner = await openStore(location);
      const store = withRecordJournal(flaky(inner, { down: true, failures: 0 }), { path, ...fast });
      const deleted: string[] = [];
      let dialled = false;
      let started = false;
      const result = await runCall(
        {
          callId: 'c9',
          room: 'room-9',
          direction: 'outbound',
          profile: 'phone',
          callerNumber: '+12125550101',
          dial: { participantIdentity: 'callee', sipTrunkId: 'ST_x', sipCallTo: '+12125550101' } as never,
        },
        {
          config: loadConfig({}),
          store,
          vad: undefined as never,
          roomApi: { deleteRoom: async (room) => void deleted.push(room) },
          sip: { createSipParticipant: async () => ((dialled = true), {}) } as never,
        },
        { start: async () => void (started = true), hungUp: new Promise(() => undefined) },
      );
      assert.deepEqual(deleted, ['room-9'], 'the room is deleted');
      assert.equal(result.roomDeleted, true);
      assert.equal(dialled || started, false, 'nobody was dialled and no agent spoke');
      assert.equal(result.record.outcome?.kind, 'error');
      assert.match((result.record.outcome as { error: string }).error, /call record: call record c9 could not be started/);
      assert.deepEqual(
        readFileSync(path, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { op: string }).op),
        ['start', 'finish'],
      );
      assert.deepEqual(await replayRecordJournal(inner, path), { replayed: 2, kept: 0, rejected: 0 });
      assert.equal((await inner.calls.get('c9'))?.outcome?.kind, 'error');
      await inner.close();
    });
  });
}
