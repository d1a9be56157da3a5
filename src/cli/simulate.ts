/**
 * `switchboard simulate [scenario...]`: whole phone calls on this machine, with no LiveKit server,
 * no phone number and no API keys. The sandbox stands in for every outside service; the call
 * itself runs the production code. With `--live` the STT, LLM and TTS are the real providers
 * (keys from the environment or `.env`), the caller's lines are voiced by the real TTS, and only
 * LiveKit's server API stays emulated.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { dispose } from '@livekit/rtc-node';
import type { Command } from 'commander';
import { loadConfig, readEnv, requireProviderKeys } from '../config.js';
import { describeCost, loadPriceTable } from '../cost/index.js';
import { LiveKitSandbox, Sandbox } from '../sandbox/sandbox.js';
import { loadVad } from '../session/sessionFactory.js';
import { CallerVoice } from '../simulate/callerVoice.js';
import { type Scenario, loadScenario } from '../simulate/scenario.js';
import { type SimEvent, type SimulationReport, simulateCall } from '../simulate/simulatedCall.js';
import { openStore } from '../store/index.js';
import { buildVersion } from '../observe/buildVersion.js';
import { flushTracing, installTracing } from '../observe/tracing.js';
import type { LatencySummary } from '../call/latency.js';
import type { CallCost } from '../cost/index.js';
import { UsageError, fail, report, table } from './output.js';
import { waterfall } from './waterfall.js';

export const DEFAULT_SCENARIO = 'scenarios/inbound-booking.yaml';

interface Options {
  json?: boolean;
  speed: string;
  store?: string;
  recordings: string;
  live?: boolean;
  callerVoice?: string;
}

function printEvent(t0: number, ev: SimEvent): void {
  const t = `${((ev.at - t0) / 1000).toFixed(2).padStart(6)}s`;
  switch (ev.type) {
    case 'caller':
      return void process.stdout.write(`${t}  caller   ${ev.text}\n`);
    case 'agent':
      return void process.stdout.write(`${t}  ${ev.agent.padEnd(8)} ${ev.text}\n`);
    case 'tool':
      return void process.stdout.write(`${t}  tool     ${ev.name}(${ev.args}) → ${ev.isError ? 'ERROR ' : ''}${ev.output.slice(0, 100)}\n`);
    case 'handoff':
      return void process.stdout.write(`${t}  handoff  → ${ev.to}\n`);
    case 'note':
      return void process.stdout.write(`${t}  ·        ${ev.text}\n`);
  }
}

function summary(r: SimulationReport): string {
  const lines = [
    '',
    `${r.passed ? 'PASS' : 'FAIL'}  ${r.scenario}`,
    table(
      ['', ''],
      [
        ['providers', r.providers === 'live' ? 'live (real STT, LLM and TTS: real latency, real cost)' : 'emulated (sandbox)'],
        ['agents', r.agents.join(' → ')],
        ['outcome', JSON.stringify(r.outcome)],
        ['room deleted', `${r.roomDeleted} (DeleteRoom calls: ${r.deleteRoomCalls})`],
        ['userdata', JSON.stringify(r.userdata)],
        ['recording', r.recordingPath ?? '(off: set RECORDING_DIR or --recordings)'],
      ],
    ).split('\n').slice(2).join('\n'),
  ];
  for (const c of r.checks.filter((c) => !c.ok)) lines.push(`  ✗ ${c.what}: ${c.detail}`);
  if (r.notChecked.length) lines.push(`  not checked (the model is real): ${r.notChecked.join('; ')}`);
  const latency = r.record.latency as LatencySummary | undefined;
  if (latency?.turns.length) lines.push('', waterfall(latency));
  const cost = r.record.cost as CallCost | undefined;
  if (cost) lines.push('', describeCost(cost));
  return lines.join('\n');
}

/** The scenarios `--live` can play, and those it leaves out (offline-only, with why). */
function livePlayable(scenarios: Scenario[]): { play: Scenario[]; skipped: { scenario: string; reason: string }[] } {
  const skipped = scenarios.filter((s) => s.offlineOnly).map((s) => ({ scenario: s.name, reason: s.offlineOnly! }));
  const play = scenarios.filter((s) => !s.offlineOnly);
  if (play.length === 0) {
    throw new UsageError(`--live: nothing to play; offline-only: ${skipped.map((s) => `"${s.scenario}": ${s.reason}`).join('; ')}`);
  }
  return { play, skipped };
}

