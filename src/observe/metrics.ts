/**
 * The worker's Prometheus metrics: what is measured, and the one registry `/metrics` serves.
 *
 * Calls run in call host processes (src/host/), but Prometheus scrapes one endpoint, the worker's.
 * So nothing outside this file touches prom-client: code that measures something calls
 * `recordMetric` with a plain `MetricOp`, and the process decides where it goes. In the worker (and
 * in a simulation) it is applied to this process's registry; in a call host it is forwarded over
 * the host's IPC channel and applied by the worker (hostPool.ts). Forwarding increments, rather
 * than scraping each host and summing, keeps counters monotonic when a host is retired or dies:
 * what a host counted stays counted. Gauges are different: a host's contribution to a gauge (the
 * calls it was running) goes with it when it exits (`forgetSource`).
 *
 * Labels are bounded by construction: directions, outcome kinds, provider kinds and names from
 * config, stages, verdict categories. Never a call id, a room, a number or free text.
 */
import { log } from '@livekit/agents';
import client from 'prom-client';

type LabelValues = Record<string, string>;

// Time to first audio is judged against an 800 ms budget and "robotic" past 600–700 ms, so the
// buckets are dense there (see src/report/budgets.ts for the sources).
const FIRST_AUDIO_BUCKETS = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1, 1.25, 1.5, 2, 3, 5];
const STAGE_BUCKETS = [0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2, 3];

/** Every metric: its name (without the `switchboard_` prefix), help and label names. */
const COUNTERS = {
  calls_started: { help: 'Calls started', labels: ['direction'] },
  calls_ended: { help: 'Calls ended, by how they ended', labels: ['direction', 'outcome'] },
  interruptions: { help: 'Agent speech interrupted by the caller', labels: [] },
  provider_errors: { help: 'Errors reported by an STT, LLM or TTS provider', labels: ['kind', 'provider', 'recoverable'] },
  provider_fallbacks: { help: 'A provider marked unavailable, so its FallbackAdapter moved on', labels: ['kind', 'provider'] },
  stt_restarts: { help: 'STT streams replaced because the caller was not being heard', labels: [] },
  audio_underruns: { help: 'Gaps in agent audio output (measured where the call I/O can see them)', labels: [] },
  transfers: { help: 'Transfer attempts, by mode and result', labels: ['mode', 'result'] },
  amd_verdicts: { help: 'Answering machine detection verdicts on outbound calls', labels: ['category'] },
  room_deletions: { help: 'Room deletions at the end of calls, by result', labels: ['result'] },
  tool_calls: { help: 'Tool calls made by the agents', labels: ['tool', 'result'] },
} as const satisfies Record<string, { help: string; labels: readonly string[] }>;

const HISTOGRAMS = {
  time_to_first_audio_seconds: {
    help: 'From the caller stopping speaking to the first agent audio leaving the worker, per turn',
    labels: ['direction'],
    buckets: FIRST_AUDIO_BUCKETS,
  },
  turn_stage_seconds: {
    help: 'Per turn: STT final and end of utterance (after the caller stopped), LLM time to first token and TTS time to first byte (the providers\' own)',
    labels: ['stage'],
    buckets: STAGE_BUCKETS,
  },
} as const satisfies Record<string, { help: string; labels: readonly string[]; buckets: number[] }>;

const GAUGES = {
  calls_active: { help: 'Calls in progress', labels: ['direction'] },
} as const satisfies Record<string, { help: string; labels: readonly string[] }>;

export type CounterName = keyof typeof COUNTERS;
export type HistogramName = keyof typeof HISTOGRAMS;
export type GaugeName = keyof typeof GAUGES;
export type TurnStage = 'stt_final' | 'end_of_utterance' | 'llm_ttft' | 'tts_ttfb';

/** One measurement, as plain JSON: it crosses the call host IPC as it is. */
export type MetricOp =
  | { kind: 'count'; name: CounterName; labels?: LabelValues; by?: number }
  | { kind: 'observe'; name: HistogramName; labels?: LabelValues; value: number }
  | { kind: 'gauge'; name: GaugeName; labels?: LabelValues; by: number };

/** What the worker knows about its call hosts at scrape time. */
export interface HostStats {
  hosts: number;
  /** Resident memory of each host at its last report. */
  rssBytes: number[];
}

export class MetricsRegistry {
  readonly registry = new client.Registry();
  private readonly counters = new Map<string, client.Counter>();
  private readonly histograms = new Map<string, client.Histogram>();
  private readonly gauges = new Map<string, client.Gauge>();
  /** Per source (a call host), what it added to each gauge series, to take back when it exits. */
  private readonly contributions = new Map<string, Map<string, { name: GaugeName; labels: LabelValues; sum: number }>>();
  /** Sources already forgotten: a gauge op of theirs still in flight must not bring them back. */
  private readonly gone = new Set<string>();
  private hostStats: (() => HostStats) | undefined;

