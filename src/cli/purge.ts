/**
 * `switchboard purge [--days N] [--dry-run] [--json]`: applies RETENTION_DAYS. Calls older than that
 * lose their transcript, tool calls, userdata, result and recording file, and their messages are
 * deleted; the call records' outcome, timing and cost stay, and bookings are never touched
 * (src/store/retentionStore.ts). Run it daily (cron, a Kubernetes CronJob).
 */
import { rm } from 'node:fs/promises';
import type { Command } from 'commander';
import { loadConfig, storeTarget } from '../config.js';
import { openStore } from '../store/index.js';
import { UsageError, fail, report } from './output.js';

export function register(program: Command): void {
  program
    .command('purge')
    .description('clear transcripts, recordings, userdata and messages of calls older than RETENTION_DAYS (bookings are kept)')
    .option('--days <n>', 'retention in days (default RETENTION_DAYS)')
    .option('--dry-run', 'count what would be purged; change nothing')
    .option('--json', 'print one JSON object as the last line')
    .action(async (opts: { days?: string; dryRun?: boolean; json?: boolean }) => {
      try {
        const config = loadConfig();
        const days = opts.days === undefined ? config.RETENTION_DAYS : Number(opts.days);
        if (!Number.isInteger(days) || days < 1) {
          throw new UsageError(
            opts.days === undefined
              ? 'RETENTION_DAYS is 0 (keep everything): set it, or pass --days, to say how long call data is kept'
              : `--days: ${JSON.stringify(opts.days)} is not a whole number of days, 1 or more`,
          );
        }
        const cutoff = new Date(Date.now() - days * 86_400_000).toISOString();
        const store = await openStore(storeTarget(config));
        let result;
        try {
          result = await store.retention.purge(cutoff, { dryRun: opts.dryRun === true });
        } finally {
          await store.close();
        }
        const missing: string[] = [];
        if (!opts.dryRun) {
          for (const path of result.recordings) {
            await rm(path).catch((err: NodeJS.ErrnoException) => {
              if (err.code !== 'ENOENT') throw err;
              missing.push(path);
            });
          }
        }
        const out = { ok: true, dryRun: opts.dryRun === true, cutoff, days, calls: result.calls, messages: result.messages, recordings: result.recordings.length, recordingsAlreadyGone: missing.length, datesOfBirth: result.datesOfBirth };
        report(out, opts, () =>
          `${opts.dryRun ? 'Would purge' : 'Purged'} ${out.calls} call(s) before ${cutoff} (${days} days): ` +
          `${out.messages} message(s), ${out.recordings} recording(s)${missing.length ? ` (${missing.length} already gone)` : ''}, ` +
          `${out.datesOfBirth} date(s) of birth of past appointments. Bookings kept.`,
        );
      } catch (err) {
        fail(err, opts);
      }
    });
}
