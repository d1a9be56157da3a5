/**
 * `switchboard report [--since <when>] [--campaign <id>] [--json]`: how the calls in the store
 * went. For people: tables, with bars for the shares; `--json`: one JSON object, last line.
 * The figures are computed in src/report/callsReport.ts; this module reads and renders.
 */
import type { Command } from 'commander';
import { DateTime } from 'luxon';
import { loadConfig, storeTarget } from '../config.js';
import { type CallsReport, callsReport } from '../report/callsReport.js';
import { type CallRecord, openStore } from '../store/index.js';
import { UsageError, fail, report, table } from './output.js';

interface Flags {
  since?: string;
  campaign?: string;
  json?: boolean;
}

/** Enough for any one store's history; a report that reaches it says so. */
const MAX_CALLS = 1_000_000;

/** `--since`: an ISO date or time (`2026-11-30`, `2026-11-30T08:00Z`), or an age (`90m`, `24h`, `7d`, `2w`). */
export function parseSince(value: string, now = Date.now()): Date {
  const age = /^(\d+)\s*([mhdw])$/.exec(value.trim());
  if (age) {
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[age[2] as 'm' | 'h' | 'd' | 'w'];
    return new Date(now - Number(age[1]) * unit);
  }
  const t = DateTime.fromISO(value.trim(), { zone: 'utc' });
  if (!t.isValid) throw new UsageError(`--since: ${JSON.stringify(value)} is neither an ISO date/time (2026-11-30, 2026-11-30T08:00Z) nor an age (90m, 24h, 7d, 2w)`);
  return t.toJSDate();
}

export function register(program: Command): void {
  program
    .command('report')
    .description('calls, outcomes, time to first audio against its budget, cost per call and per resolved call, transfers, errors')
    .option('--since <when>', 'only calls started at or after this (ISO date/time, or an age: 24h, 7d)')
    .option('--campaign <id>', 'only the calls of this campaign')
    .option('--json', 'print one JSON object as the last line')
    .action(async (opts: Flags) => {
      try {
        const since = opts.since === undefined ? null : parseSince(opts.since);
        const store = await openStore(storeTarget(loadConfig()));
        let records: CallRecord[];
        try {
          // Both filters in the query: the cap then counts only the calls the report is about.
          records = await store.calls.list({
            limit: MAX_CALLS,
            ...(opts.campaign ? { campaignId: opts.campaign } : {}),
            ...(since ? { since: since.toISOString() } : {}),
          });
        } finally {
          await store.close();
        }
        const truncated = records.length >= MAX_CALLS;
        const result = { ok: true, since: since?.toISOString() ?? null, campaign: opts.campaign ?? null, truncated, ...callsReport(records) };
        report(result, opts, () => render(result));
      } catch (err) {
        fail(err, opts);
      }
    });
}

const pct = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(1)}%`);
const ms = (x: number | null) => (x === null ? '-' : String(Math.round(x)));
const usd = (x: number | null) => (x === null ? '-' : `$${x.toFixed(4)}`);
const bar = (share: number, width = 30) => '█'.repeat(Math.round(share * width)).padEnd(width, '·');

const STAGE_NAMES: Record<string, string> = {
  firstAudioMs: 'first audio (what callers wait)',
  sttFinalMs: 'STT final',
  endpointingMs: 'end of utterance',
  llmFirstTokenMs: 'LLM first token (from speech end)',
  ttsFirstByteMs: 'TTS first byte (from speech end)',
  llmTtftMs: 'LLM time to first token',
  ttsTtfbMs: 'TTS time to first byte',
};

export function render(r: CallsReport & { since: string | null; campaign: string | null; truncated: boolean }): string {
  const scope = [r.campaign ? `campaign ${r.campaign}` : 'all campaigns and inbound', r.since ? `since ${r.since}` : 'all time'].join(', ');
  const out: string[] = [`Calls (${scope}): ${r.calls.total} — ${r.calls.finished} finished, ${r.calls.inProgress} in progress or lost`];
  if (r.truncated) out.push(`(only the latest ${MAX_CALLS} calls were read)`);
  if (r.calls.finished === 0) return out.join('\n');
  out.push('', `Outcomes (completion rate ${pct(r.completionRate)})`);
  out.push(table(['outcome', 'calls', 'share', ''], r.outcomes.map((o) => [o.outcome, o.calls, pct(o.share), bar(o.share)])));
  out.push('', 'Turn latency, ms (p95 over budget is flagged)');
  out.push(
    table(
      ['stage', 'turns', 'p50', 'p95', 'budget', ''],
      // What callers wait first, then the stages it is made of.
      [...r.latency.stages].sort((a, b) => Number(b.stage === 'firstAudioMs') - Number(a.stage === 'firstAudioMs')).map((s) => [STAGE_NAMES[s.stage] ?? s.stage, s.turns, ms(s.p50), ms(s.p95), ms(s.budgetMs), s.overBudget ? 'OVER BUDGET' : '']),
    ),
  );
  const budgeted = r.latency.stages.filter((s) => s.budgetSource);
  out.push(`budgets: ${[...new Set(budgeted.map((s) => s.budgetSource))].join('; ')}; callers hear a gap past ${r.latency.roboticGapMs} ms (${r.latency.roboticGapSource})`);
  out.push('', table(['cost', ''], [
    ['priced calls', r.cost.pricedCalls],
    ['total', usd(r.cost.totalUsd)],
    ['per call', usd(r.cost.perCallUsd)],
    ['per resolved (completed) call', usd(r.cost.perResolvedCallUsd)],
  ]));
  out.push('', `Transfers: ${r.transfers.requested} requested, ${r.transfers.transferred} calls handed to a person`);
  if (r.errors.calls.length || r.errors.tools.length) {
    const errored = r.errors.calls.reduce((a, e) => a + e.calls, 0);
    out.push('', 'Errors');
    out.push(table(['kind', 'count', ''], [
      ...r.errors.calls.map((e) => [`call: ${e.kind}`, e.calls, bar(e.calls / Math.max(1, errored), 20)]),
      ...r.errors.tools.map((t) => [`tool: ${t.tool}`, t.failures, '']),
    ]));
  }
  return out.join('\n');
}
