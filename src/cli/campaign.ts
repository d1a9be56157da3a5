/**
 * `switchboard campaign run|status|export`: outbound campaigns from a contacts CSV.
 * The work is in src/campaign; this module parses flags, wires config, store and LiveKit, and
 * reports (progress bar on a TTY, plain lines otherwise; `--json`: one JSON object last).
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Command } from 'commander';
import { DateTime } from 'luxon';
import { loadConfig, storeTarget } from '../config.js';
import { Dispatcher, type DispatcherEvent, type RunResult } from '../campaign/dispatcher.js';
import { EMPTY_DNC, loadDnc } from '../campaign/dnc.js';
import { EXPORT_COLUMNS, exportLine } from '../campaign/exportCsv.js';
import { campaignIdFromFile, isValidId } from '../campaign/ids.js';
import { importContacts, type ImportSummary } from '../campaign/importer.js';
import { parseColumnMap } from '../campaign/contactsCsv.js';
import { configWarnings } from '../configWarnings.js';
import { livekitDispatchSink } from '../campaign/livekitSink.js';
import { campaignSettings } from '../campaign/settings.js';
import { type CampaignStore, type CampaignStats, type ImportChanges, openStore, type Store } from '../store/index.js';
import { Progress, UsageError, fail, report, table } from './output.js';

interface RunFlags {
  campaign?: string;
  columns?: string;
  dnc?: string;
  maxConcurrent?: string;
  cps?: string;
  window?: string;
  maxAttempts?: string;
  exitWhenParked?: boolean;
  json?: boolean;
}

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
const local = (t: number) => DateTime.fromMillis(t).toFormat("yyyy-MM-dd HH:mm ZZZZ");

function intFlag(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) throw new UsageError(`${name}: ${JSON.stringify(value)} must be a number ≥ ${min}`);
  return n;
}

function campaignsOf(store: Store): CampaignStore {
  if (!store.campaigns) throw new Error('this store backend has no campaign support');
  return store.campaigns;
}

async function requireCampaign(campaigns: CampaignStore, id: string): Promise<void> {
  if (!(await campaigns.get(id))) {
    throw new UsageError(`no campaign ${JSON.stringify(id)} in this store (STORE_URL); campaign run prints the id it uses`);
  }
}

export function register(program: Command): void {
  const campaign = program.command('campaign').description('outbound call campaigns from a contacts CSV');

  campaign
    .command('run <contacts>')
    .description(
      'import a contacts CSV (columns: phone, name; optional appointment_id, timezone, contact_id; others become contact ' +
        'fields) and dial it within the limits; run the same command again to resume after a stop or a crash',
    )
    .option('--campaign <id>', 'campaign id (default: derived from the file path, so the same file resumes)')
    .option('--dnc <file>', 'do-not-call list (one number per line), in addition to DNC_FILE')
    .option('--columns <map>', 'which headers hold the contact, e.g. phone=Mobile,name=first_name+last_name')
    .option('--max-concurrent <n>', 'calls in flight at once (default CAMPAIGN_MAX_CONCURRENT)')
    .option('--cps <n>', 'calls started per second, 0 = unlimited (default CAMPAIGN_CPS)')
    .option('--window <HH:MM-HH:MM>', "calling hours in each contact's local time (default CALLING_WINDOW)")
    .option('--max-attempts <n>', 'dial attempts per contact (default RETRY_MAX_ATTEMPTS)')
    .option(
      '--exit-when-parked',
      'exit (code 0) when the only contacts left wait for their calling window or a retry, instead of waiting; run again later',
    )
    .option('--json', 'print one JSON object as the last line')
    .action(async (file: string, opts: RunFlags) => {
      try {
        await runCampaign(file, opts);
      } catch (err) {
        fail(err, opts);
      }
    });

  campaign
    .command('status <id>')
    .description('counts by outcome, attempts, calls in flight, bad rows')
    .option('--bad-rows', 'also list every bad row of the CSV with its line and reason')
    .option('--json', 'print one JSON object as the last line')
    .action(async (id: string, opts: { json?: boolean; badRows?: boolean }) => {
      try {
        const config = loadConfig();
        const store = await openStore(storeTarget(config));
        const campaigns = campaignsOf(store);
        await requireCampaign(campaigns, id);
        const stats = await campaigns.stats(id);
        const bad = opts.badRows ? await campaigns.badRows(id) : undefined;
        const changes = await campaigns.importChanges(id);
        await store.close();
        const result = { ok: true, ...stats, nextAt: iso(stats.nextAt), changes, ...(bad ? { badRowList: bad } : {}) };
        report(result, opts, () =>
          [
            statusText(stats),
            ...changesText(changes),
            ...(bad ? ['', table(['line', 'reason'], bad.map((b) => [b.line, b.reason]))] : []),
          ].join('\n'),
        );
      } catch (err) {
        fail(err, opts);
      }
    });

  campaign
    .command('export <id>')
    .description('CSV of results: contact, number, attempts, final outcome, result (stdout, or --out)')
    .option('--out <file>', 'write the CSV to this file instead of stdout')
    .action(async (id: string, opts: { out?: string }) => {
      try {
        const config = loadConfig();
        const store = await openStore(storeTarget(config));
        const campaigns = campaignsOf(store);
        await requireCampaign(campaigns, id);
        const out = opts.out ? createWriteStream(opts.out) : process.stdout;
        const write = async (line: string) => {
          if (!out.write(`${line}\n`)) await once(out, 'drain');
        };
        await write(EXPORT_COLUMNS.join(','));
        let n = 0;
        for await (const row of campaigns.exportRows(id)) {
          await write(exportLine(row));
          n++;
        }
        await store.close();
        if (opts.out) {
          out.end();
          await once(out, 'finish');
          process.stderr.write(`wrote ${n} contacts to ${opts.out}\n`);
        }
      } catch (err) {
        fail(err);
      }
    });
}

/** What the latest import of an edited file changed, for people. */
function changesText(c: ImportChanges): string[] {
  if (c.pass === null) return [];
  const parts = [
    c.removed ? `${c.removed} removed (cancelled)` : '',
    c.numberChanged ? `${c.numberChanged} number${c.numberChanged === 1 ? '' : 's'} changed` : '',
    c.restored ? `${c.restored} restored` : '',
  ].filter(Boolean);
  const rows = c.items.map((x) => [x.line, x.contactId, x.kind.replace('_', ' '), x.oldPhone ?? '', x.newPhone ?? '', x.stateBefore]);
  return ['', `last import changed: ${parts.join(', ')}`, table(['line', 'contact', 'change', 'old number', 'new number', 'was'], rows)];
}

