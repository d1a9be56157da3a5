/**
 * `switchboard calls list [--limit N] [--campaign ID | --all] [--json]` and
 * `switchboard calls show <id> [--json]`: the call records in the store, by default the calls
 * outside campaigns (hotline calls, browser tests, single `switchboard call`s; campaign calls
 * have `campaign status|export`). Read through the store interface only.
 */
import type { Command } from 'commander';
import { loadConfig, storeTarget } from '../config.js';
import { type CallRecord, openStore } from '../store/index.js';
import { named, parseStoreLocation } from '../store/location.js';
import { UsageError, fail, report, table } from './output.js';

/** What a person needs of a call at a glance; the JSON of `show` is the whole record. */
export interface CallSummary {
  id: string;
  direction: CallRecord['direction'];
  callerNumber: string | null;
  startedAt: string;
  endedAt: string | null;
  durationSeconds: number | null;
  /** Outcome kind; "in progress" for a record without an end (running, or lost to a crash). */
  outcome: string;
  campaignId: string | null;
  turns: number;
  /** Median time to first audio over the call's turns (ms). */
  firstAudioP50Ms: number | null;
  costUsd: number | null;
  recordingPath: string | null;
}

interface Latency {
  turns?: { turn: number; firstAudioMs: number | null; sttFinalMs: number | null; llmFirstTokenMs: number | null; ttsFirstByteMs: number | null }[];
  firstAudioMs?: { p50?: number | null; p95?: number | null };
}

export function summarise(r: CallRecord): CallSummary {
  const latency = (r.latency ?? {}) as Latency;
  const cost = r.cost as { totalUsd?: number } | null | undefined;
  return {
    id: r.id,
    direction: r.direction,
    callerNumber: r.callerNumber,
    startedAt: r.startedAt,
    endedAt: r.endedAt ?? null,
    durationSeconds: r.endedAt ? Math.round((Date.parse(r.endedAt) - Date.parse(r.startedAt)) / 100) / 10 : null,
    outcome: r.finished && r.outcome ? r.outcome.kind : 'in progress',
    campaignId: r.campaignId ?? null,
    turns: latency.turns?.length ?? 0,
    firstAudioP50Ms: latency.firstAudioMs?.p50 ?? null,
    costUsd: typeof cost?.totalUsd === 'number' ? cost.totalUsd : null,
    recordingPath: r.recordingPath ?? null,
  };
}

/** How many records to read to find `limit` calls outside campaigns (the interface filters by campaign only). */
const SCAN_FACTOR = 20;

const usd = (v: number | null) => (v === null ? '' : `$${v.toFixed(4)}`);
const ms = (v: number | null) => (v === null ? '' : `${Math.round(v)} ms`);

function outcomeText(r: CallRecord): string {
  const o = r.outcome;
  if (!r.finished || !o) return 'in progress (no end written: running, or lost to a crash)';
  const detail = 'error' in o ? `: ${o.error}` : 'to' in o ? ` to ${o.to}` : 'summary' in o && o.summary ? `: ${o.summary}` : 'messageLeft' in o ? (o.messageLeft ? ', message left' : ', no message') : '';
  return `${o.kind}${detail}`;
}

function renderShow(r: CallRecord): string {
  const s = summarise(r);
  const latency = (r.latency ?? {}) as Latency;
  const cost = r.cost as { totalUsd?: number; perMinuteUsd?: number | null; estimated?: boolean; notes?: string[] } | null | undefined;
  const lines = [
    `Call ${r.id} (${r.direction}${r.callerNumber ? `, ${r.callerNumber}` : ''})`,
    `Room       ${r.room}`,
    `Started    ${r.startedAt}`,
    `Ended      ${r.endedAt ?? '—'}${s.durationSeconds !== null ? ` (${s.durationSeconds} s)` : ''}`,
    `Outcome    ${outcomeText(r)}`,
    ...(r.campaignId ? [`Campaign   ${r.campaignId} (contact ${r.contactId ?? '?'})`] : []),
    ...(r.agents?.length ? [`Agents     ${r.agents.join(' → ')}`] : []),
    `Recording  ${r.recordingPath ?? 'none (RECORDING_DIR was unset)'}`,
    `Cost       ${cost?.totalUsd !== undefined ? `${usd(cost.totalUsd)}${cost.perMinuteUsd ? ` (${usd(cost.perMinuteUsd)}/min)` : ''}${cost.estimated ? ', estimated' : ''}` : 'not recorded'}`,
  ];
  for (const n of cost?.notes ?? []) lines.push(`           ${n}`);
  if (latency.turns?.length) {
    lines.push('', `Latency (first audio p50 ${ms(latency.firstAudioMs?.p50 ?? null)}, p95 ${ms(latency.firstAudioMs?.p95 ?? null)})`);
    lines.push(table(['TURN', 'STT FINAL', 'LLM FIRST TOKEN', 'TTS FIRST BYTE', 'FIRST AUDIO'], latency.turns.map((t) => [t.turn, ms(t.sttFinalMs), ms(t.llmFirstTokenMs), ms(t.ttsFirstByteMs), ms(t.firstAudioMs)])));
  }
  if (r.toolCalls?.length) {
    lines.push('', 'Tools');
    for (const t of r.toolCalls) lines.push(`  ${t.at}  ${t.name}(${JSON.stringify(t.args)})${t.isError ? '  [error]' : ''}`);
  }
  lines.push('', 'Transcript');
  if (!r.transcript?.length) lines.push('  (none)');
  for (const t of r.transcript ?? []) lines.push(`  ${t.at.slice(11, 19)}  ${t.role === 'agent' ? `agent${t.agent ? ` (${t.agent})` : ''}` : t.role}: ${t.text}`);
  return lines.join('\n');
}

