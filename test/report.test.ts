/**
 * `switchboard report` over a store of known calls, through the real CLI: counts, completion
 * rate, pooled turn latency against the published budgets, cost per call and per resolved call,
 * transfers and errors by kind; `--since` and `--campaign` narrow it, bad input is named.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { parseSince } from '../src/cli/report.js';
import { errorKind } from '../src/report/callsReport.js';
import { STAGE_BUDGETS } from '../src/report/budgets.js';
import { type CallOutcome, type ToolCallRecord, openStore } from '../src/store/index.js';

const CLI = join(import.meta.dirname, '..', 'src', 'cli', 'main.js');
let storePath: string;

const turn = (firstAudioMs: number, llmTtftMs: number) => ({
  turn: 1, speechId: 's', callerStoppedAt: 0, sttFinalMs: 40, endpointingMs: 400, llmFirstTokenMs: 300, ttsFirstByteMs: 350, firstAudioMs, llmTtftMs, ttsTtfbMs: 100,
});

before(async () => {
  storePath = join(mkdtempSync(join(tmpdir(), 'sb-report-')), 'calls.db');
  const store = await openStore(`sqlite:${storePath}`);
  const calls: Array<{ id: string; at: string; outcome?: CallOutcome; usd?: number; turns?: ReturnType<typeof turn>[]; tools?: ToolCallRecord[]; campaign?: string }> = [
    { id: 'c1', at: '2026-11-20T10:00:00Z', outcome: { kind: 'completed' }, usd: 0.3, turns: [turn(500, 150), turn(600, 180)] },
    { id: 'c2', at: '2026-12-01T10:00:00Z', outcome: { kind: 'completed' }, usd: 0.1, turns: [turn(700, 190), turn(900, 260)] },
    { id: 'c3', at: '2026-12-01T11:00:00Z', outcome: { kind: 'transferred', to: 'tel:+15550009999' }, usd: 0.05, turns: [turn(2000, 190)],
      tools: [{ name: 'transfer_to_person', args: {}, isError: false, at: '2026-12-01T11:00:30Z' }] },
    { id: 'c4', at: '2026-12-01T12:00:00Z', outcome: { kind: 'error', error: 'llm_error: 500 upstream' }, usd: 0.05,
      tools: [{ name: 'check_availability', args: {}, isError: true, at: '2026-12-01T12:00:10Z' }] },
    { id: 'c5', at: '2026-12-01T13:00:00Z', outcome: { kind: 'error', error: 'call host 4242 exited (code 1) during the call' } },
    { id: 'c6', at: '2026-12-01T14:00:00Z', outcome: { kind: 'no_answer', sipStatus: 480 }, campaign: 'spring' },
    { id: 'c7', at: '2026-12-01T15:00:00Z', campaign: 'spring' }, // still in progress
  ];
  for (const c of calls) {
    await store.calls.start({ id: c.id, room: `room-${c.id}`, direction: 'inbound', callerNumber: '+15550001111', startedAt: c.at, campaignId: c.campaign ?? null });
    if (!c.outcome) continue;
    await store.calls.finish(c.id, {
      endedAt: c.at, outcome: c.outcome, agents: [], toolCalls: c.tools ?? [], userdata: null, transcript: [],
      ...(c.turns ? { latency: { turns: c.turns, firstAudioMs: { p50: null, p95: null } } } : {}),
      ...(c.usd !== undefined ? { cost: { totalUsd: c.usd, perMinuteUsd: null, breakdown: {}, estimated: false, notes: [] } } : {}),
    });
  }
  await store.close();
});

function report(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, 'report', ...args], { env: { ...process.env, STORE_URL: `sqlite:${storePath}` }, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, json: () => JSON.parse(r.stdout.trim().split('\n').at(-1)!) };
}

describe('switchboard report', () => {
  it('reports every call in the store as one JSON object', () => {
    const r = report('--json');
    assert.equal(r.code, 0, r.stderr);
    const j = r.json();
    assert.deepEqual(j.calls, { total: 7, finished: 6, inProgress: 1 });
    assert.deepEqual(j.outcomes.map((o: { outcome: string; calls: number }) => [o.outcome, o.calls]), [['completed', 2], ['error', 2], ['no_answer', 1], ['transferred', 1]]);
    assert.equal(j.completionRate, 2 / 6);
    const stage = (name: string) => j.latency.stages.find((s: { stage: string }) => s.stage === name);
    // Five turns pooled over three calls: 500 600 700 900 2000.
    assert.deepEqual([stage('firstAudioMs').turns, stage('firstAudioMs').p50, stage('firstAudioMs').p95], [5, 700, 2000]);
    assert.equal(stage('firstAudioMs').budgetMs, 800);
    assert.equal(stage('firstAudioMs').overBudget, true);
    assert.equal(stage('llmTtftMs').p95, 260);
    assert.equal(stage('llmTtftMs').overBudget, true);
    assert.equal(stage('sttFinalMs').overBudget, false);
    assert.equal(stage('endpointingMs').budgetMs, null, 'no published budget, none made up');
    assert.equal(j.cost.pricedCalls, 4);
    assert.ok(Math.abs(j.cost.totalUsd - 0.5) < 1e-9);
    assert.ok(Math.abs(j.cost.perCallUsd - 0.125) < 1e-9);
    assert.ok(Math.abs(j.cost.perResolvedCallUsd - 0.25) < 1e-9);
    assert.deepEqual(j.transfers, { requested: 1, transferred: 1 });
    assert.deepEqual(j.errors.calls, [{ kind: 'llm_error', calls: 1 }, { kind: 'process_lost', calls: 1 }]);
    assert.deepEqual(j.errors.tools, [{ tool: 'check_availability', failures: 1 }]);
  });

  it('narrows to --since and --campaign', () => {
    const since = report('--since', '2026-12-01', '--json').json();
    assert.equal(since.calls.total, 6);
    assert.equal(since.since, '2026-12-01T00:00:00.000Z');
    assert.equal(since.outcomes.find((o: { outcome: string }) => o.outcome === 'completed').calls, 1);
    const campaign = report('--campaign', 'spring', '--json').json();
    assert.deepEqual(campaign.calls, { total: 2, finished: 1, inProgress: 1 });
    assert.equal(campaign.completionRate, 0);
    assert.equal(campaign.cost.perResolvedCallUsd, null);
  });

  it('prints tables with bars for people, and flags the stages over budget', () => {
    const r = report();
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Calls \(all campaigns and inbound, all time\): 7 — 6 finished, 1 in progress/m);
    assert.match(r.stdout, /^completed\s+2\s+33\.3%\s+█{10}·{20}$/m);
    assert.match(r.stdout, /^first audio \(what callers wait\)\s+5\s+700\s+2000\s+800\s+OVER BUDGET$/m);
    assert.match(r.stdout, /^STT final\s+5\s+40\s+40\s+150$/m);
    assert.match(r.stdout, /Case study with a budget/);
    assert.match(r.stdout, /^per resolved \(completed\) call\s+\$0\.2500$/m);
  });

  it('names a bad --since and exits 2', () => {
    const r = report('--since', 'last tuesday', '--json');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--since: "last tuesday" is neither an ISO date\/time/);
    assert.equal(r.json().ok, false);
  });

  it('reads ages and dates for --since, and sorts errors into kinds', () => {
    const now = Date.parse('2026-12-02T12:00:00Z');
    assert.equal(parseSince('24h', now).toISOString(), '2026-12-01T12:00:00.000Z');
    assert.equal(parseSince('2w', now).toISOString(), '2026-11-18T12:00:00.000Z');
    assert.equal(parseSince('2026-11-30T08:00Z', now).toISOString(), '2026-11-30T08:00:00.000Z');
    assert.equal(errorKind('tts_error: socket closed'), 'tts_error');
    assert.equal(errorKind('stt_error: the caller spoke and no transcript came'), 'stt_error');
    assert.equal(errorKind('something odd'), 'other');
    for (const b of Object.values(STAGE_BUDGETS)) assert.match(b!.source, /reference notes/);
  });
});
