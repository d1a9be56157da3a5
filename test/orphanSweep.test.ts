/**
 * A restarted worker ends the calls its killed run left open, and only those: open records of
 * this worker whose process is gone get their room deleted and an error outcome; calls whose
 * process still runs, other workers' calls and finished calls are left as they are.
 */
import './helpers/logger.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { ORPHAN_REASON, endOrphanedCalls } from '../src/call/orphanSweep.js';
import { newOwner } from '../src/store/owner.js';
import { BACKENDS } from './helpers/backends.js';

/** A pid that existed and is gone now. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '0']);
  return r.pid!;
}

const ownerWith = (host: string, pid: number) => `${host}:${pid}:abcd1234`;

for (const backend of BACKENDS) {
  describe(`calls left open by a killed worker (${backend.name})`, () => {
    it('deletes the rooms of calls whose process is gone and finishes their records, touching nothing else', async () => {
      const store = await backend.open();
      try {
        const start = (id: string, owner: string | null, at: string) =>
          store.calls.start({ id, room: `room-${id}`, direction: 'inbound', callerNumber: '+14155550123', startedAt: at, owner });
        const dead = deadPid();
        await start('lost-1', ownerWith('worker-a', dead), '2026-12-03T10:00:00.000Z');
        await start('lost-2', ownerWith('worker-a', dead), '2026-12-03T10:00:05.000Z');
        await start('live', ownerWith('worker-a', process.ppid), '2026-12-03T10:00:01.000Z'); // its process still runs
        await start('mine', newOwner('worker-a'), '2026-12-03T10:00:02.000Z'); // this very process
        await start('elsewhere', ownerWith('worker-b', dead), '2026-12-03T10:00:03.000Z'); // another worker's
        await start('prefix', ownerWith('worker-ab', dead), '2026-12-03T10:00:03.500Z'); // a name that only starts alike
        await start('untracked', null, '2026-12-03T10:00:04.000Z'); // written by some other tool
        await start('done', ownerWith('worker-a', dead), '2026-12-03T09:00:00.000Z');
        await store.calls.finish('done', { endedAt: '2026-12-03T09:05:00.000Z', outcome: { kind: 'completed', summary: 'ok' }, agents: [], toolCalls: [], userdata: null, transcript: [] });

        const deleted: string[] = [];
        const sweep = await endOrphanedCalls({ store, roomApi: { deleteRoom: async (r) => void deleted.push(r) }, workerId: 'worker-a', now: () => new Date('2026-12-03T11:00:00.000Z') });

        assert.deepEqual(sweep, { ended: ['room-lost-1', 'room-lost-2'], stillRunning: 2 });
        assert.deepEqual(deleted, ['room-lost-1', 'room-lost-2'], 'only the orphans\' rooms were deleted, oldest first');
        for (const id of ['lost-1', 'lost-2']) {
          const r = await store.calls.get(id);
          assert.equal(r?.finished, true);
          assert.deepEqual(r?.outcome, { kind: 'error', error: ORPHAN_REASON });
          assert.equal(r?.endedAt, '2026-12-03T11:00:00.000Z');
        }
        for (const id of ['live', 'mine', 'elsewhere', 'prefix', 'untracked']) assert.equal((await store.calls.get(id))?.finished, false, `${id} was left open`);
        assert.deepEqual((await store.calls.get('done'))?.outcome, { kind: 'completed', summary: 'ok' });

        // A second start finds nothing more to do.
        const again = await endOrphanedCalls({ store, roomApi: { deleteRoom: async (r) => void deleted.push(r) }, workerId: 'worker-a' });
        assert.deepEqual(again.ended, []);
        assert.equal(deleted.length, 2);
      } finally {
        await store.close();
      }
    });
  });
}
