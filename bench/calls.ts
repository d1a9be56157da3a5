// Concurrent-calls benchmark: N simulated phone calls at once on this machine, against the
// sandbox's provider emulators at fixed latencies (STT final 50 ms after Deepgram's 100 ms
// endpointing floor, LLM first token 200 ms, TTS first byte 100 ms).
//
//   npm run bench:calls -- --calls 10                     readable table
//   npm run bench:calls -- --calls 25 --json              last stdout line is one JSON object
//   options: --per-process K (CALLS_PER_PROCESS, as the worker)  --spread P (cores)
//            --scenario FILE (scenarios/bench/plain-3-turns.yaml)  --stagger-ms N (5000)
//            --timeout-s N (300)  --detail (per-turn stage rows in the JSON)
//            --cpu-prof DIR (a V8 CPU profile of each call process, written to DIR)
//
// Every call runs the way the production worker runs a job: through the worker's executor
// (src/host/ HostPool: call host processes, K calls each, spread over P processes first), with
// the worker's own prewarm in each host, as a framework job with its own JobContext. The job body
// is a simulated call driving a proxy of this process's single Sandbox over IPC
// (bench/callAgent.ts). --per-process 1 is one process per call, as the framework's own executor
// runs jobs (the worker's CALLS_PER_PROCESS=1). The measured processes hold only the agent side;
// the emulators' CPU (this process) is reported apart.
//
// Calls start spread over --stagger-ms, by default one turn of the scenario (~5 s), so their turns
// fall at independent moments, as independent callers' do; every call is live for most of the run
// (concurrentCallsAtTurn says how many were, turn by turn). --stagger-ms 1000 puts all N calls'
// turns in the same second: a burst, reported in the README apart. What each number means, and
// the overhead model, are in bench/README.md. Benchmarks are not tests: nothing here
// asserts a number; targets are printed with whether they were met.

import './logger.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { delay } from '@livekit/agents';
import { dispose } from '@livekit/rtc-node';
import { Job, Room } from '@livekit/protocol';
import { type Host, HostPool, type Slot } from '../src/host/hostPool.js';
import { type TurnLatency, percentile } from '../src/call/latency.js';
import { type Config, loadConfig, readEnv, storeTarget } from '../src/config.js';
import type { Reply } from '../src/sandbox/openaiEmulator.js';
import { DEFAULT_LATENCIES, Sandbox } from '../src/sandbox/sandbox.js';
import { speechDurationMs } from '../src/sandbox/speechSignal.js';
import { type ModelScript, modelScript, scriptedReply } from '../src/simulate/modelScript.js';
import { type Scenario, loadScenario } from '../src/simulate/scenario.js';
import { openStore } from '../src/store/index.js';
import { CHAIN_STAGES, type ChainStages } from './chainStages.js';
import { machineCpu } from './machine.js';
import type { ChildCallResult, ChildInit, ChildTotals, FromChild, SandboxOp, ToChild } from './callProtocol.js';

// ------------------------------------------------------------------ options

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const json = args.includes('--json');
const detail = args.includes('--detail');
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const num = (name: string, def: number, min: number, max: number): number => {
  const raw = opt(name);
  const v = raw === undefined ? def : Number(raw);
  if (!Number.isFinite(v) || v < min || v > max) usage(`${name} must be a number from ${min} to ${max} (got ${raw})`);
  return v;
};
function usage(msg: string): never {
  process.stderr.write(
    `${msg}\nusage: node dist/bench/calls.js --calls N [--per-process K] [--spread P] [--json] [--scenario FILE] [--stagger-ms N] [--timeout-s N] [--detail] [--cpu-prof DIR]\n`,
  );
  process.exit(2);
}
const CALLS = Math.round(num('--calls', 1, 1, 200));
if (opt('--mode') !== undefined) usage('--mode is gone: calls run in the worker\'s executor; use --per-process K (1 = a process per call)');
/** Calls per process: the worker's CALLS_PER_PROCESS unless --per-process says otherwise. */
const PER_PROCESS = Math.round(num('--per-process', loadConfig(readEnv()).CALLS_PER_PROCESS, 1, 200));
/** Processes the first calls spread over before packing (the worker's default: one per core). */
const SPREAD = Math.round(num('--spread', availableParallelism(), 1, 64));
const CPU_PROF_DIR = opt('--cpu-prof') ? resolve(opt('--cpu-prof')!) : undefined;
const STAGGER_MS = num('--stagger-ms', 5000, 0, 60_000);
const TIMEOUT_MS = num('--timeout-s', 300, 10, 3600) * 1000;
const SCENARIO_FILE = opt('--scenario') ? resolve(opt('--scenario')!) : join(here, '..', '..', 'scenarios', 'bench', 'plain-3-turns.yaml');

/** Realistic synthetic speech rate for the caller and the TTS emulator (the emulators' default). */
const MS_PER_CHAR = 65;
/** Playback speed 1: latency figures need real time. */
const SPEED = 1;
const SAMPLE_EVERY_MS = 500;

const TARGETS = { calls: 25, overheadP95Ms: 30, underruns: 0, roomsLeaked: 0, memoryMbPerCall: 100 };

// ------------------------------------------------------------------ helpers

const r1 = (x: number) => Math.round(x * 10) / 10;
const mb = (bytes: number) => r1(bytes / 1048576);
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
const pct = (xs: number[]) => ({ p50: percentile(xs, 50), p95: percentile(xs, 95) });
const pctMax = (xs: number[]) => ({ ...pct(xs), max: xs.length ? Math.max(...xs) : null });
const round = <T extends Record<string, number | null>>(o: T): T =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v === null ? null : r1(v)])) as T;

