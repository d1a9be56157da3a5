/**
 * PostgreSQL side of messages and callbacks (messageStore.ts) and of retention
 * (retentionStore.ts): the same contracts and the same rows as the SQLite stores, for fleets.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { type Message, type MessageStore, type NewMessage, toMessage } from './messageStore.js';
import { pastDateOfBirth, type PurgeResult, type RetentionStore } from './retentionStore.js';
import { transaction } from './postgresTx.js';

export class PostgresMessageStore implements MessageStore {
  constructor(private readonly pool: pg.Pool) {}

  async take(m: NewMessage): Promise<Message> {
    const id = `msg_${randomUUID().slice(0, 8)}`;
    const { rows } = await this.pool.query(
      `INSERT INTO messages (id, call_id, caller_name, callback_number, text, reason, callback, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
      [id, m.callId, m.callerName, m.callbackNumber, m.text, m.reason, m.callback ? 'pending' : 'none', m.at],
    );
    return toMessage(rows[0]);
  }

  async list(options: { limit?: number; callbacks?: 'pending' } = {}): Promise<Message[]> {
    const where = options.callbacks === 'pending' ? `WHERE callback = 'pending'` : '';
    const { rows } = await this.pool.query(`SELECT * FROM messages ${where} ORDER BY created_at DESC, id LIMIT $1`, [options.limit ?? 100]);
    return rows.map(toMessage);
  }

  async forCall(callId: string): Promise<Message[]> {
    const { rows } = await this.pool.query('SELECT * FROM messages WHERE call_id = $1 ORDER BY created_at, id', [callId]);
    return rows.map(toMessage);
  }

  async markCallbackDone(id: string): Promise<Message | undefined> {
    await this.pool.query(`UPDATE messages SET callback = 'done' WHERE id = $1 AND callback = 'pending'`, [id]);
    const { rows } = await this.pool.query('SELECT * FROM messages WHERE id = $1', [id]);
    return rows[0] ? toMessage(rows[0]) : undefined;
  }
}

export class PostgresRetentionStore implements RetentionStore {
  constructor(private readonly pool: pg.Pool) {}

  async purge(cutoffIso: string, options: { dryRun?: boolean } = {}): Promise<PurgeResult> {
    // One transaction, and the calls locked while they are cleared: a purge interrupted half way
    // leaves nothing half cleared, and two operators purging at once clear each call once.
    return transaction(this.pool, async (c) => {
      const calls = (
        await c.query(
          `SELECT id, recording_path FROM call_records
            WHERE started_at < $1 AND ended_at IS NOT NULL AND purged_at IS NULL FOR UPDATE`,
          [cutoffIso],
        )
      ).rows as { id: string; recording_path: string | null }[];
      const pastDob = pastDateOfBirth('$1');
      const result: PurgeResult = {
        calls: calls.length,
        messages: 0,
        recordings: calls.flatMap((x) => (x.recording_path ? [x.recording_path] : [])),
        datesOfBirth: 0,
      };
      if (options.dryRun) {
        // A dry run changes nothing, so it counts what the DELETE and UPDATE below would clear.
        result.messages = Number((await c.query('SELECT COUNT(*) AS n FROM messages WHERE created_at < $1', [cutoffIso])).rows[0].n);
        result.datesOfBirth = Number((await c.query(`SELECT COUNT(*) AS n FROM appointments WHERE ${pastDob}`, [cutoffIso])).rows[0].n);
        return result;
      }
      await c.query(
        `UPDATE call_records SET transcript = NULL, tool_calls = NULL, userdata = NULL, result = NULL,
           recording_path = NULL, purged_at = $1 WHERE id = ANY($2::text[])`,
        [new Date().toISOString(), calls.map((x) => x.id)],
      );
      result.messages = (await c.query('DELETE FROM messages WHERE created_at < $1', [cutoffIso])).rowCount ?? 0;
      result.datesOfBirth = (await c.query(`UPDATE appointments SET date_of_birth = NULL WHERE ${pastDob}`, [cutoffIso])).rowCount ?? 0;
      return result;
    });
  }
}
