/**
 * Retention (RETENTION_DAYS): what a call leaves about the person on it is kept for so long and no
 * longer. Purging a call clears its transcript, tool calls (their arguments carry what the caller
 * said), userdata and result, forgets its recording, and deletes the messages left on it. What
 * the business needs to run stays: the call record's outcome, timing and cost (statistics,
 * campaign state), and the bookings, which are the business's own records of its appointments. A
 * booking's date of birth is there only to check a caller about that appointment, so it goes once
 * the appointment is older than the cutoff.
 *
 * The recording files themselves are deleted by the caller of `purge` (the CLI), from the paths
 * it returns: the store does not touch the file system beyond its own database.
 */
import Database from 'better-sqlite3';

type DB = Database.Database;

export interface PurgeResult {
  /** Finished calls started before the cutoff whose personal data was cleared now. */
  calls: number;
  /** Messages (and callback requests) deleted. */
  messages: number;
  /** Recording files of the purged calls, for the caller to delete. */
  recordings: string[];
  /** Dates of birth cleared from appointments that started before the cutoff. */
  datesOfBirth: number;
}

export interface RetentionStore {
  /** Clears what calls started before `cutoffIso` left about people (see above). `dryRun`: count only. */
  purge(cutoffIso: string, options?: { dryRun?: boolean }): Promise<PurgeResult>;
}

/** Schema version 7 of the store: when a call record's personal data was purged. */
export const RETENTION_MIGRATION = `ALTER TABLE call_records ADD COLUMN purged_at TEXT;`;

/**
 * Appointments started before the cutoff (the one parameter, written as the backend's
 * placeholder) that still hold a date of birth.
 */
export const pastDateOfBirth = (placeholder: '?' | '$1'): string => `start_utc < ${placeholder} AND date_of_birth IS NOT NULL`;

export class SqliteRetentionStore implements RetentionStore {
  constructor(private readonly db: DB) {}

  async purge(cutoffIso: string, options: { dryRun?: boolean } = {}): Promise<PurgeResult> {
    const run = () => {
      // Calls still in progress are not purged, whatever their age: their record is not written yet.
      const calls = this.db
        .prepare(`SELECT id, recording_path FROM call_records WHERE started_at < ? AND ended_at IS NOT NULL AND purged_at IS NULL`)
        .all(cutoffIso) as { id: string; recording_path: string | null }[];
      const result: PurgeResult = {
        calls: calls.length,
        messages: 0,
        recordings: calls.flatMap((c) => (c.recording_path ? [c.recording_path] : [])),
        datesOfBirth: 0,
      };
      if (options.dryRun) {
        // A dry run changes nothing, so it counts what the DELETE and UPDATE below would clear.
        result.messages = (this.db.prepare('SELECT COUNT(*) AS n FROM messages WHERE created_at < ?').get(cutoffIso) as { n: number }).n;
        result.datesOfBirth = (
          this.db.prepare(`SELECT COUNT(*) AS n FROM appointments WHERE ${pastDateOfBirth('?')}`).get(cutoffIso) as { n: number }
        ).n;
        return result;
      }
      const now = new Date().toISOString();
      const clear = this.db.prepare(
        `UPDATE call_records SET transcript = NULL, tool_calls = NULL, userdata = NULL, result = NULL,
           recording_path = NULL, purged_at = ? WHERE id = ?`,
      );
      for (const c of calls) clear.run(now, c.id);
      result.messages = this.db.prepare('DELETE FROM messages WHERE created_at < ?').run(cutoffIso).changes;
      result.datesOfBirth = this.db.prepare(`UPDATE appointments SET date_of_birth = NULL WHERE ${pastDateOfBirth('?')}`).run(cutoffIso).changes;
      return result;
    };
    // One transaction: a purge interrupted half way leaves nothing half cleared.
    return this.db.transaction(run).immediate();
  }
}
