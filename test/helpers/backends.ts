/**
 * The store backends every store test runs against: SQLite always, PostgreSQL when
 * TEST_POSTGRES_URL is set (CI starts one with scripts/start-postgres.sh). Each `location()` is a
 * fresh, empty store: a new SQLite file, or a new Postgres schema reached through `search_path`.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { type OpenOptions, type Store, openStore } from '../../src/store/index.js';
import { PostgresStore } from '../../src/store/postgresStore.js';
import { SqliteStore } from '../../src/store/sqliteStore.js';

export interface Backend {
  name: 'sqlite' | 'postgres';
  /** A fresh, empty store location (a URL for STORE_URL). */
  location(): Promise<string>;
  open(options?: OpenOptions): Promise<Store>;
}

const PG_URL = process.env.TEST_POSTGRES_URL;
let n = 0;

const sqlite: Backend = {
  name: 'sqlite',
  location: async () => `sqlite:${join(mkdtempSync(join(tmpdir(), 'sb-store-')), 'store.db')}`,
  open: async (options) => openStore(await sqlite.location(), options),
};

const postgres: Backend = {
  name: 'postgres',
  location: async () => {
    const schema = `t_${process.pid}_${Date.now().toString(36)}_${n++}`;
    const admin = new pg.Client(PG_URL);
    await admin.connect();
    try {
      await admin.query(`CREATE SCHEMA ${schema}`);
    } finally {
      await admin.end();
    }
    const url = new URL(PG_URL!);
    url.searchParams.set('options', `-c search_path=${schema}`);
    return url.toString();
  },
  open: async (options) => openStore(await postgres.location(), options),
};

export const BACKENDS: Backend[] = PG_URL ? [sqlite, postgres] : [sqlite];

/** Raw rows, for assertions a test makes on tables the store has no reader for. */
export async function rows(store: Store, sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  // Parameters are $1, $2, … in order of use, each used once (SQLite gets them as `?`).
  if (store instanceof SqliteStore) {
    const stmt = store.db.prepare(sql.replace(/\$\d+/g, '?'));
    if (stmt.reader) return stmt.all(...params) as Record<string, unknown>[];
    stmt.run(...params);
    return [];
  }
  if (store instanceof PostgresStore) return (await store.pool.query(sql, params)).rows as Record<string, unknown>[];
  throw new Error('unknown backend');
}