function statusText(s: CampaignStats): string {
  const outcomes = Object.entries(s.byOutcome).sort((a, b) => b[1] - a[1]);
  const lines = [
    `campaign ${s.campaignId}: ${s.contacts} contacts, ${s.done} done, ${s.inFlight} in flight, ${s.pending} pending` +
      (s.excluded ? `, ${s.excluded} excluded (do-not-call)` : ''),
    `attempts ${s.attempts}, bad rows ${s.badRows}` + (s.pending > 0 && s.nextAt ? `, next call due ${local(s.nextAt)}` : ''),
  ];
  if (outcomes.length > 0) lines.push('', table(['final outcome', 'contacts'], outcomes));
  const attempts = Object.entries(s.attemptsByOutcome).sort((a, b) => b[1] - a[1]);
  if (attempts.length > 0) lines.push('', table(['attempt outcome', 'attempts'], attempts));
  return lines.join('\n');
}

async function runCampaign(file: string, opts: RunFlags): Promise<void> {
  if (opts.campaign !== undefined && !isValidId(opts.campaign)) {
    throw new UsageError(`--campaign: ${JSON.stringify(opts.campaign)} — use letters, digits, _ and - (at most 80, starting with a letter or digit)`);
  }
  const config = loadConfig();
  let settings;
  try {
    settings = campaignSettings(config, {
      maxConcurrent: intFlag('--max-concurrent', opts.maxConcurrent, 1),
      cps: intFlag('--cps', opts.cps, 0),
      window: opts.window,
      maxAttempts: intFlag('--max-attempts', opts.maxAttempts, 1),
    });
  } catch (err) {
    throw err instanceof UsageError ? err : new UsageError((err as Error).message);
  }
  const columns = opts.columns === undefined ? undefined : parseColumnMap(opts.columns);
  for (const warning of configWarnings(config)) process.stderr.write(`warning: ${warning}\n`);
  const campaignId = opts.campaign ?? campaignIdFromFile(file);
  const dncFiles = [config.DNC_FILE, opts.dnc].filter((f): f is string => !!f);
  const dnc = dncFiles.length > 0 ? await loadDnc(dncFiles, config.DEFAULT_REGION) : EMPTY_DNC;
  const store = await openStore(storeTarget(config));
  const campaigns = campaignsOf(store);
  const log = (line: string) => process.stderr.write(`${line}\n`);

  log(`campaign ${campaignId}: importing ${file}${dnc.size ? ` (do-not-call list: ${dnc.size} number${dnc.size === 1 ? '' : 's'})` : ''}`);
  let shown = 0;
  const samples: { line: number; reason: string }[] = [];
  const imported: ImportSummary = await importContacts(campaigns, {
    campaignId,
    file,
    defaultRegion: config.DEFAULT_REGION,
    allowedCountries: config.ALLOWED_COUNTRIES,
    ...(columns ? { columns } : {}),
    dnc,
    now: Date.now,
    onBadRow: (b) => {
      if (samples.length < 20) samples.push(b);
      if (shown++ < 1000) log(`  line ${b.line}: ${b.reason}`);
      else if (shown === 1001) log(`  … more bad rows: campaign status ${campaignId} --bad-rows lists them all`);
    },
  });
  if (!imported.read) log(`  ${file} unchanged since the last import; resuming`);
  else {
    log(
      `  ${imported.rows} rows: ${imported.added} new contacts, ${imported.alreadyImported} already imported, ` +
        `${imported.badRows} bad rows` + (imported.excluded ? `, ${imported.excluded} excluded (do-not-call)` : '') +
        (imported.changed ? `, ${imported.changed} number${imported.changed === 1 ? '' : 's'} changed` : '') +
        (imported.removed ? `, ${imported.removed} no longer in the file (cancelled)` : '') +
        (imported.restored ? `, ${imported.restored} back in the file` : ''),
    );
  }

  const before = await campaigns.progress(campaignId);
  const total = before.pending + before.dispatching + before.dispatched + before.done + before.excluded;
  const progress = new Progress(total, `campaign ${campaignId}`, process.stderr, Math.max(1, Math.min(100, Math.ceil(total / 20))));
  const stop = new AbortController();
  const onSignal = () => {
    log('stopping: no new calls; calls in flight are collected by the next run');
    stop.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const onEvent = (e: DispatcherEvent) => {
    switch (e.type) {
      case 'progress': {
        const p = e.progress;
        progress.update(p.done + p.excluded, `in flight ${p.dispatching + p.dispatched}, pending ${p.pending}`);
        break;
      }
      case 'parked':
        log(`${e.contacts} contact(s) wait for their calling window (${settings.window.toString()} local) or a retry; next at ${local(e.until)}. Waiting — Ctrl-C to stop, run the same command again to resume.`);
        break;
      case 'recovered':
        log(`recovered ${e.room}: the ${e.found === 'dispatch' ? 'dispatch' : 'call record'} already existed, not dialled again`);
        break;
      case 'dispatched':
        if (e.redispatch) log(`redispatched ${e.room}: the earlier run stopped before CreateDispatch`);
        break;
      case 'dispatch_error':
        log(`dispatch of ${e.room} failed: ${e.error} (will check and retry)`);
        break;
      default:
        break;
    }
  };
  const dispatcher = new Dispatcher({
    campaignId,
    store: campaigns,
    calls: store.calls,
    sink: livekitDispatchSink(config),
    ...settings,
    dnc,
    dialPolicy: { defaultRegion: config.DEFAULT_REGION, allowedCountries: config.ALLOWED_COUNTRIES },
    exitWhenParked: opts.exitWhenParked === true,
    signal: stop.signal,
    onEvent,
  });
  let run: RunResult;
  try {
    run = await dispatcher.run();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const stats = await campaigns.stats(campaignId);
  await store.close();
  const result = {
    ok: true,
    complete: run.complete,
    reason: run.reason,
    resumesAt: iso(run.resumesAt),
    import: imported,
    badRowSamples: samples,
    ...stats,
    nextAt: iso(stats.nextAt),
    thisRun: { dispatched: run.dispatched, redispatched: run.redispatched, recovered: run.recovered, outcomes: run.outcomes },
  };
  if (run.reason === 'stopped') process.exitCode = 130;
  report(result, opts, () => {
    const head =
      run.reason === 'complete'
        ? `campaign ${campaignId} complete: every contact has a final outcome.`
        : run.reason === 'parked'
          ? `campaign ${campaignId} paused: ${stats.pending} contact(s) wait for their calling window or a retry; ` +
            `the first at ${local(run.resumesAt!)}. Run the same command again then.`
          : `campaign ${campaignId} stopped; run the same command again to resume.`;
    return `${head}\n${statusText(stats)}`;
  });
}
