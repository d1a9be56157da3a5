/**
 * Deletes a call's room exactly once, whoever asks first.
 *
 * Every exit path of a call (goodbye, hang-up, time limit, silence, error, worker shutdown) ends
 * here. Deleting the room is what releases the SIP leg and stops billing, so a failure is retried
 * and, if it still fails, reported rather than swallowed.
 */
import { log } from '@livekit/agents';
import { recordMetric } from '../observe/metrics.js';
import type { RoomApi } from '../livekit/roomApi.js';
import { inSpan } from '../observe/tracing.js';

export interface DeleteOutcome {
  deleted: boolean;
  attempts: number;
  error?: string;
}

export class RoomJanitor {
  private pending: Promise<DeleteOutcome> | undefined;

  constructor(
    private readonly api: RoomApi,
    readonly room: string,
    private readonly retryDelaysMs: readonly number[] = [250, 1000, 3000],
  ) {}

  get requested(): boolean {
    return this.pending !== undefined;
  }

  /** Idempotent: the first call deletes, later calls get the same outcome. */
  deleteOnce(): Promise<DeleteOutcome> {
    this.pending ??= inSpan('room_deletion', {}, async (span) => {
      const outcome = await this.run();
      span.setAttributes({ 'switchboard.room_deletion.deleted': outcome.deleted, 'switchboard.room_deletion.attempts': outcome.attempts });
      recordMetric({ kind: 'count', name: 'room_deletions', labels: { result: outcome.deleted ? 'deleted' : 'failed' } });
      return outcome;
    });
    return this.pending;
  }

  private async run(): Promise<DeleteOutcome> {
    let lastError = '';
    for (let attempt = 1; attempt <= this.retryDelaysMs.length + 1; attempt++) {
      try {
        await this.api.deleteRoom(this.room);
        return { deleted: true, attempts: attempt };
      } catch (err) {
        lastError = (err as Error).message;
        // A room that is already gone is the state we wanted.
        if (/not.?found|does not exist/i.test(lastError)) return { deleted: true, attempts: attempt };
        const delay = this.retryDelaysMs[attempt - 1];
        if (delay === undefined) break;
        log().warn({ room: this.room, attempt, error: lastError }, 'room deletion failed, retrying');
        await new Promise((r) => setTimeout(r, delay));
      }
    }
    log().error({ room: this.room, error: lastError }, 'room could not be deleted; it may stay open until LiveKit empties it');
    return { deleted: false, attempts: this.retryDelaysMs.length + 1, error: lastError };
  }
}