/** A /proc/<pid>/<file> field in kB, as bytes; null when unreadable. */
async function procKb(pid: number, file: string, field: string): Promise<number | null> {
  try {
    const text = await readFile(`/proc/${pid}/${file}`, 'utf8');
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, signal: AbortSignal): Promise<T | undefined> {
  return new Promise((resolveP) => {
    const t = setTimeout(() => done(undefined), ms);
    const onAbort = () => done(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    const done = (v: T | undefined) => {
      clearTimeout(t);
      signal.removeEventListener('abort', onAbort);
      resolveP(v);
    };
    p.then(done, () => done(undefined));
  });
}

// ------------------------------------------------------------------ state

/** A call host process, as the benchmark measures it. */
interface Child {
  host: Host;
  pid: number;
  vadLoadMs?: number;
  /** /proc figures of the prewarmed, idle process, before its first call. */
  idleRss: number | null;
  idlePss: number | null;
  sampling: boolean;
  peakRss: number;
  peakPss: number | null;
  hwmRss: number | null;
  samples: number;
  totals?: ChildTotals;
  totalsIn: Promise<void>;
  gotTotals: () => void;
}

interface Call {
  callId: string;
  index: number;
  child?: Child;
  slot?: Slot;
  room: string;
  startAt?: number;
  result?: ChildCallResult;
  error?: string;
  settled: Promise<void>;
  settle: () => void;
}

/** One caller turn with the framework's stages and the emulators' own stamps, ms after the caller stopped (VAD). */
interface TurnRow extends ChainStages {
  callId: string;
  turn: number;
  /** The overhead model's first audio for this turn (see expectedFor). */
  expectedMs: number;
  overheadMs: number | null;
  /** Caller's real end of speech (line start + synthesized length), relative to the VAD anchor; negative = earlier. */
  callerEnd: number | null;
  /** When the caller's packet carrying the end of speech was sent (≤ 20 ms after callerEnd), same reference. */
  callerEndSent: number | null;
  firstAudio: number | null;
  ttsTtfb: number | null;
}

/** The per-turn stages in the order a turn passes them: the stage p50s and the detail table's columns. */
const STAGES = ['callerEnd', 'callerEndSent', ...CHAIN_STAGES, 'firstAudio'] as const satisfies readonly (keyof TurnRow)[];

// ------------------------------------------------------------------ run

async function main(): Promise<void> {
  const hardStop = new AbortController();
  const hardTimer = setTimeout(() => hardStop.abort(), TIMEOUT_MS);
  const scenario: Scenario = loadScenario(SCENARIO_FILE);
  const busyBeforePct = await machineBusyBefore();
  const bench = await startBench(scenario);
  const prewarmWallMs = await prewarmHosts(bench, hardStop.signal);
  const window = await runCalls(bench, hardStop.signal);
  await closeHosts(bench, window.timedOut);
  clearTimeout(hardTimer);

  const model = overheadModelOf(bench);
  const rows = turnRows(bench, model);
  const outcomes = callOutcomes(bench);
  const resources = resourceFigures(bench, window, busyBeforePct);
  const report = reportOf({ bench, scenario, window, prewarmWallMs, model, rows, outcomes, resources });

  bench.offDeleted();
  await bench.sandbox.close();
  rmSync(bench.dir, { recursive: true, force: true });

  if (json) {
    console.log(JSON.stringify(report));
  } else {
    printTable(report, rows);
  }
  await dispose();
  process.exit(0);
}

/** The sandbox, the worker's executor wired to it, and what the benchmark has seen of its calls and processes. */
interface Bench {
  sandbox: Sandbox;
  config: Config;
  /** The scratch directory (the shared SQLite store), removed at the end. */
  dir: string;
  pool: HostPool;
  calls: Call[];
  children: Child[];
  /** Each call's model script, kept in this process (a brain cannot cross IPC), by the call's key. */
  scripts: Map<string, ModelScript>;
  childOf: (host: Host) => Child;
  offDeleted: () => void;
}

/** Other work on the machine skews every figure here: how busy it was in the second before we started. */
async function machineBusyBefore(): Promise<number | null> {
  const idle0 = machineCpu();
  await delay(1000);
  const idle1 = machineCpu();
  return idle0 && idle1 ? r1(((idle1.busy - idle0.busy) / Math.max(1, idle1.total - idle0.total)) * 100) : null;
}

/**
 * The outside world (one sandbox, one store) and the worker's executor, each host answered over
 * its IPC channel: the sandbox operations its calls forward, their results, its totals.
 */
async function startBench(scenario: Scenario): Promise<Bench> {
  const replies = scenario.steps.flatMap((s) => ('model' in s ? s.model : [])).map(scriptedReply);
  const sandbox = await Sandbox.start({ latencies: DEFAULT_LATENCIES, msPerChar: MS_PER_CHAR });
  const dir = mkdtempSync(join(tmpdir(), 'sb-bench-calls-'));
  // One SQLite store on disk for every call process, as the worker's job processes share STORE_URL.
  const env: Record<string, string | undefined> = { ...readEnv(), ...sandbox.env(), STORE_URL: `sqlite:${join(dir, 'calls.db')}`, RECORDING_DIR: '' };
  const config = loadConfig(env);
  await (await openStore(storeTarget(config))).close(); // migrate once, before processes race to open it

  const scripts = new Map<string, ModelScript>();
  const calls: Call[] = [];
  const byRoom = new Map<string, Call>();
  const children: Child[] = [];

  const onSandboxOp = sandboxOps(sandbox, calls, byRoom, scripts, replies);
  const pool = new HostPool({
    agentModule: join(here, 'callAgent.js'),
    callsPerHost: PER_PROCESS,
    spreadAcross: SPREAD,
    logger: { pretty: false, level: 'error' },
    initializeTimeoutMs: TIMEOUT_MS,
    ...(CPU_PROF_DIR ? { execArgv: ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF_DIR}`] } : {}),
  });
  const childMap = new Map<Host, Child>();
  const childOf = (host: Host): Child => {
    let c = childMap.get(host);
    if (!c) {
      let gotTotals!: () => void;
      c = { host, pid: host.pid, idleRss: null, idlePss: null, sampling: false, peakRss: 0, peakPss: null, hwmRss: null, samples: 0, totalsIn: new Promise((r) => (gotTotals = r)), gotTotals };
      childMap.set(host, c);
      children.push(c);
    }
    return c;
  };
  const init: ChildInit = { type: 'init', env, msPerChar: MS_PER_CHAR, livekitEnv: sandbox.livekit.env(), scenarioFile: SCENARIO_FILE, speed: SPEED };
  // Right after its prewarm, before any call reaches it (IPC keeps the order).
  pool.on('host-ready', (host) => host.send(init as unknown as Record<string, unknown>));
  pool.on('host-exit', (host) => childMap.get(host)?.gotTotals());
  pool.on('message', (host, raw) => {
    const m = raw as FromChild;
    switch (m?.type) {
      case 'sandbox':
        onSandboxOp(m);
        return;
      case 'done': {
        const call = calls.find((c) => c.callId === m.result.callId);
        // A call that ends after the hard limit stays counted as not finished.
        if (call && !call.error) {
          call.result = m.result;
          call.settle();
        }
        return;
      }
      case 'failed': {
        const call = calls.find((c) => c.callId === m.callId);
        if (call) {
          call.error = m.error;
          call.settle();
        }
        return;
      }
      case 'totals': {
        const c = childOf(host);
        c.totals = m.totals;
        c.sampling = false;
        c.gotTotals();
        return;
      }
    }
  });
  const offDeleted = sandbox.livekit.onRoomDeleted((ev) => {
    const call = byRoom.get(ev.room);
    if (!call?.child) return;
    const msg: ToChild = { type: 'roomDeleted', room: ev.room, deleteRoomCalls: sandbox.livekit.count('DeleteRoom', { room: ev.room }) };
    call.child.host.send(msg as unknown as Record<string, unknown>);
  });

  const callIds = Array.from({ length: CALLS }, (_, i) => `bench${String(i + 1).padStart(3, '0')}`);
  for (const callId of callIds) {
    let settle!: () => void;
    const settled = new Promise<void>((r) => (settle = r));
    calls.push({ callId, index: calls.length, room: `sim-${callId}`, settled, settle });
  }
  return { sandbox, config, dir, pool, calls, children, scripts, childOf, offDeleted };
}

/**
 * What a call forwards from its host (SimSandbox over IPC), done on this process's sandbox. Each
 * room is tied to its call when the call joins it, so room deletions reach the right host.
 */
function sandboxOps(sandbox: Sandbox, calls: Call[], byRoom: Map<string, Call>, scripts: Map<string, ModelScript>, replies: Reply[]): (m: SandboxOp) => void {
  return (m) => {
    switch (m.op) {
      case 'livekit.joinParticipant': {
        const [room, init] = m.args;
        sandbox.livekit.joinParticipant(room, init);
        const call = calls.find((c) => room.endsWith(c.callId));
        if (call) byRoom.set(room, call);
        return;
      }
      case 'livekit.setOutcome':
        (sandbox.livekit.setOutcome as (n: string, o: unknown) => void)(m.args[0], m.args[1]);
        return;
      case 'openai.setBrain': {
        // The brain the child built cannot cross IPC: build the same script here, for this call.
        const script = modelScript(replies);
        scripts.set(m.args[0], script);
        sandbox.openai.setBrain(m.args[0], script.brain);
        return;
      }
      case 'openai.removeBrain':
        sandbox.openai.removeBrain(m.args[0]);
        return;
      case 'deepgram.expect': {
        const [key, ...texts] = m.args;
        sandbox.deepgram.expect(key, ...texts);
        return;
      }
    }
  };
}

/**
 * Every call's place is reserved and every host prewarmed before the first call starts, as the
 * worker's warm executors (numIdleProcesses) keep places ready ahead of the calls. Returns the
 * wall time that took; each host's idle memory is read here, before its first call.
 */
async function prewarmHosts({ pool, calls, children, childOf }: Bench, signal: AbortSignal): Promise<number> {
  const tReady = performance.now();
  await withTimeout(
    Promise.all(
      calls.map(async (call) => {
        call.slot = await pool.reserve();
        call.child = childOf(call.slot.host);
      }),
    ),
    TIMEOUT_MS,
    signal,
  );
  const prewarmWallMs = performance.now() - tReady;
  for (const c of children) c.vadLoadMs = c.host.prewarmMs;
  await Promise.all(
    children.map(async (c) => {
      c.idleRss = await procKb(c.pid, 'status', 'VmRSS');
      c.idlePss = await procKb(c.pid, 'smaps_rollup', 'Pss');
    }),
  );
  return prewarmWallMs;
}

/** The measurement window: from the first call's start to the last one settling (or the hard limit). */
interface Window {
  windowMs: number;
  machine0: { busy: number; total: number } | null;
  machine1: { busy: number; total: number } | null;
  parentCpu: NodeJS.CpuUsage;
  timedOut: boolean;
}

/** The calls, started staggered, while every busy host's memory is sampled; waits for all of them to settle. */
async function runCalls({ calls, children }: Bench, signal: AbortSignal): Promise<Window> {
  // Every child's RSS (and PSS where readable) while it has a call running.
  let sampling = false;
  const sample = async () => {
    if (sampling) return;
    sampling = true;
    try {
      await Promise.all(
        children
          .filter((c) => c.sampling)
          .map(async (c) => {
            const [rss, pss] = await Promise.all([procKb(c.pid, 'status', 'VmRSS'), procKb(c.pid, 'smaps_rollup', 'Pss')]);
            if (rss !== null) c.peakRss = Math.max(c.peakRss, rss);
            if (pss !== null) c.peakPss = Math.max(c.peakPss ?? 0, pss);
            c.samples++;
          }),
      );
    } finally {
      sampling = false;
    }
  };
  const sampler = setInterval(() => void sample(), SAMPLE_EVERY_MS);

  const machine0 = machineCpu();
  const parentCpu0 = process.cpuUsage();
  const t0 = performance.now();
  if (!signal.aborted) {
    for (const call of calls) {
      // Plus a fraction of a 20 ms frame, spread evenly (golden ratio): real callers' packet clocks
      // are not aligned, and an even stagger (200 ms) would tick every caller in the same ms.
      const startInMs = CALLS > 1 ? Math.round((call.index * STAGGER_MS) / CALLS + ((call.index * 0.618034) % 1) * 20) : 0;
      setTimeout(() => {
        if (signal.aborted || !call.slot || !call.child || call.error) return;
        call.startAt = Date.now();
        call.child.sampling = true;
        const info = {
          acceptArguments: { name: 'bench', identity: 'bench', metadata: '' },
          job: new Job({ id: call.callId, room: new Room({ name: call.room }) }),
          url: '',
          token: '',
          workerId: 'bench',
        };
        void call.slot.launch(info).then((end) => {
          if (end.error !== undefined && !call.result && !call.error) {
            call.error = end.error;
            call.settle();
          }
        });
      }, startInMs);
    }
  }
  await withTimeout(Promise.all(calls.map((c) => c.settled)), TIMEOUT_MS, signal);
  const windowMs = performance.now() - t0;
  const machine1 = machineCpu();
  const parentCpu = process.cpuUsage(parentCpu0);
  const timedOut = signal.aborted;
  for (const c of calls) {
    if (!c.result && !c.error) {
      c.error = timedOut ? `not finished within the ${TIMEOUT_MS / 1000} s limit` : 'not finished';
    }
  }
  await sample();
  clearInterval(sampler);
  return { windowMs, machine0, machine1, parentCpu, timedOut };
}

/** Totals from each host, the kernel's own RSS high-water mark, then the call processes shut down. */
async function closeHosts({ pool, children }: Bench, timedOut: boolean): Promise<void> {
  pool.broadcast({ type: 'totals' } satisfies ToChild);
  await withTimeout(Promise.all(children.map((c) => c.totalsIn)), timedOut ? 0 : 15_000, new AbortController().signal);
  await Promise.all(children.map(async (c) => (c.hwmRss = await procKb(c.pid, 'status', 'VmHWM'))));
  await pool.close(15_000);
}

// ---------------------------------------------------------------- numbers

/** The overhead model: the first audio the emulated latencies and the endpointing delay account for. */
interface OverheadModel {
  endpointingMs: number;
  latencies: Sandbox['latencies'];
  sttEndpointingMs: number;
  sttDelayMs: number;
  preTts: boolean;
  /** Expected first audio for a turn whose caller's end was `callerEnd` ms from the VAD's anchor. */
  expectedFor: (callerEnd: number | null) => number;
  expectedMs: number;
}

/**
 * Expected first audio, ms after the VAD's end of speech. `callerEnd` is when the caller's signal
 * really ended, relative to that anchor (Silero and the STT emulator's energy endpointer disagree
 * by up to ±90 ms on synthetic speech); the STT provider's latency runs from the real end.
 * With preemptive TTS (the default) the whole STT → LLM → TTS chain runs during the endpointing
 * wait and the audio plays at the end of turn or when it arrives, whichever is later; without
 * it, TTS starts only at the end of turn.
 */
function overheadModelOf({ sandbox, config }: Bench): OverheadModel {
  const E = config.ENDPOINTING_MS;
  const L = sandbox.latencies;
  const dgConn = sandbox.deepgram.connections[0];
  const sttEndpointingMs = dgConn?.endpointingMs ?? sandbox.deepgram.minEndpointingMs;
  const sttDelayMs = sttEndpointingMs + L.sttFinalMs;
  const preTts = config.PREEMPTIVE_TTS;
  const chain = (callerEnd: number | null) => (callerEnd ?? 0) + sttDelayMs + L.llmFirstTokenMs;
  const expectedFor = (callerEnd: number | null) =>
    preTts ? Math.max(E, chain(callerEnd) + L.ttsFirstByteMs) : Math.max(E, chain(callerEnd)) + L.ttsFirstByteMs;
  return { endpointingMs: E, latencies: L, sttEndpointingMs, sttDelayMs, preTts, expectedFor, expectedMs: expectedFor(0) };
}

/** Each caller turn of each finished call: the framework's stages beside the emulators' own stamps. */
function turnRows({ sandbox, calls }: Bench, model: OverheadModel): TurnRow[] {
  // Emulator stamps are performance.timeOrigin-based; calls stamp Date.now(). Put both on one clock.
  const emuSkew = performance.timeOrigin + performance.now() - Date.now();
  const emu = (t: number | undefined) => (t === undefined ? undefined : t - emuSkew);
  const rows: TurnRow[] = [];
  for (const call of calls) {
    const r = call.result;
    if (!r) continue;
    const key = `sandbox-${call.callId}`;
    const segs = sandbox.deepgram.segmentsFor(key).filter((s) => s.scripted);
    const reqs = sandbox.openai.requestsFor(key);
    const gens = sandbox.cartesia.generationsFor(key);
    const lineEnds = r.callerLines.map((l) => l.speechEndAt ?? l.at + speechDurationMs(l.text, MS_PER_CHAR));
    const lineEndsSent = r.callerLines.map((l, i) => l.speechEndSentAt ?? lineEnds[i]!);
    for (const t of r.turns as TurnLatency[]) {
      const S = t.callerStoppedAt;
      const F = S + (t.firstAudioMs ?? 30_000);
      const rel = (x: number | undefined) => (x === undefined ? null : r1(x - S));
      const seg = segs
        .filter((s) => Math.abs(emu(s.lastSpeechAt)! - S) < 1500)
        .sort((a, b) => Math.abs(emu(a.lastSpeechAt)! - S) - Math.abs(emu(b.lastSpeechAt)! - S))[0];
      const req = reqs.find((q) => emu(q.receivedAt)! >= S - 100 && emu(q.receivedAt)! <= F);
      const gen = gens.find((g) => g.firstTextAt !== undefined && emu(g.firstTextAt)! >= S - 100 && emu(g.firstTextAt)! <= F && g.firstByteAt !== undefined);
      const lineIndex = lineEnds.findLastIndex((e) => e <= S + 500);
      // The STT provider's clock starts when the caller's last speech reached it, not at the VAD's
      // anchor: the phone leg carries audio in 20 ms packets, and the one holding the end of the
      // speech leaves at the end of its frame.
      const callerEnd = lineIndex >= 0 ? rel(lineEnds[lineIndex]) : null;
      const callerEndSent = lineIndex >= 0 ? rel(lineEndsSent[lineIndex]) : null;
      const expected = model.expectedFor(callerEndSent);
      rows.push({
        callId: call.callId,
        turn: t.turn,
        expectedMs: r1(expected),
        overheadMs: t.firstAudioMs === null ? null : r1(t.firstAudioMs - expected),
        callerEnd,
        callerEndSent,
        dgSpeechEnd: rel(emu(seg?.lastSpeechAt)),
        dgFinalSent: rel(emu(seg?.finalSentAt)),
        sttFinal: t.sttFinalMs,
        llmRequest: rel(emu(req?.receivedAt)),
        llmFirstChunkSent: rel(emu(req?.firstChunkAt)),
        llmFirstToken: t.llmFirstTokenMs,
        endOfTurn: t.endpointingMs,
        ttsTextIn: rel(emu(gen?.firstTextAt)),
        ttsFirstByteSent: rel(emu(gen?.firstByteAt)),
        ttsFirstByte: t.ttsFirstByteMs,
        firstAudio: t.firstAudioMs,
        ttsTtfb: t.ttsTtfbMs,
      });
    }
  }
  return rows;
}

/**
 * Where the overhead goes, per turn. audioReadyLate + toOutput add up to the overhead: when the
 * first audio could have played (the end of turn, or the TTS first byte if later) against the
 * model, then the framework handing it to the output. The rest are diagnostics along the chain.
 * Null when no turn has every stamp.
 */
function overheadBreakdown(rows: TurnRow[], model: OverheadModel) {
  const { endpointingMs: E, latencies: L, preTts, sttDelayMs } = model;
  const heard = rows.filter((r) => r.firstAudio !== null);
  // The framework's LLM first token is missing when the preemptive LLM request finished before the
  // end of turn (src/call/latency.ts only keeps llm_metrics that arrive after eou_metrics); the
  // emulator's first-chunk stamp stands in for it then (they differ by ~1-2 ms when both exist).
  const llmReady = (r: TurnRow) => r.llmFirstToken ?? r.llmFirstChunkSent;
  const parts = heard.flatMap((r) => {
    const llm = llmReady(r);
    if (r.endOfTurn === null || llm === null || r.ttsTextIn === null || r.ttsFirstByteSent === null || r.ttsFirstByte === null) return [];
    const readyAt = preTts ? Math.max(r.endOfTurn, r.ttsFirstByte) : r.ttsFirstByte;
    return [
      {
        audioReadyLate: readyAt - r.expectedMs,
        toOutput: r.firstAudio! - readyAt,
        commitLate: r.endOfTurn - E,
        ttsStartLag: r.ttsTextIn - (preTts ? llm : Math.max(r.endOfTurn, llm)),
        ttsProviderLate: r.ttsFirstByteSent - r.ttsTextIn - L.ttsFirstByteMs,
        ttsPluginFraming: r.ttsFirstByte - r.ttsFirstByteSent,
      },
    ];
  });
  if (!parts.length) return null;
  const partStats = (k: keyof (typeof parts)[number]) => round(pct(parts.map((p) => p[k])));
  // The chain's own lateness (on the critical path only when it ends after the end of turn): the
  // STT final after the caller's real end, beyond the emulator's delays (the Deepgram plugin sends
  // audio in 50 ms chunks, so up to ~50 ms of it is framing), then STT final → first token.
  const sttPathLate = rows.flatMap((r) => (r.sttFinal !== null && r.callerEndSent !== null ? [r.sttFinal - r.callerEndSent - sttDelayMs] : []));
  const llmPathLate = rows.flatMap((r) => {
    const llm = llmReady(r);
    return llm !== null && r.sttFinal !== null ? [llm - r.sttFinal - L.llmFirstTokenMs] : [];
  });
  const chainCritical = heard.filter((r) => r.endOfTurn !== null && ((preTts ? r.ttsFirstByte : llmReady(r)) ?? 0) > r.endOfTurn).length;
  return {
    audioReadyLate: partStats('audioReadyLate'),
    toOutput: partStats('toOutput'),
    commitLate: partStats('commitLate'),
    sttPathLate: round(pct(sttPathLate)),
    llmPathLate: round(pct(llmPathLate)),
    ttsStartLag: partStats('ttsStartLag'),
    ttsProviderLate: partStats('ttsProviderLate'),
    ttsPluginFraming: partStats('ttsPluginFraming'),
    turnsWithChainOnCriticalPath: chainCritical,
  };
}

/** How the calls went: gaps in the agent's audio, rooms never deleted, and each failed call's reasons. */
function callOutcomes({ sandbox, calls, scripts }: Bench) {
  const results = calls.flatMap((c) => (c.result ? [c.result] : []));
  const underruns = results.reduce((n, r) => n + r.underruns, 0);
  const leaked = calls.filter((c) => sandbox.livekit.count('DeleteRoom', { room: c.result?.room ?? c.room }) !== 1).map((c) => c.callId);
  const failures = calls.flatMap((c) => {
    const why: string[] = [];
    if (c.error) why.push(c.error.split('\n')[0]!);
    if (c.result?.failedChecks.length) why.push(...c.result.failedChecks);
    const left = scripts.get(`sandbox-${c.callId}`)?.remaining;
    if (c.result && left) why.push(`${left} scripted model replies left over`);
    return why.length ? [{ callId: c.callId, why }] : [];
  });
  return { underruns, leaked, failures };
}

/** Memory and CPU: the call processes, measured the same way whatever the calls per process. */
function resourceFigures({ children }: Bench, window: Window, busyBeforePct: number | null) {
  const { machine0, machine1, parentCpu, windowMs } = window;
  const withPeaks = children.filter((c) => c.peakRss > 0);
  const some = (xs: (number | null)[]) => xs.flatMap((x) => (x === null ? [] : [x]));
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  let memory: Record<string, number | null | string>;
  let cpuPctPerCall: number | null;
  const childCpuPct = (c: Child) => (c.totals ? (c.totals.cpuUs / 1000 / c.totals.wallMs) * 100 : null);
  const common = {
    rssMbIdlePrewarmed: some(children.map((c) => c.idleRss)).length ? mb(mean(some(children.map((c) => c.idleRss)))!) : null,
    rssMbMaxProcess: withPeaks.length ? mb(Math.max(...withPeaks.map((c) => c.peakRss))) : null,
    rssMbHighWaterMark: some(children.map((c) => c.hwmRss)).length ? mb(mean(some(children.map((c) => c.hwmRss)))!) : null,
    rssMbAllCalls: withPeaks.length ? mb(sum(withPeaks.map((c) => c.peakRss))) : null,
    rssMbTotalPerCall: withPeaks.length ? mb(sum(withPeaks.map((c) => c.peakRss)) / CALLS) : null,
  };
  if (PER_PROCESS === 1) {
    const pss = some(withPeaks.map((c) => c.peakPss));
    memory = {
      basis: 'mean over call processes of each one’s peak while its call ran',
      rssMbPerCall: withPeaks.length ? mb(mean(withPeaks.map((c) => c.peakRss))!) : null,
      pssMbPerCall: pss.length ? mb(mean(pss)!) : null,
      ...common,
    };
    const cpus_ = some(children.map(childCpuPct));
    cpuPctPerCall = cpus_.length ? r1(mean(cpus_)!) : null;
  } else {
    const added = (peak: number | null, idle: number | null) => (peak && idle !== null ? peak - idle : null);
    const rssAdded = some(withPeaks.map((c) => added(c.peakRss, c.idleRss)));
    const pssAdded = some(withPeaks.map((c) => added(c.peakPss, c.idlePss)));
    memory = {
      basis: '(peak RSS of each call process − its RSS before the calls), summed, / N',
      rssMbPerCall: rssAdded.length ? mb(sum(rssAdded) / CALLS) : null,
      pssMbPerCall: pssAdded.length ? mb(sum(pssAdded) / CALLS) : null,
      ...common,
    };
    const cpus_ = some(children.map(childCpuPct));
    cpuPctPerCall = cpus_.length ? r1(sum(cpus_) / CALLS) : null;
  }
  const loopP99 = children.flatMap((c) => (c.totals ? [c.totals.loopDelayMs.p99] : []));
  const loopMax = children.flatMap((c) => (c.totals ? [c.totals.loopDelayMs.max] : []));
  const cores = cpus().length;
  const machineBusyPct = machine0 && machine1 ? r1(((machine1.busy - machine0.busy) / Math.max(1, machine1.total - machine0.total)) * 100) : null;
  const cpu = {
    cores,
    /** All cores, over the 1 s before the benchmark started anything: other work on the machine. */
    machineBusyBeforePct: busyBeforePct,
    machineBusyPct,
    callProcessesPctOfOneCore: r1(children.reduce((n, c) => n + (childCpuPct(c) ?? 0), 0)),
    emulatorsPctOfOneCore: r1(((parentCpu.user + parentCpu.system) / 1000 / windowMs) * 100),
    /** Approximate: machine busy minus this benchmark's own processes, as % of the machine. Other work skews the figures. */
    othersPctOfMachine:
      machineBusyPct === null
        ? null
        : r1(Math.max(0, machineBusyPct - (sum(some(children.map(childCpuPct))) + ((parentCpu.user + parentCpu.system) / 1000 / windowMs) * 100) / cores)),
  };
  const eventLoopDelayMs = { p99Mean: loopP99.length ? r1(mean(loopP99)!) : null, p99Max: loopP99.length ? r1(Math.max(...loopP99)) : null, max: loopMax.length ? r1(Math.max(...loopMax)) : null };
  return { memory, cpuPctPerCall, cpu, eventLoopDelayMs };
}

/** The issue's targets, each with the value measured and whether it was met. */
function targetRows(overheadMs: { p95: number | null }, { underruns, leaked, failures }: ReturnType<typeof callOutcomes>, memory: Record<string, unknown>) {
  const onePerProcess = PER_PROCESS === 1;
  const memoryForTarget = onePerProcess ? (memory.rssMbPerCall as number | null) : (memory.rssMbTotalPerCall as number | null);
  return {
    calls: { target: `≥ ${TARGETS.calls} concurrent calls, all completed`, value: `${CALLS - failures.length}/${CALLS}`, met: CALLS >= TARGETS.calls && failures.length === 0 },
    overheadP95Ms: { target: `≤ ${TARGETS.overheadP95Ms}`, value: overheadMs.p95, met: overheadMs.p95 !== null && overheadMs.p95 <= TARGETS.overheadP95Ms },
    underruns: { target: `${TARGETS.underruns}`, value: underruns, met: underruns === TARGETS.underruns },
    roomsLeaked: { target: `${TARGETS.roomsLeaked}`, value: leaked.length, met: leaked.length === TARGETS.roomsLeaked },
    memoryMbPerCall: {
      target: `≤ ${TARGETS.memoryMbPerCall} MB resident`,
      value: memoryForTarget,
      basis: onePerProcess ? 'peak RSS of each call process' : 'peak RSS of the call processes, summed, / N',
      met: memoryForTarget !== null && memoryForTarget <= TARGETS.memoryMbPerCall,
    },
  };
}

/** The report: every section's figures, in the order the JSON line and the table give them. */
function reportOf(p: {
  bench: Bench;
  scenario: Scenario;
  window: Window;
  prewarmWallMs: number;
  model: OverheadModel;
  rows: TurnRow[];
  outcomes: ReturnType<typeof callOutcomes>;
  resources: ReturnType<typeof resourceFigures>;
}) {
  const { bench, scenario, window, model, rows, outcomes, resources } = p;
  const { calls, children } = bench;
  const { endpointingMs: E, latencies: L, preTts, expectedMs } = model;
  const callerTexts = scenario.steps.flatMap((s) => ('caller' in s ? [s.caller] : []));
  const heard = rows.filter((r) => r.firstAudio !== null);
  // How many calls were live when each turn's caller stopped speaking.
  const spans = calls.flatMap((c) => (c.result ? [[c.result.startedAt, c.result.endedAt] as const] : []));
  const turnTimes = calls.flatMap((c) => (c.result ? c.result.turns.map((t: TurnLatency) => t.callerStoppedAt) : []));
  const liveAt = turnTimes.map((at) => spans.filter(([a, b]) => a <= at && at <= b).length);
  const col = (k: keyof TurnRow) => rows.flatMap((r) => (typeof r[k] === 'number' ? [r[k] as number] : []));
  const overheadMs = round(pctMax(heard.map((r) => r.overheadMs!)));
  const targets = targetRows(overheadMs, outcomes, resources.memory);
  const { memory } = resources;
  return {
    bench: 'calls',
    calls: CALLS,
    executor: PER_PROCESS === 1 ? 'one process per call' : `call hosts, up to ${PER_PROCESS} calls per process, spread over ${SPREAD} first`,
    callsPerProcess: PER_PROCESS,
    processes: children.length,
    scenario: scenario.name,
    completedCalls: CALLS - outcomes.failures.length,
    timedOut: window.timedOut,
    latencyModel: {
      sttFinalMs: L.sttFinalMs,
      sttEndpointingFloorMs: model.sttEndpointingMs,
      llmFirstTokenMs: L.llmFirstTokenMs,
      ttsFirstByteMs: L.ttsFirstByteMs,
      endpointingMs: E,
      preemptiveGeneration: true,
      preemptiveTts: preTts,
      msPerChar: MS_PER_CHAR,
      speed: SPEED,
      staggerMs: STAGGER_MS,
    },
    overheadModel: {
      expectedFirstAudioMs: expectedMs,
      expectedPerTurnMs: round(pct(rows.map((r) => r.expectedMs))),
      formula: preTts
        ? 'expected = max(ENDPOINTING_MS, callerEndSent + sttEndpointingFloor + sttFinal + llmFirstToken + ttsFirstByte); overhead = firstAudioMs − expected'
        : 'expected = max(ENDPOINTING_MS, callerEndSent + sttEndpointingFloor + sttFinal + llmFirstToken) + ttsFirstByte; overhead = firstAudioMs − expected',
      why: preTts
        ? 'preemptive generation starts the LLM at the STT final and TTS at its first text, all during the endpointing wait; the audio plays at the end of turn or when its first byte arrives, whichever is later'
        : 'preemptive generation starts the LLM at the STT final, during the endpointing wait; TTS starts only once the turn is committed (PREEMPTIVE_TTS=false), so the TTS first byte is serial after max(end of turn, LLM first token)',
      anchor:
        'firstAudioMs runs from the VAD’s end of caller speech (eou_metrics.lastSpeakingTime, where ENDPOINTING_MS also starts) to the first agent frame leaving the session output; callerEnd is when the emulated caller’s signal really ended relative to that anchor, callerEndSent when the 20 ms phone packet holding that end left the caller (the STT emulator’s delays run from there); expectedFirstAudioMs is the callerEndSent = 0 case',
    },
    overheadMs,
    overheadBreakdownMs: overheadBreakdown(rows, model),
    firstAudioMs: round(pctMax(col('firstAudio'))),
    /** Caller's real end of speech → first agent frame: what the caller waits, independent of the VAD anchor. */
    firstAudioFromCallerEndMs: round(pct(heard.filter((r) => r.callerEnd !== null).map((r) => r.firstAudio! - r.callerEnd!))),
    stagesP50Ms: round(Object.fromEntries(STAGES.map((k) => [k, percentile(col(k), 50)]))),
    ttsTtfbMs: round(pct(col('ttsTtfb'))),
    /** VAD end-of-speech anchor minus the caller's real end of speech (positive: the VAD placed it later). */
    vadAnchorLagMs: round(pct(col('callerEnd').map((c) => -c))),
    turns: heard.length,
    turnsWithoutAudio: calls.length * callerTexts.length - heard.length,
    concurrentCallsAtTurn: { min: liveAt.length ? Math.min(...liveAt) : 0, p50: pct(liveAt).p50, atFullConcurrency: liveAt.filter((n) => n === CALLS).length },
    underruns: outcomes.underruns,
    roomsLeaked: outcomes.leaked.length,
    rssMbPerCall: memory.rssMbPerCall,
    pssMbPerCall: memory.pssMbPerCall,
    cpuPctPerCall: resources.cpuPctPerCall,
    memory,
    cpu: resources.cpu,
    eventLoopDelayMs: resources.eventLoopDelayMs,
    prewarm: { wallMs: Math.round(p.prewarmWallMs), vadLoadMsMean: r1(mean(children.flatMap((c) => (c.vadLoadMs === undefined ? [] : [c.vadLoadMs]))) ?? 0) },
    wallS: r1(window.windowMs / 1000),
    failures: outcomes.failures.slice(0, 10),
    targets: { ...targets, allMet: Object.values(targets).every((t) => t.met) },
    node: process.version,
    ...(detail || CALLS === 1 ? { turnDetail: rows } : {}),
  };
}

// ------------------------------------------------------------------ table

function printTable(r: Record<string, unknown> & { targets: Record<string, unknown> }, rows: TurnRow[]): void {
  const j = (v: unknown) => (v === null || v === undefined ? '—' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const o = r as unknown as {
    calls: number;
    executor: string;
    processes: number;
    completedCalls: number;
    timedOut: boolean;
    overheadModel: { expectedFirstAudioMs: number; formula: string };
    overheadMs: Record<string, number | null>;
    firstAudioMs: Record<string, number | null>;
    firstAudioFromCallerEndMs: Record<string, number | null>;
    overheadBreakdownMs: Record<string, Record<string, number | null> | number> | null;
    stagesP50Ms: Record<string, number | null>;
    ttsTtfbMs: Record<string, number | null>;
    vadAnchorLagMs: Record<string, number | null>;
    turns: number;
    turnsWithoutAudio: number;
    concurrentCallsAtTurn: { min: number; p50: number | null; atFullConcurrency: number };
    underruns: number;
    roomsLeaked: number;
    memory: Record<string, unknown>;
    cpuPctPerCall: number | null;
    cpu: Record<string, unknown>;
    eventLoopDelayMs: Record<string, unknown>;
    prewarm: Record<string, unknown>;
    wallS: number;
    failures: { callId: string; why: string[] }[];
    latencyModel: Record<string, unknown>;
  };
  const out: string[] = [];
  out.push(`concurrent calls bench — ${o.calls} call(s), ${o.executor} (${o.processes} call process(es)), node ${process.version}, ${cpus().length} cores`);
  out.push(`latency model: ${j(o.latencyModel)}`);
  out.push(`overhead model: ${o.overheadModel.formula} → expected first audio ${o.overheadModel.expectedFirstAudioMs} ms when the caller's real end is the VAD's`);
  out.push('');
  const line = (k: string, v: string) => out.push(`${k.padEnd(31)} ${v}`);
  line('calls completed', `${o.completedCalls}/${o.calls}${o.timedOut ? ' (TIMED OUT)' : ''} in ${o.wallS} s`);
  line('calls live at each turn', `min ${o.concurrentCallsAtTurn.min}, p50 ${o.concurrentCallsAtTurn.p50}; ${o.concurrentCallsAtTurn.atFullConcurrency} turns with all ${o.calls} live`);
  line('turns with audio', `${o.turns} (${o.turnsWithoutAudio} without)`);
  line('overhead ms', `p50 ${j(o.overheadMs.p50)}  p95 ${j(o.overheadMs.p95)}  max ${j(o.overheadMs.max)}`);
  line('first audio ms (VAD anchor)', `p50 ${j(o.firstAudioMs.p50)}  p95 ${j(o.firstAudioMs.p95)}  max ${j(o.firstAudioMs.max)}`);
  line('first audio ms (caller end)', `p50 ${j(o.firstAudioFromCallerEndMs.p50)}  p95 ${j(o.firstAudioFromCallerEndMs.p95)}`);
  line('tts_metrics ttfb ms', `p50 ${j(o.ttsTtfbMs.p50)}  p95 ${j(o.ttsTtfbMs.p95)}`);
  line('VAD anchor lag ms', `p50 ${j(o.vadAnchorLagMs.p50)}  p95 ${j(o.vadAnchorLagMs.p95)} (VAD end of speech − real end)`);
  line('underruns', String(o.underruns));
  line('rooms leaked', String(o.roomsLeaked));
  line('memory', j(o.memory));
  line('cpu % of a core per call', j(o.cpuPctPerCall));
  line('cpu', j(o.cpu));
  const before = (o.cpu as { machineBusyBeforePct: number | null }).machineBusyBeforePct;
  if (before !== null && before > 10) line('WARNING', `the machine was ${before}% busy before the run started: other work skews these figures`);
  line('event loop delay ms', j(o.eventLoopDelayMs));
  line('prewarm', j(o.prewarm));
  out.push('');
  if (o.overheadBreakdownMs) {
    out.push('where the overhead goes (ms, p50 / p95; audioReadyLate + toOutput add up to the overhead, the rest are diagnostics)');
    for (const [k, v] of Object.entries(o.overheadBreakdownMs)) {
      line(`  ${k}`, typeof v === 'number' ? String(v) : `${j(v.p50)} / ${j(v.p95)}`);
    }
    out.push('');
  }
  out.push('stage p50, ms after the caller stopped speaking (VAD anchor)');
  out.push(`  ${Object.entries(o.stagesP50Ms).map(([k, v]) => `${k} ${j(v)}`).join('  ')}`);
  if (o.calls === 1 || detail) {
    out.push('');
    out.push('per turn, ms after the caller stopped speaking (dg*/llm*Sent/tts*In/Sent: the emulators’ own stamps)');
    const cols: (keyof TurnRow)[] = ['callId', 'turn', ...STAGES, 'expectedMs', 'overheadMs'];
    const cells = [cols.map(String), ...rows.map((row) => cols.map((c) => j(row[c])))];
    const widths = cols.map((_, i) => Math.max(...cells.map((c) => c[i]!.length)));
    for (const c of cells) out.push(`  ${c.map((x, i) => x.padStart(widths[i]!)).join(' ')}`);
  }
  if (o.failures.length) {
    out.push('');
    out.push('failures');
    for (const f of o.failures) out.push(`  ${f.callId}: ${f.why.join('; ')}`);
  }
  out.push('');
  out.push('targets');
  for (const [k, v] of Object.entries(r.targets)) {
    if (k === 'allMet') continue;
    const t = v as { target: string; value: unknown; met: boolean };
    line(`  ${k}`, `${t.met ? 'MET    ' : 'NOT MET'}  ${j(t.value)} (target ${t.target})`);
  }
  line('  all targets', r.targets.allMet ? 'MET' : 'NOT MET');
  console.log(out.join('\n'));
}

main().catch(async (err) => {
  process.stderr.write(`${(err as Error)?.stack ?? err}\n`);
  await dispose().catch(() => undefined);
  process.exit(1);
});
