/**
 * A call whose process died under it: nothing inside it can end it any more, so the worker does
 * what the call's own end path would have done. The room is deleted (that hangs up the SIP leg
 * and stops billing) and the call record, if the call got as far as writing one, is finished as
 * an error, so the outcome says what happened instead of staying "in progress" for ever.
 */
import { log } from '@livekit/agents';
import { recordMetric } from '../observe/metrics.js';
import type { Store } from '../store/index.js';
import type { RoomApi } from '../livekit/roomApi.js';
import { RoomJanitor } from './roomJanitor.js';

export async function endLostCall(
  room: string,
  reason: string,
  deps: { store: Store; roomApi: RoomApi; now?: () => Date },
): Promise<{ roomDeleted: boolean; recordFinished: boolean }> {
  const deletion = await new RoomJanitor(deps.roomApi, room).deleteOnce();
  const record = await deps.store.calls.findByRoom(room);
  let recordFinished = false;
  if (record && !record.finished) {
    await deps.store.calls.finish(record.id, {
      endedAt: (deps.now?.() ?? new Date()).toISOString(),
      outcome: { kind: 'error', error: reason },
      agents: [],
      toolCalls: [],
      userdata: null,
      transcript: [],
    });
    recordFinished = true;
    // Counted ended here, by the worker; it left `calls_active` when its host exited (hostPool.ts).
    recordMetric({ kind: 'count', name: 'calls_ended', labels: { direction: record.direction, outcome: 'error' } });
  }
  log().error({ room, callId: record?.id, roomDeleted: deletion.deleted, reason }, 'call lost with its process: room deleted, record closed');
  return { roomDeleted: deletion.deleted, recordFinished };
}
