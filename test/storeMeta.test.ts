/**
 * The call record's `meta` (migration 5, one JSON column): written and read back whole, and a
 * store created before it opens with its calls intact.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { MIGRATIONS, migrate } from '../src/store/sqliteMigrations.js';
import { type CallMeta, openStore } from '../src/store/index.js';

const META: CallMeta = {
  model: 'gpt-4.1-mini',
  promptVersions: { intro: '5271366bb8c8', desk: '051fdf17d8d6' },
  buildVersion: '0.1.0+abc',
  providers: { stt: ['Deepgram/nova-3'], llm: ['openai/gpt-4.1-nano'], tts: ['Cartesia/sonic-2'] },
  interruptions: 2,
  turnLatency: { firstAudioMs: { p50: 610, p95: 980 }, ttsTtfbMs: { p50: null, p95: null } },
};

describe('call record meta', () => {
  it('is stored and read back as written', async () => {
    const store = await openStore(':memory:');
    await store.calls.start({ id: 'c1', room: 'r1', direction: 'inbound', callerNumber: null, startedAt: '2026-12-01T10:00:00Z' });
    await store.calls.finish('c1', { endedAt: '2026-12-01T10:01:00Z', outcome: { kind: 'completed' }, agents: [], toolCalls: [], userdata: null, transcript: [], meta: META });
    assert.deepEqual((await store.calls.get('c1'))!.meta, META);
    await store.close();
  });

  it('a store from before migration 5 opens with its calls intact, their meta null', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'sb-meta-')), 'old.db');
    const db = new Database(path);
    migrate(db, MIGRATIONS.slice(0, 4));
    db.prepare(`INSERT INTO call_records (id, room, direction, started_at, ended_at, outcome, outcome_kind) VALUES ('old', 'r0', 'inbound', '2026-11-01T10:00:00Z', '2026-11-01T10:01:00Z', '{"kind":"hung_up"}', 'hung_up')`).run();
    db.close();
    const store = await openStore(`sqlite:${path}`);
    const old = await store.calls.get('old');
    assert.deepEqual([old?.outcome, old?.meta, old?.finished], [{ kind: 'hung_up' }, null, true]);
    await store.close();
    const reopened = new Database(path);
    assert.equal(reopened.pragma('user_version', { simple: true }), MIGRATIONS.length);
    reopened.close();
  });
});