  constructor() {
    for (const [name, d] of Object.entries(COUNTERS)) {
      this.counters.set(name, new client.Counter({ name: `switchboard_${name}_total`, help: d.help, labelNames: [...d.labels], registers: [this.registry] }));
    }
    for (const [name, d] of Object.entries(HISTOGRAMS)) {
      this.histograms.set(name, new client.Histogram({ name: `switchboard_${name}`, help: d.help, labelNames: [...d.labels], buckets: [...d.buckets], registers: [this.registry] }));
    }
    for (const [name, d] of Object.entries(GAUGES)) {
      this.gauges.set(name, new client.Gauge({ name: `switchboard_${name}`, help: d.help, labelNames: [...d.labels], registers: [this.registry] }));
    }
    // Series that exist from the first scrape, at 0: a query or an alert on them needs no `or vector(0)`.
    for (const direction of ['inbound', 'outbound', 'browser']) {
      this.metric(this.gauges, 'calls_active').set({ direction }, 0);
      this.metric(this.counters, 'calls_started').inc({ direction }, 0);
    }
    const stats = () => this.hostStats?.() ?? { hosts: 0, rssBytes: [] };
    new client.Gauge({
      name: 'switchboard_call_hosts',
      help: 'Call host processes running (src/host/)',
      registers: [this.registry],
      collect() {
        this.set(stats().hosts);
      },
    });
    new client.Gauge({
      name: 'switchboard_call_host_resident_memory_bytes',
      help: 'Resident memory of the call hosts at their last report: the largest one, and all of them together',
      labelNames: ['aggregate'],
      registers: [this.registry],
      collect() {
        const rss = stats().rssBytes;
        this.set({ aggregate: 'max' }, rss.length ? Math.max(...rss) : 0);
        this.set({ aggregate: 'sum' }, rss.reduce((a, b) => a + b, 0));
      },
    });
  }

  /** Adds prom-client's own process figures (CPU, memory, event loop lag) of this process. */
  collectProcessMetrics(): void {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'switchboard_worker_' });
  }

  /** Where the host figures come from (the worker's HostPool). */
  watchHosts(stats: () => HostStats): void {
    this.hostStats = stats;
  }

  /** Applies one measurement; `source` names the call host it came from, if any. */
  apply(op: MetricOp, source?: string): void {
    const labels = op.labels ?? {};
    switch (op.kind) {
      case 'count':
        return this.metric(this.counters, op.name).inc(labels, op.by ?? 1);
      case 'observe':
        return this.metric(this.histograms, op.name).observe(labels, op.value);
      case 'gauge': {
        if (source !== undefined && this.gone.has(source)) return;
        this.metric(this.gauges, op.name).inc(labels, op.by);
        if (source === undefined) return;
        const mine = this.contributions.get(source) ?? new Map();
        this.contributions.set(source, mine);
        const key = `${op.name}${JSON.stringify(labels)}`;
        const c = mine.get(key) ?? { name: op.name, labels, sum: 0 };
        c.sum += op.by;
        mine.set(key, c);
        return;
      }
    }
  }

  /** A call host exited: the calls it was running are no longer in progress. */
  forgetSource(source: string): void {
    for (const c of this.contributions.get(source)?.values() ?? []) {
      if (c.sum !== 0) this.metric(this.gauges, c.name).inc(c.labels, -c.sum);
    }
    this.contributions.delete(source);
    this.gone.add(source);
  }

  /** The text exposition format, for a scrape. */
  exposition(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private metric<M>(map: Map<string, M>, name: string): M {
    const m = map.get(name);
    if (!m) throw new Error(`unknown metric ${name}`);
    return m;
  }
}

let local: MetricsRegistry | undefined;

/** This process's registry (created on first use). */
export function processMetrics(): MetricsRegistry {
  return (local ??= new MetricsRegistry());
}

type Sink = (op: MetricOp) => void;
let sink: Sink = (op) => processMetrics().apply(op);

/** Measurements go to this process's registry (the default; undoes `forwardMetrics`). */
export function recordLocally(): void {
  sink = (op) => processMetrics().apply(op);
}

/** Records one measurement. A metric never fails a call: a bad op is logged and dropped. */
export function recordMetric(op: MetricOp): void {
  try {
    sink(op);
  } catch (err) {
    log().debug({ metric: op.name, error: (err as Error).message }, 'metric not recorded');
  }
}

/**
 * In a call host: measurements go to the worker instead of a registry nobody scrapes. They are
 * batched per turn of the event loop (a turn of a call records a handful at once).
 */
export function forwardMetrics(send: (ops: MetricOp[]) => void): { flush: () => void } {
  let pending: MetricOp[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending.length === 0) return;
    const ops = pending;
    pending = [];
    send(ops);
  };
  sink = (op) => {
    pending.push(op);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
  return { flush };
}

/** A measurement's labels must all be strings; this makes one from what a call knows. */
export function labelValue(v: string | number | boolean | null | undefined): string {
  return v === null || v === undefined ? 'none' : String(v);
}
