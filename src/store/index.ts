/**
 * The store's public face. Everything above the store imports from here, never from a backend
 * file, so adding a backend (Postgres for worker fleets) changes only `openStore`.
 */
import { SqliteStore } from './sqliteStore.js';
import type { Store } from './store.js';

export type { AppointmentStore, CallRecordStore, Store } from './store.js';
export type * from './campaignStore.js';
export type * from './messageStore.js';
export type * from './retentionStore.js';
export { StoreError } from './store.js';
export type * from './types.js';

/** Opens the configured backend. Today: a SQLite file path (or `:memory:`). */
export function openStore(location: string): Store {
  if (/^postgres(ql)?:\/\//.test(location)) {
    throw new Error('STORE_PATH: Postgres is not built yet; use a SQLite file path');
  }
  return SqliteStore.open(location);
}