export function register(program: Command): void {
  const calls = program.command('calls').description('call records in the store: outcome, transcript, latency, cost, recording');

  calls
    .command('list')
    .description('the latest calls, newest first (by default those outside campaigns)')
    .option('--limit <n>', 'how many calls to show (1-1000)', '20')
    .option('--campaign <id>', "only this campaign's calls")
    .option('--all', 'campaign calls too')
    .option('--json', 'print one JSON object as the last line')
    .action(async (opts: { limit: string; campaign?: string; all?: boolean; json?: boolean }) => {
      try {
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError(`--limit: ${JSON.stringify(opts.limit)} must be a whole number from 1 to 1000`);
        if (opts.campaign !== undefined && opts.all) throw new UsageError('--campaign and --all: give one or the other');
        const config = loadConfig();
        const store = await openStore(storeTarget(config));
        let records: CallRecord[];
        let scanned: number | null = null;
        try {
          if (opts.campaign !== undefined) records = await store.calls.list({ limit, campaignId: opts.campaign });
          else if (opts.all) records = await store.calls.list({ limit });
          else {
            scanned = limit * SCAN_FACTOR;
            const read = await store.calls.list({ limit: scanned });
            records = read.filter((r) => !r.campaignId).slice(0, limit);
            if (read.length < scanned) scanned = null;
          }
        } finally {
          await store.close();
        }
        const rows = records.map(summarise);
        const scope = opts.campaign !== undefined ? `campaign ${opts.campaign}` : opts.all ? 'all calls' : 'calls outside campaigns';
        // When the newest records were mostly campaign calls, older hotline calls lie past the scan.
        const more = scanned !== null && rows.length < limit ? `only the latest ${scanned} records were read; use --all or a larger --limit for older calls` : null;
        report({ ok: true, scope, calls: rows, ...(more ? { note: more } : {}) }, opts, () =>
          rows.length === 0
            ? `no ${scope} in ${named(parseStoreLocation(storeTarget(config)))}`
            : [
                table(
                  ['ID', 'STARTED', 'DIRECTION', 'NUMBER', 'OUTCOME', 'SECONDS', 'TURNS', 'FIRST AUDIO P50', 'COST', 'RECORDING'],
                  rows.map((c) => [c.id, c.startedAt, c.direction, c.callerNumber ?? '', c.outcome, c.durationSeconds ?? '', c.turns, ms(c.firstAudioP50Ms), usd(c.costUsd), c.recordingPath ? 'yes' : '']),
                ),
                ...(more ? ['', more] : []),
                '',
                '`switchboard calls show <id>` for the transcript, latency per turn, cost and recording.',
              ].join('\n'),
        );
      } catch (err) {
        fail(err, opts);
      }
    });

  calls
    .command('show')
    .description('one call: outcome, transcript, tool calls, latency per turn, cost, recording')
    .argument('<id>', 'call id (from `calls list`)')
    .option('--json', 'print one JSON object as the last line (the whole record)')
    .action(async (id: string, opts: { json?: boolean }) => {
      try {
        const config = loadConfig();
        const store = await openStore(storeTarget(config));
        let record: CallRecord | undefined;
        try {
          record = await store.calls.get(id);
        } finally {
          await store.close();
        }
        if (!record) throw new UsageError(`no call ${JSON.stringify(id)} in ${named(parseStoreLocation(storeTarget(config)))} — \`switchboard calls list\` shows the ids`);
        const found = record;
        report({ ok: true, call: found, summary: summarise(found) }, opts, () => renderShow(found));
      } catch (err) {
        fail(err, opts);
      }
    });
}
