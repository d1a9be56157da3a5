/**
 * A shutdown request that is really a room closing: LiveKit ends the job of a room it closed (the
 * SIP caller left) through the same close as a worker shutdown, sometimes before the room's own
 * disconnect event. The worker entry waits a moment for that event before it calls it a shutdown.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { RoomEvent } from '@livekit/rtc-node';
import { shutdownUnlessRoomGoes } from '../src/worker.js';

function fakeRoom(connected: boolean) {
  return Object.assign(new EventEmitter(), { isConnected: connected });
}
type Ctx = Parameters<typeof shutdownUnlessRoomGoes>[0];

describe('a shutdown request or a closing room', () => {
  it('is the room closing when the room disconnects within the grace: the call ends as a hang-up', async () => {
    const room = fakeRoom(true);
    const verdict = shutdownUnlessRoomGoes({ room } as unknown as Ctx);
    setTimeout(() => room.emit(RoomEvent.Disconnected), 50);
    assert.equal(await verdict, false);
    assert.equal(room.listenerCount(RoomEvent.Disconnected), 0, 'no listener left behind');
  });

  it('is a shutdown when the room stays', async () => {
    const room = fakeRoom(true);
    const started = Date.now();
    assert.equal(await shutdownUnlessRoomGoes({ room } as unknown as Ctx), true);
    assert.ok(Date.now() - started >= 900, 'it waited for the grace');
    assert.equal(room.listenerCount(RoomEvent.Disconnected), 0, 'no listener left behind');
  });

  it('is a shutdown at once for a job not in its room (not joined yet, or already gone)', async () => {
    const started = Date.now();
    assert.equal(await shutdownUnlessRoomGoes({ room: fakeRoom(false) } as unknown as Ctx), true);
    assert.ok(Date.now() - started < 100);
  });
});
