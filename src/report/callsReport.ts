/**
 * `switchboard report`'s figures, from call records alone: how many calls, how they ended, how
 * long callers waited for the agent (per turn stage, against the published budgets), what calls
 * cost, transfers, and errors by kind. Pure: the CLI reads the records (through the store) and
 * renders the result.
 *
 * Percentiles pool the turns of every call in the set (a call of 20 turns weighs 20 times a call
 * of one): what a caller waits is a turn's wait, whichever call it was in.
 */
import { TURN_STAGES, type TurnLatency, type TurnStageKey, percentile } from '../call/latency.js';
import type { CallRecord, OutcomeKind } from '../store/index.js';
import { ROBOTIC_GAP_MS, STAGE_BUDGETS } from './budgets.js';

export interface StageFigures {
  stage: TurnStageKey;
  turns: number;
  p50: number | null;
  p95: number | null;
  budgetMs: number | null;
  budgetSource: string | null;
  /** The stage's p95 is over its budget. */
  overBudget: boolean;
}

export interface CallsReport {
  calls: { total: number; finished: number; inProgress: number };
  /** Finished calls by outcome, most frequent first; `share` of finished calls. */
  outcomes: Array<{ outcome: OutcomeKind; calls: number; share: number }>;
  /** Completed (the agent finished the conversation) over finished calls; null without any. */
  completionRate: number | null;
  latency: { stages: StageFigures[]; roboticGapMs: number; roboticGapSource: string };
  cost: { pricedCalls: number; totalUsd: number; perCallUsd: number | null; perResolvedCallUsd: number | null };
  transfers: { requested: number; transferred: number };
  /** Calls that ended in an error, by what broke; tool calls that failed, by tool. */
  errors: { calls: Array<{ kind: string; calls: number }>; tools: Array<{ tool: string; failures: number }> };
}

/** What broke, from an error outcome's message: `llm_error: …` → `llm_error`. */
export function errorKind(message: string): string {
  const prefix = /^([a-z]+_error)\b/.exec(message);
  if (prefix) return prefix[1]!;
  if (/^call host \d+ exited/.test(message)) return 'process_lost';
  if (/metadata|job/i.test(message)) return 'bad_job';
  return 'other';
}

function counted<K extends string>(keys: K[]): Array<[K, number]> {
  const m = new Map<K, number>();
  for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
  return [...m.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

function turnsOf(r: CallRecord): TurnLatency[] {
  const turns = (r.latency as { turns?: TurnLatency[] } | undefined)?.turns;
  return Array.isArray(turns) ? turns : [];
}

export function callsReport(records: CallRecord[]): CallsReport {
  const finished = records.filter((r) => r.finished && r.outcome);
  const outcomes = counted(finished.map((r) => r.outcome!.kind)).map(([outcome, calls]) => ({ outcome, calls, share: calls / finished.length }));
  const completed = finished.filter((r) => r.outcome!.kind === 'completed');

  const turns = finished.flatMap(turnsOf);
  const stages = TURN_STAGES.map((stage): StageFigures => {
    const values = turns.flatMap((t) => (typeof t[stage] === 'number' ? [t[stage] as number] : []));
    const budget = STAGE_BUDGETS[stage];
    const p95 = percentile(values, 95);
    return {
      stage,
      turns: values.length,
      p50: percentile(values, 50),
      p95,
      budgetMs: budget?.ms ?? null,
      budgetSource: budget?.source ?? null,
      overBudget: budget !== undefined && p95 !== null && p95 > budget.ms,
    };
  });

  const costOf = (r: CallRecord) => (r.cost as { totalUsd?: unknown } | undefined)?.totalUsd;
  const priced = finished.filter((r) => typeof costOf(r) === 'number');
  const totalUsd = priced.reduce((a, r) => a + (costOf(r) as number), 0);

  const errorCalls = finished.flatMap((r) => (r.outcome!.kind === 'error' ? [errorKind(r.outcome!.error)] : []));
  const toolFailures = finished.flatMap((r) => (r.toolCalls ?? []).filter((t) => t.isError).map((t) => t.name));

  return {
    calls: { total: records.length, finished: finished.length, inProgress: records.length - finished.length },
    outcomes,
    completionRate: finished.length ? completed.length / finished.length : null,
    latency: { stages, roboticGapMs: ROBOTIC_GAP_MS.ms, roboticGapSource: ROBOTIC_GAP_MS.source },
    cost: {
      pricedCalls: priced.length,
      totalUsd,
      perCallUsd: priced.length ? totalUsd / priced.length : null,
      // Every priced call's cost, spread over the calls that got the caller what they called for.
      perResolvedCallUsd: completed.length && priced.length ? totalUsd / completed.length : null,
    },
    transfers: {
      requested: finished.reduce((a, r) => a + (r.toolCalls ?? []).filter((t) => t.name === 'transfer_to_person').length, 0),
      transferred: finished.filter((r) => r.outcome!.kind === 'transferred').length,
    },
    errors: {
      calls: counted(errorCalls).map(([kind, calls]) => ({ kind, calls })),
      tools: counted(toolFailures).map(([tool, failures]) => ({ tool, failures })),
    },
  };
}
