/**
 * The store's public face. Everything above the store imports from here, never from a backend
 * file: `openStore` is the one place that picks a backend, from the location's scheme.
 */
import { parseStoreLocation, type StoreTarget } from './location.js';
import { PostgresStore } from './postgresStore.js';
import { SqliteStore } from './sqliteStore.js';
import type { OpenOptions, Store } from './store.js';

export type { AppointmentStore, CallRecordStore, OpenOptions, SchemaInfo, Store } from './store.js';
export type * from './campaignStore.js';
export type * from './outbox.js';
export { CALL_ENDED, DELIVERY_BUDGET_MS } from './outbox.js';
export type { StoreTarget } from './location.js';
export type * from './messageStore.js';
export type * from './retentionStore.js';
export { StoreError } from './store.js';
export type * from './types.js';
export { normaliseStart } from './slot.js';
export { replayRecordJournal, withRecordJournal } from './recordJournal.js';

/**
 * Opens the store at `target` (`sqlite:<file>`, a bare file path, `:memory:`, or `postgres://…`)
 * and brings its schema up to date. A schema newer than this build is refused.
 */
export async function openStore(target: string | StoreTarget, options: OpenOptions = {}): Promise<Store> {
  const loc = parseStoreLocation(target);
  return loc.backend === 'postgres' ? PostgresStore.open(loc, options) : SqliteStore.open(loc, options);
}
