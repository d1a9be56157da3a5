/**
 * The store a worker's calls write to: the configured backend (STORE_URL), with an outbox row per
 * WEBHOOK_URL in every finishing transaction, and call-record writes that retry and fall back to
 * the local journal (RECORD_JOURNAL_PATH) when the store will not take them.
 */
import { log } from '@livekit/agents';
import { type Config, storeTarget } from '../config.js';
import { type Store, openStore, replayRecordJournal, withRecordJournal } from '../store/index.js';

let shared: Promise<Store> | undefined;

/**
 * One store per process, shared by its calls: a Postgres pool (and the migration check) per call
 * would cost connections and a lock at every call start. Its `close` is a no-op for the calls;
 * the process's exit closes it.
 */
export function openCallStore(config: Config): Promise<Store> {
  shared ??= openStore(storeTarget(config), { webhookEndpoints: config.WEBHOOK_URL }).then(
    (store) =>
      withRecordJournal(store, {
        path: config.RECORD_JOURNAL_PATH,
        onEvent: (e) => (e.kind === 'retry' ? log().warn(e, 'call record write retried') : log().error(e, 'call record write failed')),
      }),
    (err: unknown) => {
      shared = undefined; // the next call tries again
      throw err;
    },
  );
  return shared.then((store) => new Proxy(store, { get: (t, k, r) => (k === 'close' ? async () => undefined : Reflect.get(t, k, r)) }));
}

/** On worker start: records journaled by an earlier run go into the store now. */
export async function replayJournal(config: Config, store: Store): Promise<void> {
  const r = await replayRecordJournal(store, config.RECORD_JOURNAL_PATH);
  if (r.replayed + r.kept + r.rejected === 0) return;
  const level = r.kept + r.rejected > 0 ? 'warn' : 'info';
  log()[level]({ ...r, path: config.RECORD_JOURNAL_PATH }, 'replayed journaled call records');
}
