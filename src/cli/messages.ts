/**
 * `switchboard messages [--callbacks] [--done <id>] [--limit N] [--json]`: the messages callers
 * left and the callbacks the agent promised, newest first, so a person can return them.
 */
import type { Command } from 'commander';
import { loadConfig, storeTarget } from '../config.js';
import { openStore } from '../store/index.js';
import { named, parseStoreLocation } from '../store/location.js';
import { UsageError, fail, report, table } from './output.js';

export function register(program: Command): void {
  program
    .command('messages')
    .description('messages callers left and callbacks promised to them (newest first)')
    .option('--callbacks', 'only callbacks nobody has returned yet')
    .option('--done <id>', 'mark a callback as returned')
    .option('--limit <n>', 'at most this many', '50')
    .option('--json', 'print one JSON object as the last line')
    .action(async (opts: { callbacks?: boolean; done?: string; limit: string; json?: boolean }) => {
      try {
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new UsageError(`--limit: ${JSON.stringify(opts.limit)} is not a whole number from 1 to 10000`);
        const target = storeTarget(loadConfig());
        const store = await openStore(target);
        try {
          if (opts.done) {
            const m = await store.messages.markCallbackDone(opts.done);
            if (!m) throw new UsageError(`--done: no message ${JSON.stringify(opts.done)} in ${named(parseStoreLocation(target))}`);
            report({ ok: true, message: m }, opts, () => `${m.id}: callback ${m.callback}`);
            return;
          }
          const messages = await store.messages.list({ limit, ...(opts.callbacks ? { callbacks: 'pending' as const } : {}) });
          report({ ok: true, count: messages.length, messages }, opts, () =>
            messages.length === 0
              ? opts.callbacks ? 'No callbacks waiting.' : 'No messages.'
              : table(
                  ['id', 'when', 'from', 'call back', 'callback', 'message'],
                  messages.map((m) => [m.id, m.at.slice(0, 16).replace('T', ' '), m.callerName ?? '', m.callbackNumber ?? '', m.callback, m.text]),
                ),
          );
        } finally {
          await store.close();
        }
      } catch (err) {
        fail(err, opts);
      }
    });
}
