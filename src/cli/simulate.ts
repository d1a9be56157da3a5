/**
 * `switchboard simulate [scenario...]`: whole phone calls on this machine, with no LiveKit server,
 * no phone number and no API keys. The sandbox stands in for every outside service; the call
 * itself runs the production code.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { dispose } from '@livekit/rtc-node';
import type { Command } from 'commander';
import { loadConfig, readEnv } from '../config.js';
import { describeCost, loadPriceTable } from '../cost/index.js';
import { Sandbox } from '../sandbox/sandbox.js';
import { loadVad } from '../session/sessionFactory.js';
import { loadScenario } from '../simulate/scenario.js';
import { type SimEvent, type SimulationReport, simulateCall } from '../simulate/simulatedCall.js';
import { openStore } from '../store/index.js';
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
        ['agents', r.agents.join(' → ')],
        ['outcome', JSON.stringify(r.outcome)],
        ['room deleted', `${r.roomDeleted} (DeleteRoom calls: ${r.deleteRoomCalls})`],
        ['userdata', JSON.stringify(r.userdata)],
        ['recording', r.recordingPath ?? '(off: set RECORDING_DIR or --recordings)'],
      ],
    ).split('\n').slice(2).join('\n'),
  ];
  for (const c of r.checks.filter((c) => !c.ok)) lines.push(`  ✗ ${c.what}: ${c.detail}`);
  const latency = r.record.latency as LatencySummary | undefined;
  if (latency?.turns.length) lines.push('', waterfall(latency));
  const cost = r.record.cost as CallCost | undefined;
  if (cost) lines.push('', describeCost(cost));
  return lines.join('\n');
}

async function run(files: string[], opts: Options): Promise<void> {
  const speed = Number(opts.speed);
  if (!(speed > 0 && speed <= 16)) throw new UsageError(`--speed must be a number from 0.1 to 16 (got ${opts.speed})`);
  const scenarios = (files.length ? files : [DEFAULT_SCENARIO]).map((f) => loadScenario(resolve(f)));
  const sandbox = await Sandbox.start();
  const config = loadConfig({ ...readEnv(), ...sandbox.env(), ...(opts.recordings ? { RECORDING_DIR: opts.recordings } : {}) });
  const store = openStore(opts.store ?? join(mkdtempSync(join(tmpdir(), 'switchboard-sim-')), 'calls.db'));
  const vad = await loadVad();
  const prices = loadPriceTable(config.PRICES_FILE);
  const reports: SimulationReport[] = [];
  try {
    for (const scenario of scenarios) {
      const t0 = Date.now();
      if (!opts.json) process.stdout.write(`\n▶ ${scenario.name} (${scenario.direction}, simulated phone line: 8 kHz µ-law)\n`);
      const r = await simulateCall(scenario, { sandbox, config, store, vad, prices }, {
        speed,
        onEvent: opts.json ? undefined : (ev) => printEvent(t0, ev),
      });
      reports.push(r);
      if (!opts.json) process.stdout.write(`${summary(r)}\n`);
    }
  } finally {
    await sandbox.close();
    await store.close();
    await dispose();
  }
  const passed = reports.every((r) => r.passed);
  const out = reports.map((r) => ({
    scenario: r.scenario,
    callId: r.callId,
    passed: r.passed,
    agents: r.agents,
    outcome: r.outcome,
    roomDeleted: r.roomDeleted,
    turns: (r.record.latency as LatencySummary | undefined)?.turns ?? [],
    latency: (r.record.latency as LatencySummary | undefined)?.firstAudioMs ?? null,
    cost: r.record.cost ?? null,
    userdata: r.userdata,
    recordingPath: r.recordingPath,
    checks: r.checks,
  }));
  report(out.length === 1 ? out[0]! : { passed, calls: out }, opts, () => (scenarios.length > 1 ? `\n${reports.filter((r) => r.passed).length}/${reports.length} scenarios passed` : ''));
  process.exitCode = passed ? 0 : 1;
}

export function register(program: Command): void {
  program
    .command('simulate')
    .description('Run a whole phone call on this machine: emulated caller, real agent code, local provider emulators')
    .argument('[scenario...]', `scenario files (default: ${DEFAULT_SCENARIO})`)
    .option('--json', 'print one JSON call report as the last line')
    .option('--speed <n>', 'agent audio playback speed (1 = real time)', '1')
    .option('--store <path>', 'SQLite file to keep the call records in (default: a temporary file)')
    .option('--recordings <dir>', 'write a stereo µ-law WAV per call here ("" for none)', 'recordings')
    .action((files: string[], opts: Options) => run(files, opts).catch((err) => fail(err, opts)));
}
