/**
 * Messages callers leave, and the callbacks they were promised: the store's side of "the agent
 * may only promise what a tool did". A message taken is a row here before the agent says so; a
 * callback promised is a message with a number to call and a state a person moves on.
 *
 * Async like the rest of the store, so a Postgres backend can implement it. Nothing here imports
 * from outside src/store.
 */
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';

type DB = Database.Database;

/** Whether a person still owes the caller a call. `none`: a message only, nobody promised to call. */
export type CallbackState = 'none' | 'pending' | 'done';

export interface NewMessage {
  callId: string;
  /** Who left it, as they said it. */
  callerName: string | null;
  /** The number to call back (E.164), or the number they called from. */
  callbackNumber: string | null;
  /** What they want, in their words (or the agent's summary of them). */
  text: string;
  /** Why the message was taken: the caller asked for a person, a tool failed, after hours, … */
  reason: string | null;
  /** A callback was promised to the caller. */
  callback: boolean;
  at: string;
}

export interface Message extends Omit<NewMessage, 'callback'> {
  id: string;
  callback: CallbackState;
}

export interface MessageStore {
  take(message: NewMessage): Promise<Message>;
  /** Newest first. `callbacks`: only those a person still has to return. */
  list(options?: { limit?: number; callbacks?: 'pending' }): Promise<Message[]>;
  forCall(callId: string): Promise<Message[]>;
  /** A person returned the call. */
  markCallbackDone(id: string): Promise<Message | undefined>;
}

/** Schema version 6 of the SQLite store (sqliteMigrations.ts; the Postgres one is in postgresMigrations.ts). */
export const MESSAGE_MIGRATION = `
  CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    call_id TEXT NOT NULL,
    caller_name TEXT,
    callback_number TEXT,
    text TEXT NOT NULL,
    reason TEXT,
    callback TEXT NOT NULL CHECK (callback IN ('none','pending','done')),
    created_at TEXT NOT NULL
  );
  CREATE INDEX messages_call ON messages(call_id);
  CREATE INDEX messages_pending ON messages(created_at) WHERE callback = 'pending';`;

export class SqliteMessageStore implements MessageStore {
  constructor(private readonly db: DB) {}

  async take(m: NewMessage): Promise<Message> {
    const id = `msg_${randomUUID().slice(0, 8)}`;
    this.db
      .prepare(
        `INSERT INTO messages (id, call_id, caller_name, callback_number, text, reason, callback, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(id, m.callId, m.callerName, m.callbackNumber, m.text, m.reason, m.callback ? 'pending' : 'none', m.at);
    return (await this.get(id))!;
  }

  async list(options: { limit?: number; callbacks?: 'pending' } = {}): Promise<Message[]> {
    const where = options.callbacks === 'pending' ? `WHERE callback = 'pending'` : '';
    const rows = this.db.prepare(`SELECT * FROM messages ${where} ORDER BY created_at DESC, id LIMIT ?`).all(options.limit ?? 100);
    return (rows as Record<string, unknown>[]).map(toMessage);
  }

  async forCall(callId: string): Promise<Message[]> {
    const rows = this.db.prepare('SELECT * FROM messages WHERE call_id = ? ORDER BY created_at, id').all(callId);
    return (rows as Record<string, unknown>[]).map(toMessage);
  }

  async markCallbackDone(id: string): Promise<Message | undefined> {
    this.db.prepare(`UPDATE messages SET callback = 'done' WHERE id = ? AND callback = 'pending'`).run(id);
    return this.get(id);
  }

  private async get(id: string): Promise<Message | undefined> {
    const row = this.db.prepare('SELECT * FROM messages WHERE id = ?').get(id);
    return row ? toMessage(row as Record<string, unknown>) : undefined;
  }
}

export function toMessage(r: Record<string, unknown>): Message {
  return {
    id: r.id as string,
    callId: r.call_id as string,
    callerName: (r.caller_name as string | null) ?? null,
    callbackNumber: (r.callback_number as string | null) ?? null,
    text: r.text as string,
    reason: (r.reason as string | null) ?? null,
    callback: r.callback as CallbackState,
    at: r.created_at as string,
  };
}
