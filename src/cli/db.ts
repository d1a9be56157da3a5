/**
 * `switchboard db migrate`: brings the configured store (STORE_URL) to this build's schema. Every
 * process migrates on open anyway; this is for operators who migrate before rolling out workers.
 */
import type { Command } from 'commander';
import { loadConfig, storeTarget } from '../config.js';
import { openStore } from '../store/index.js';
import { fail, report } from './output.js';

export function register(program: Command): void {
  const db = program.command('db').description('the store (STORE_URL): schema migrations');
  db.command('migrate')
    .description('apply the schema migrations this build has and the store has not')
    .option('--json', 'print one JSON object')
    .action(async (flags: { json?: boolean }) => {
      try {
        const store = await openStore(storeTarget(loadConfig()));
        const { backend, location, from, version } = store.schema;
        await store.close();
        const applied = Array.from({ length: version - from }, (_, i) => from + i + 1);
        report({ ok: true, backend, location, from, version, applied }, flags, () =>
          applied.length === 0
            ? `${location} (${backend}) is at schema version ${version}; nothing to migrate`
            : `${location} (${backend}): migrated from version ${from} to ${version} (applied ${applied.join(', ')})`,
        );
      } catch (err) {
        fail(err, flags);
      }
    });
}