async function run(files: string[], opts: Options): Promise<void> {
  const speed = Number(opts.speed);
  if (!(speed > 0 && speed <= 16)) throw new UsageError(`--speed must be a number from 0.1 to 16 (got ${opts.speed})`);
  if (opts.callerVoice !== undefined && !opts.live) throw new UsageError('--caller-voice applies only with --live');
  const scenarios = (files.length ? files : [DEFAULT_SCENARIO]).map((f) => loadScenario(resolve(f)));
  const env = { ...readEnv(), ...(opts.recordings ? { RECORDING_DIR: opts.recordings } : {}) };
  let play = scenarios;
  let skipped: { scenario: string; reason: string }[] = [];
  if (opts.live) {
    // Before anything starts or costs anything: every key the real providers and the caller's voice need.
    requireProviderKeys(loadConfig(env), [{ key: 'CARTESIA_API_KEY', why: 'simulate --live voices the caller with Cartesia' }]);
    ({ play, skipped } = livePlayable(scenarios));
  }
  // Live, LiveKit's server API is still the emulator (there is no LiveKit server), but no provider emulator runs.
  const sandbox = opts.live ? await LiveKitSandbox.start() : await Sandbox.start();
  const config = loadConfig({ ...env, ...sandbox.env() });
  // With OTEL_EXPORTER_OTLP_ENDPOINT set, each simulated call is exported as a trace, as in production.
  installTracing({ endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT, serviceName: `${config.AGENT_NAME}-simulate`, buildVersion: buildVersion(config.BUILD_VERSION), includeContent: config.OTEL_TRACE_CONTENT });
  const callerVoice = opts.live ? CallerVoice.fromConfig(config, opts.callerVoice) : undefined;
  const store = await openStore(opts.store ?? join(mkdtempSync(join(tmpdir(), 'switchboard-sim-')), 'calls.db'));
  const vad = await loadVad();
  const prices = loadPriceTable(config.PRICES_FILE);
  const reports: SimulationReport[] = [];
  try {
    if (!opts.json) {
      if (callerVoice) {
        process.stdout.write(
          `live providers (billed to your accounts): STT ${config.STT_PROVIDERS.join(', ')}, LLM ${config.OPENAI_MODEL}, ` +
            `TTS ${config.TTS_PROVIDERS.join(', ')}; the caller speaks with Cartesia voice ${opts.callerVoice ?? config.SIMULATE_CALLER_VOICE}\n`,
        );
      }
      for (const s of skipped) process.stdout.write(`skipped (offline-only): ${s.scenario}: ${s.reason}\n`);
    }
    for (const scenario of play) {
      const t0 = Date.now();
      if (!opts.json) process.stdout.write(`\n▶ ${scenario.name} (${scenario.direction}, simulated phone line: 8 kHz µ-law)\n`);
      const r = await simulateCall(scenario, { sandbox, config, store, vad, prices, ...(callerVoice ? { live: { callerVoice } } : {}) }, {
        speed,
        onEvent: opts.json ? undefined : (ev) => printEvent(t0, ev),
      });
      reports.push(r);
      if (!opts.json) process.stdout.write(`${summary(r)}\n`);
    }
  } finally {
    await flushTracing().catch(() => undefined);
    await callerVoice?.close();
    await sandbox.close();
    await store.close();
    await dispose();
  }
  const passed = reports.every((r) => r.passed);
  // What the emulators add to each turn, exactly; live, the providers' share of a turn is not known.
  const emulatedLatencyMs = sandbox instanceof Sandbox ? sandbox.latencies : null;
  const out = reports.map((r) => ({
    scenario: r.scenario,
    callId: r.callId,
    passed: r.passed,
    providers: r.providers,
    emulatedLatencyMs,
    agents: r.agents,
    outcome: r.outcome,
    roomDeleted: r.roomDeleted,
    turns: (r.record.latency as LatencySummary | undefined)?.turns ?? [],
    latency: (r.record.latency as LatencySummary | undefined)?.firstAudioMs ?? null,
    cost: r.record.cost ?? null,
    userdata: r.userdata,
    recordingPath: r.recordingPath,
    checks: r.checks,
    notChecked: r.notChecked,
  }));
  report(scenarios.length === 1 ? out[0]! : { passed, calls: out, skipped }, opts, () => {
    const lines = scenarios.length > 1 ? [`\n${reports.filter((r) => r.passed).length}/${reports.length} scenarios passed`] : [];
    if (skipped.length) lines.push(`${skipped.length} offline-only scenario(s) skipped`);
    return lines.join('\n');
  });
  process.exitCode = passed ? 0 : 1;
}

export function register(program: Command): void {
  program
    .command('simulate')
    .description('Run a whole phone call on this machine: emulated caller, real agent code, local provider emulators (or, with --live, the real providers)')
    .argument('[scenario...]', `scenario files (default: ${DEFAULT_SCENARIO})`)
    .option('--json', 'print one JSON call report as the last line')
    .option('--speed <n>', 'agent audio playback speed (1 = real time)', '1')
    .option('--store <path>', 'SQLite file to keep the call records in (default: a temporary file)')
    .option('--recordings <dir>', 'write a stereo µ-law WAV per call here ("" for none)', 'recordings')
    .option('--live', 'real Deepgram, OpenAI and Cartesia instead of the emulators (keys from the environment or .env; costs money)')
    .option('--caller-voice <id>', 'with --live: Cartesia voice id the caller speaks with (default: SIMULATE_CALLER_VOICE)')
    .addHelpText(
      'after',
      `
--live: the STT, LLM and TTS are the real providers, built as in production from
DEEPGRAM_API_KEY, OPENAI_API_KEY and CARTESIA_API_KEY (and any *_BASE_URL) in the
environment or .env; a missing key is named and the command exits 2 before anything
starts. The caller's scripted lines are spoken by Cartesia in a voice of their own,
once each per run, down the same 8 kHz µ-law line. LiveKit's server API is still the
local emulator (no LiveKit server is needed). The model is real, so a scenario's
scripted model replies are not used, and only the outcome, the agents passed
through and the room deletion are checked; the rest is listed as not checked.
Scenarios marked offlineOnly are skipped. Latency and cost are the providers' own.`,
    )
    .action((files: string[], opts: Options) => run(files, opts).catch((err) => fail(err, opts)));
}
