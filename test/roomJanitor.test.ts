import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import './helpers/logger.js';
import { RoomJanitor } from '../src/call/roomJanitor.js';

describe('RoomJanitor', () => {
  it('deletes once however many exit paths ask at the same time', async () => {
    const calls: string[] = [];
    const j = new RoomJanitor({ deleteRoom: async (r) => void calls.push(r) }, 'room-1');
    const outcomes = await Promise.all([j.deleteOnce(), j.deleteOnce(), j.deleteOnce()]);
    await j.deleteOnce();
    assert.deepEqual(calls, ['room-1']);
    assert.ok(outcomes.every((o) => o.deleted));
  });

  it('retries a failing delete and reports failure without throwing', async () => {
    let n = 0;
    const j = new RoomJanitor({ deleteRoom: async () => { n++; throw new Error('connection refused'); } }, 'r', [1, 1]);
    const out = await j.deleteOnce();
    assert.equal(n, 3);
    assert.deepEqual(out, { deleted: false, attempts: 3, error: 'connection refused' });
  });

  it('treats an already-gone room as deleted', async () => {
    const j = new RoomJanitor({ deleteRoom: async () => { throw new Error('twirp error not_found: room not found'); } }, 'r', [1]);
    assert.equal((await j.deleteOnce()).deleted, true);
  });
});
