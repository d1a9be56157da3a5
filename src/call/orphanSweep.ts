/**
 * At worker start: the calls an earlier run of this worker left open end now.
 *
 * A worker killed outright (SIGKILL, the OOM killer, a power cut) takes its call processes with it
 * before any of them can say goodbye or delete its room, so the caller sits in silence on a line
 * nobody will hang up. Each open call record names the process that ran it (store/owner.ts);
 * one on this host (WORKER_ID) whose process is gone is a call nobody runs any more: its room is
 * deleted, which hangs the caller up, and the record is finished as an error saying why.
 *
 * A process that is still alive is left alone: its calls may still be in progress (call hosts
 * outlive a killed worker long enough to end theirs themselves, src/host/callHost.ts). Records
 * journaled by the dead run are replayed first (worker.ts), so a call that did finish keeps its
 * real outcome.
 */
import type { Store } from '../store/index.js';
import { ownerIsDead } from '../store/owner.js';
import { endLostCall } from './lostCall.js';
import type { RoomApi } from '../livekit/roomApi.js';

export const ORPHAN_REASON = 'the worker running this call stopped; its restart ended the call';

export interface OrphanSweep {
  /** Rooms of the calls ended, oldest call first. */
  ended: string[];
  /** Open calls on this host whose process still runs. */
  stillRunning: number;
}

export async function endOrphanedCalls(deps: { store: Store; roomApi: RoomApi; workerId: string; now?: () => Date }): Promise<OrphanSweep> {
  const open = await deps.store.calls.openOnHost(deps.workerId);
  const sweep: OrphanSweep = { ended: [], stillRunning: 0 };
  for (const record of open) {
    if (!ownerIsDead(record.owner ?? null, deps.workerId)) {
      sweep.stillRunning++;
      continue;
    }
    await endLostCall(record.room, ORPHAN_REASON, deps);
    sweep.ended.push(record.room);
  }
  return sweep;
}
