/**
 * Debian's real Prometheus server scrapes the worker's /metrics while a simulated call runs in a
 * call host (the production executor, src/host/), then answers queries over its HTTP API. This is
 * the whole path: measured in the host, forwarded over the host IPC, served by the worker,
 * scraped, stored and queried by Prometheus.
 *
 * Needs /usr/bin/prometheus (`apt-get install prometheus`); run with `npm run test:e2e` (or
 * `node --test dist/test/e2e/prometheus.test.js`).
 */
import '../helpers/logger.js';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RunningJobInfo } from '@livekit/agents';
import { Job, Room } from '@livekit/protocol';
import { HostPool } from '../../src/host/hostPool.js';
import { processMetrics } from '../../src/observe/metrics.js';
import { startMetricsServer } from '../../src/observe/metricsServer.js';
import { freeTcpPort } from '../../src/stack/processes.js';
import type { CallRecord } from '../../src/store/index.js';

const PROMETHEUS = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';
const here = import.meta.dirname;
const agentModule = join(here, '..', 'fixtures', 'host', 'simulatedCallAgent.js');
const scenario = join(here, '..', '..', '..', 'scenarios', 'inbound-booking.yaml');

let prometheus: ChildProcess | undefined;
let promUrl = '';
let dir = '';
let pool: HostPool;
let metricsServer: Awaited<ReturnType<typeof startMetricsServer>>;

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** One instant query through Prometheus's HTTP API: the series' values, by their labels. */
async function query(promql: string): Promise<Array<{ metric: Record<string, string>; value: number }>> {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await res.json()) as { status: string; error?: string; data: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
  if (body.status !== 'success') throw new Error(`${promql}: ${body.error}`);
  return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
}

/** Waits until `promql` has exactly one series and `ok` holds for its value; returns the value. */
function scraped(promql: string, ok: (v: number) => boolean, ms?: number): Promise<number> {
  return until(`${promql} in Prometheus`, async () => {
    const r = await query(promql);
    return r.length === 1 && ok(r[0]!.value) ? r[0]!.value : undefined;
  }, ms);
}

before(async () => {
  assert.ok(existsSync(PROMETHEUS), `${PROMETHEUS} is missing: apt-get install -y prometheus (or set PROMETHEUS_BIN)`);
  dir = mkdtempSync(join(tmpdir(), 'sb-prom-'));
  pool = new HostPool({ agentModule, callsPerHost: 2, spreadAcross: 1, logger: { pretty: false, level: 'error' }, statsEveryMs: 500 });
  processMetrics().watchHosts(() => pool.stats());
  metricsServer = await startMetricsServer(0, '127.0.0.1');
  const promPort = await freeTcpPort();
  promUrl = `http://127.0.0.1:${promPort}`;
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'scrape_configs:',
      '  - job_name: switchboard',
      '    static_configs:',
      `      - targets: ['127.0.0.1:${metricsServer.port}']`,
      '',
    ].join('\n'),
  );
  prometheus = spawn(PROMETHEUS, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  prometheus.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  prometheus.once('exit', (code) => {
    if (code !== null && code !== 0) process.stderr.write(`prometheus exited with ${code}:\n${stderr}\n`);
  });
  await until('Prometheus to be ready', async () => ((await fetch(`${promUrl}/-/ready`)).ok ? true : undefined), 30_000);
}, { timeout: 60_000 });

after(async () => {
  if (prometheus && prometheus.exitCode === null) {
    const exited = new Promise((r) => prometheus!.once('exit', r));
    prometheus.kill('SIGTERM');
    await exited;
  }
  await pool?.close();
  metricsServer?.server.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function jobInfo(id: string): RunningJobInfo {
  return {
    acceptArguments: { name: 'agent', identity: 'agent', metadata: '' },
    job: new Job({ id, room: new Room({ name: `room-${id}` }), metadata: JSON.stringify({ scenario, speed: 1 }) }),
    url: 'ws://127.0.0.1:1',
    token: 'not-a-token',
    workerId: 'test-worker',
  };
}

describe('Prometheus scrapes the worker during a call', { timeout: 180_000 }, () => {
  it('sees the call in progress, then its outcome, latency, tools and room deletion, and keeps the counts after the host exits', async () => {
    const ended = new Promise<{ passed: boolean; record: CallRecord }>((resolve) => {
      pool.on('message', (_h, m) => {
        if ((m as { event?: string }).event === 'call-ended') resolve(m as { passed: boolean; record: CallRecord });
      });
    });
    const slot = await pool.reserve();
    const done = slot.launch(jobInfo('J1'));

    // During the call: Prometheus has scraped the target, one call in progress in one host.
    assert.equal(await scraped('up{job="switchboard"}', (v) => v === 1), 1);
    assert.equal(await scraped('switchboard_calls_active{direction="inbound"}', (v) => v === 1), 1);
    assert.equal(await scraped('switchboard_call_hosts', (v) => v === 1), 1);
    assert.ok((await scraped('switchboard_call_host_resident_memory_bytes{aggregate="max"}', (v) => v > 0)) > 50 * 1048576);

    const call = await ended;
    assert.equal((await done).error, undefined);
    assert.equal(call.passed, true);
    const heard = (call.record.latency as { turns: { firstAudioMs: number | null }[] }).turns.filter((t) => t.firstAudioMs !== null).length;

    // After it: what the host measured reached the worker and Prometheus.
    assert.equal(await scraped('switchboard_calls_ended_total{direction="inbound",outcome="completed"}', (v) => v === 1), 1);
    assert.equal(await scraped('switchboard_calls_active{direction="inbound"}', (v) => v === 0), 0);
    assert.equal(await scraped('switchboard_room_deletions_total{result="deleted"}', (v) => v === 1), 1);
    assert.equal(await scraped('switchboard_time_to_first_audio_seconds_count{direction="inbound"}', (v) => v === heard), heard);
    // transfer_to_desk, check_availability, book_appointment twice (read back, then booked), end_call.
    assert.equal(await scraped('sum(switchboard_tool_calls_total{result="ok"})', (v) => v === 5), 5);
    const p50 = await scraped('histogram_quantile(0.5, sum by (le) (switchboard_time_to_first_audio_seconds_bucket))', (v) => Number.isFinite(v));
    assert.ok(p50 > 0.2 && p50 < 5, `time to first audio p50 ${p50} s`);
    const stages = await query('sum by (stage) (switchboard_turn_stage_seconds_count)');
    assert.deepEqual(stages.map((s) => s.metric.stage).sort(), ['end_of_utterance', 'llm_ttft', 'stt_final'].concat(stages.some((s) => s.metric.stage === 'tts_ttfb') ? ['tts_ttfb'] : []).sort());
    // No call id or room became a label: one series per bounded label set.
    const series = await query('{__name__=~"switchboard_.+"}');
    for (const s of series) for (const v of Object.values(s.metric)) assert.ok(!v.includes('J1') && !v.includes(call.record.id), `${JSON.stringify(s.metric)}`);

    // The host goes away: the calls it counted stay counted (forwarded, not scraped from it).
    await pool.close();
    assert.equal(await scraped('switchboard_call_hosts', (v) => v === 0), 0);
    assert.equal(await scraped('switchboard_calls_started_total{direction="inbound"}', (v) => v === 1), 1);
  });
});
