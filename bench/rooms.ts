/**
 * bench:rooms — what a call really costs, with real media: N phones (src/stack/rtpPhone.ts: SIP
 * and G.711 RTP) call the production worker through the real livekit-server and livekit-sip on loopback, the providers
 * emulated with the fixed latencies bench:calls uses. The same run then repeats with the
 * framework's own executor (the worker with CALLS_PER_PROCESS=1) as the peer.
 *
 * Measured per run: CPU and memory of the worker's processes only (LiveKit, SIP, the phones and
 * this process, which runs the emulators, are reported apart); the agent's own first-audio figure
 * against the providers' latencies (overhead); what the phones heard: first audio, the silence
 * before each reply, gaps inside replies; rooms left behind. Method and results: bench/README.md.
 *
 *   npm run bench:rooms -- [--calls 25] [--per-process K] [--stagger-ms 5000] [--no-peer]
 *                          [--worker-env INPUT_FRAME_MS=20] [--detail] [--json]
 */
import { readFileSync, readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { delay } from '@livekit/agents';
import { dispose } from '@livekit/rtc-node';
import type { Brain } from '../src/sandbox/openaiEmulator.js';
import { g711uRoundTrip, rms, speechSegments, synthesizeSpeech, type SpeechSegment } from '../src/sandbox/speechSignal.js';
import { RtpPhone, type RtpPacket } from '../src/stack/rtpPhone.js';
import { LiveStack } from '../src/stack/stack.js';
import { openStore } from '../src/store/index.js';
import { type TurnLatency, percentile } from '../src/call/latency.js';
import { table } from '../src/cli/output.js';
import { loadConfig } from '../src/config.js';
import { CHAIN_STAGES, type ChainStages } from './chainStages.js';
import { machineCpu } from './machine.js';

// ------------------------------------------------------------------------------------ options
const argv = process.argv.slice(2);
const opt = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const CALLS = Number(opt('--calls') ?? 25);
const PER_PROCESS = opt('--per-process');
const STAGGER_MS = Number(opt('--stagger-ms') ?? 5000);
const PEER = !argv.includes('--no-peer');
const JSON_OUT = argv.includes('--json');
const TIMEOUT_S = Number(opt('--timeout-s') ?? 300);
/** `--detail`: every turn's stages and what else the calls did around it, in the JSON (`turnDetail`). */
const DETAIL = argv.includes('--detail');
/** `--worker-env K=V,K=V`: settings for the worker in both runs (e.g. INPUT_FRAME_MS=20). */
const WORKER_ENV = Object.fromEntries((opt('--worker-env') ?? '').split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const KEY = 'stack';
const TARGETS = { calls: 25, workerCores: 1.2, mbPerCall: 40, overheadP95Ms: 30, gaps: 0, roomsLeaked: 0 };

const LINES = ['Hi, I need to check my appointment time.', 'It is for Thursday morning.', 'Great, that is all, thank you.'];
const REPLIES = ['Sure, I can help with that. Which day is it for?', 'Thursday at ten is what I have for you.', 'You are welcome. Goodbye!'];

const say = (line: string) => process.stderr.write(`${line}\n`);

// ------------------------------------------------------------------------------------ /proc
const CLK_TCK = 100;

interface ProcSample {
  ticks: number;
  rssKb: number;
  pssKb: number;
}

function readProc(pid: number): ProcSample | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    let pssKb = rssKb;
    try {
      pssKb = Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? rssKb);
    } catch {
      // smaps_rollup needs a newer kernel; RSS stands in.
    }
    return { ticks, rssKb, pssKb };
  } catch {
    return null; // gone
  }
}

/** `root` and every process below it. */
function processTree(root: number): number[] {
  const parents = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = parents.get(ppid) ?? [];
      list.push(Number(d));
      parents.set(ppid, list);
    } catch {
      // exited while listing
    }
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    out.push(pid);
    for (const c of parents.get(pid) ?? []) walk(c);
  };
  walk(root);
  return out;
}

/**
 * CPU and memory of a group of processes, sampled every 500 ms. CPU counts every process seen, from
 * its first sample (or its birth, if it started during the window) to its last, so the framework's
 * one-process-per-call peer is counted although its processes exit with their calls.
 */
class GroupMeter {
  private readonly first = new Map<number, number>();
  private readonly last = new Map<number, number>();
  private started = false;
  peakRssMb = 0;
  peakPssMb = 0;
  constructor(private readonly pids: () => number[]) {}

  /** One sample of the window (the sampler runs only while the calls do). */
  sample(): void {
    let rss = 0;
    let pss = 0;
    for (const pid of this.pids()) {
      const s = readProc(pid);
      if (!s) continue;
      rss += s.rssKb;
      pss += s.pssKb;
      if (!this.first.has(pid)) this.first.set(pid, this.started ? 0 : s.ticks);
      this.last.set(pid, s.ticks);
    }
    this.started = true;
    this.peakRssMb = Math.max(this.peakRssMb, rss / 1024);
    this.peakPssMb = Math.max(this.peakPssMb, pss / 1024);
  }

  cores(wallMs: number): number {
    let ticks = 0;
    for (const [pid, end] of this.last) ticks += end - (this.first.get(pid) ?? 0);
    return ticks / CLK_TCK / (wallMs / 1000);
  }
}

/** The whole machine's busy cores over any stretch of the window, from samples every 500 ms. */
class MachineMeter {
  private readonly samples: { at: number; busy: number; steal: number }[] = [];

  sample(): void {
    const m = machineCpu();
    if (m) this.samples.push({ at: Date.now(), busy: m.busy, steal: m.steal });
  }

  /** From the last sample at or before `from` to the first at or after `to`; null without both. */
  cores(from: number, to: number, field: 'busy' | 'steal' = 'busy'): number | null {
    const a = this.samples.findLast((s) => s.at <= from) ?? this.samples[0];
    const b = this.samples.find((s) => s.at >= to) ?? this.samples.at(-1);
    if (!a || !b || b.at <= a.at) return null;
    return (b[field] - a[field]) / CLK_TCK / ((b.at - a.at) / 1000);
  }
}

// ------------------------------------------------------------------------------------ numbers
const r1 = (x: number | null) => (x === null ? null : Math.round(x * 10) / 10);
const dist = (xs: number[]) => ({ p50: r1(percentile(xs, 50)), p95: r1(percentile(xs, 95)), max: r1(percentile(xs, 100)), n: xs.length });

/**
 * Runs of digital silence (≥ 20 ms of |x| ≤ 8, µ-law's step at zero) inside the stretches of
 * speech: a jitter buffer that ran dry plays exactly that. The synthetic voice has some of its own
 * between words, so the same count on the reply as synthesised (through µ-law) is subtracted.
 */
function silentRuns(pcm: Int16Array, rate: number, segs: SpeechSegment[]): number {
  const min = Math.round(0.02 * rate);
  let runs = 0;
  for (const s of segs) {
    let run = 0;
    for (let i = Math.floor((s.startMs * rate) / 1000); i < Math.min(pcm.length, Math.ceil((s.endMs * rate) / 1000)); i++) {
      if (Math.abs(pcm[i]!) <= 8) run++;
      else {
        if (run >= min) runs++;
        run = 0;
      }
    }
  }
  return runs;
}
const REFERENCE_RUNS = REPLIES.map((t) => {
  const pcm = g711uRoundTrip(synthesizeSpeech(t, { sampleRate: 8000 }));
  return silentRuns(pcm, 8000, speechSegments(pcm, 8000));
});
const LINE_PCM = LINES.map((t) => synthesizeSpeech(t, { sampleRate: 8000 }));
const lineSpeechEndMs = LINE_PCM.map((pcm) => speechSegments(pcm, 8000).at(-1)!.endMs);
const replyAudioMs = REPLIES.map((t) => (synthesizeSpeech(t, { sampleRate: 8000 }).length / 8000) * 1000);

/** The model answers each caller line with the next fixed reply, the same for every call. */
const brain: Brain = (req) => {
  const turns = req.messages.filter((m) => m.role === 'user').length;
  return { text: REPLIES[Math.min(Math.max(turns, 1), REPLIES.length) - 1]! };
};

// ------------------------------------------------------------------------------------ one run
interface PhoneRun {
  phone: RtpPhone;
  number: string;
  answeredAt?: number;
  hungUpAt?: number;
  error?: string;
}

const voiced = (p: RtpPacket) => rms(p.pcm) > 0.01; // −40 dBFS

/**
 * What one phone received of one reply, from its first voiced packet until 300 ms without voice:
 * packets lost (sequence numbers skipped), packets late (over 60 ms after the one before, which
 * a phone's jitter buffer plays as a hole), and holes in the audio itself (the agent's output ran
 * dry and LiveKit SIP sent silence), over the reply's own.
 */
function replyAt(packets: RtpPacket[], after: number, k: number): { startAt: number; gaps: number } | null {
  const i0 = packets.findIndex((p) => p.at > after && voiced(p));
  if (i0 < 0) return null;
  let end = i0;
  let quiet = 0;
  for (let i = i0; i < packets.length && quiet < 15; i++) {
    if (voiced(packets[i]!)) {
      end = i;
      quiet = 0;
    } else quiet++;
  }
  let gaps = 0;
  for (let i = i0 + 1; i <= end; i++) {
    const a = packets[i - 1]!;
    const b = packets[i]!;
    if (((b.seq - a.seq) & 0xffff) !== 1) gaps++;
    else if (b.at - a.at > 60) gaps++;
  }
  const pcm = new Int16Array((end - i0 + 1) * 160);
  for (let i = i0; i <= end; i++) pcm.set(packets[i]!.pcm.subarray(0, 160), (i - i0) * 160);
  gaps += Math.max(0, silentRuns(pcm, 8000, [{ startMs: 0, endMs: (pcm.length / 8000) * 1000 }]) - REFERENCE_RUNS[k]!);
  return { startAt: packets[i0]!.at, gaps };
}

async function runOnce(label: string, callsPerProcess: string | undefined) {
  say(`\n== ${label}: ${CALLS} calls, CALLS_PER_PROCESS=${callsPerProcess ?? 'worker default'}, starts over ${STAGGER_MS} ms`);
  const stack = await LiveStack.start({
    ports: 'random',
    // Load is the worker's calls, not machine CPU: the phones and servers share these 2 cores.
    workerEnv: { ...WORKER_ENV, WORKER_MAX_CALLS: String(CALLS * 4), ...(callsPerProcess ? { CALLS_PER_PROCESS: callsPerProcess } : {}) },
    log: (l) => say(`[stack] ${l}`),
  });
  try {
    stack.providers.openai.setBrain(KEY, brain);
    // Every call's lines share one key; the words do not matter to the brain, only that a final
    // transcript comes (an empty one is no turn).
    stack.providers.deepgram.setBehaviour(KEY, { fallbackTranscript: 'A caller line.' });
    const worker = stack.worker!.child.pid!;
    const byName = (re: RegExp) => stack.processes.filter((p) => re.test(p.name)).map((p) => p.child.pid!).filter(Boolean);
    const phones: PhoneRun[] = [];
    const meters = {
      worker: new GroupMeter(() => processTree(worker)),
      livekit: new GroupMeter(() => byName(/^livekit-server$/)),
      sip: new GroupMeter(() => byName(/^livekit-sip$/)),
      // The phones run in this process, beside the provider emulators.
      bench: new GroupMeter(() => [process.pid]),
    };

    // Warm-up: one call, so the call hosts are up and prewarmed as a running worker's are, and
    // the greeting's length is known for pacing the phones.
    const warm = await RtpPhone.open('+14155550100');
    const since = Date.now();
    const warmUp = await warm.dial(stack.sipUri);
    let greeting;
    for (;;) {
      greeting = stack.providers.cartesia.generationsFor(KEY).find((g) => (g.requestedAt ?? 0) >= since && g.doneAt && g.firstByteAt);
      if (greeting || Date.now() - since > 30_000) break;
      await delay(50);
    }
    if (!greeting) throw new Error('warm-up call: the agent never greeted');
    const emuSkew = performance.timeOrigin + performance.now() - Date.now();
    const greetingDoneMs = greeting.firstByteAt! - emuSkew + greeting.audioMs - warmUp + 700;
    await delay(greetingDoneMs - (Date.now() - warmUp));
    warm.hangup();
    warm.close();
    for (let i = 0; i < 100 && (await stack.rooms().listRooms()).length > 0; i++) await delay(100);
    say(`warm-up done; greeting plays out ${Math.round(greetingDoneMs)} ms after the call is up`);

    for (let i = 0; i < CALLS; i++) {
      const number = `+1415555${String(1000 + i).padStart(4, '0')}`;
      phones.push({ phone: await RtpPhone.open(number), number });
    }
    const idle = processTree(worker).map(readProc).reduce((n, s) => n + (s?.pssKb ?? 0), 0) / 1024;

    const t0 = Date.now();
    const machine = new MachineMeter();
    const sampler = setInterval(() => {
      for (const m of Object.values(meters)) m.sample();
      machine.sample();
    }, 500);
    machine.sample();
    const golden = 0.6180339887;
    const runs = phones.map(async (p, i) => {
      await delay(t0 + (i * STAGGER_MS) / CALLS + ((i * golden) % 1) * 20 - Date.now());
      try {
        p.answeredAt = await p.phone.dial(stack.sipUri, 60_000);
        let next = p.answeredAt + greetingDoneMs;
        for (const [k, line] of LINE_PCM.entries()) {
          await delay(next - Date.now());
          p.phone.say(line);
          next = Date.now() + (line.length / 8) + 1500 + replyAudioMs[k]! + 700;
        }
        await delay(next - Date.now());
        p.hungUpAt = Date.now();
        p.phone.hangup();
      } catch (err) {
        p.error = (err as Error).message;
      }
    });
    let limit: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((r) => (limit = setTimeout(() => r('timeout'), TIMEOUT_S * 1000)));
    const timedOut = (await Promise.race([Promise.all(runs).then(() => 'done' as const), deadline])) === 'timeout';
    clearTimeout(limit);
    const wallMs = Date.now() - t0;
    clearInterval(sampler);
    machine.sample();

    // Rooms: every call's room must be gone shortly after its phone hung up.
    let rooms = (await stack.rooms().listRooms()).length;
    for (let i = 0; i < 100 && rooms > 0; i++) {
      await delay(100);
      rooms = (await stack.rooms().listRooms()).length;
    }

    const metrics = await (await fetch(`http://127.0.0.1:${stack.ports.worker}/metrics`)).text();
    const metric = (name: string) =>
      metrics
        .split('\n')
        .filter((l) => l.startsWith(name))
        .reduce((n, l) => n + Number(l.split(' ').pop()), 0);

    // ------------------------------------------------------------------ per turn: overhead
    const store = await openStore(stack.env.STORE_URL!);
    const records = (await store.calls.list({ limit: CALLS + 10 })).filter((r) => r.callerNumber && r.callerNumber !== '+14155550100');
    await store.close();
    // The worker's ENDPOINTING_MS, read as its config reads it, from the env it was given.
    const E = loadConfig({ ...process.env, ...stack.env, ...WORKER_ENV }).ENDPOINTING_MS;
    const L = stack.providers.latencies;
    const conns = stack.providers.deepgram.connections;
    const sttDelayMs = (conns[0]?.endpointingMs ?? stack.providers.deepgram.minEndpointingMs) + L.sttFinalMs;
    const segs = stack.providers.deepgram.segmentsFor(KEY);
    const emu = (t: number) => t - emuSkew;
    const overheads: number[] = [];
    const firstAudio: number[] = [];
    const detail: TurnDetail[] = [];
    const reqs = stack.providers.openai.requestsFor(KEY);
    const gens = stack.providers.cartesia.generationsFor(KEY);
    for (const r of records) {
      const turns = ((r.latency as { turns?: TurnLatency[] } | null)?.turns ?? []).filter((t) => t.firstAudioMs !== null);
      for (const t of turns) {
        // The STT's clock starts when the caller's last speech reached it; of the segments ending
        // near this turn's VAD anchor, the nearest is this call's (calls are spread in time).
        const S = t.callerStoppedAt;
        const seg = segs
          .filter((s) => Math.abs(emu(s.lastSpeechAt) - S) < 400)
          .sort((a, b) => Math.abs(emu(a.lastSpeechAt) - S) - Math.abs(emu(b.lastSpeechAt) - S))[0];
        if (!seg) continue;
        const heardAt = emu(seg.lastSpeechAt) - S;
        const expected = Math.max(E, heardAt + sttDelayMs + L.llmFirstTokenMs + L.ttsFirstByteMs);
        overheads.push(t.firstAudioMs! - expected);
        firstAudio.push(t.firstAudioMs!);
        if (DETAIL) detail.push(turnDetail(r.callerNumber ?? '', t, expected, { seg, reqs, gens, emu, phones, machine }));
      }
    }

    // ------------------------------------------------------------------ at the phones
    const phoneFirstAudio: number[] = [];
    const replyGaps: number[] = [];
    let gaps = 0;
    let repliesHeard = 0;
    for (const p of phones) {
      if (!p.answeredAt) continue;
      const packets = p.phone.received;
      const first = packets.find(voiced);
      if (first) phoneFirstAudio.push(first.at - p.answeredAt);
      for (const [k, endAt] of p.phone.saidEndAt.entries()) {
        // The line's last packet left at endAt; its speech ended a little before (trailing quiet).
        const speechEnd = endAt - (LINE_PCM[k]!.length / 8 - lineSpeechEndMs[k]!);
        const reply = replyAt(packets, endAt, k);
        if (!reply) continue;
        repliesHeard++;
        replyGaps.push(reply.startAt - speechEnd);
        gaps += reply.gaps;
      }
    }
    for (const p of phones) p.phone.close();

    const cores = meters.worker.cores(wallMs);
    const machineCores = machine.cores(t0, t0 + wallMs);
    const result = {
      label,
      callsPerProcess: callsPerProcess ? Number(callsPerProcess) : 'default',
      calls: CALLS,
      completed: phones.filter((p) => p.answeredAt && !p.error).length,
      errors: phones.filter((p) => p.error).map((p) => `${p.number}: ${p.error}`).slice(0, 5),
      timedOut,
      wallMs,
      worker: {
        cores: r1(cores),
        callsPerCore: r1(cores > 0 ? CALLS / cores : null),
        processes: new Set(processTree(worker)).size,
        peakPssMb: r1(meters.worker.peakPssMb),
        peakRssMb: r1(meters.worker.peakRssMb),
        idlePssMb: r1(idle),
        pssMbPerCall: r1(meters.worker.peakPssMb / CALLS),
        addedPssMbPerCall: r1((meters.worker.peakPssMb - idle) / CALLS),
      },
      apart: {
        livekitCores: r1(meters.livekit.cores(wallMs)),
        sipCores: r1(meters.sip.cores(wallMs)),
        phonesAndEmulatorsCores: r1(meters.bench.cores(wallMs)),
        // The whole machine, everything on it included (other tenants, builds): figures taken
        // beside a busy machine are not comparable with a quiet one's. /proc/stat counts by
        // sampling each core at the clock tick, so work in short wake-ups (20 ms audio timers)
        // is undercounted there: it can read below the sum of the processes' own (exact) times
        // above, and is not subtracted from them.
        machineCores: r1(machineCores),
        stealCores: r1(machine.cores(t0, t0 + wallMs, 'steal')),
        livekitPeakPssMb: r1(meters.livekit.peakPssMb),
        sipPeakPssMb: r1(meters.sip.peakPssMb),
      },
      turns: { expected: CALLS * LINES.length, measured: overheads.length, repliesHeardAtPhone: repliesHeard },
      overheadMs: dist(overheads),
      firstAudioMs: dist(firstAudio),
      phone: { greetingFirstAudioMs: dist(phoneFirstAudio), silenceBeforeReplyMs: dist(replyGaps), gapsInReplies: gaps },
      underrunsAtOutput: metric('switchboard_audio_underruns'),
      ...(DETAIL ? { turnDetail: detail.sort((a, b) => a.callerStoppedAt - b.callerStoppedAt), monotonicToEpochMs: monotonicToEpochMs() } : {}),
      roomsLeaked: rooms,
      model: {
        endpointingMs: E,
        sttDelayMs,
        llmFirstTokenMs: L.llmFirstTokenMs,
        ttsFirstByteMs: L.ttsFirstByteMs,
        formula: 'overhead = firstAudioMs − max(ENDPOINTING_MS, sttHeardAt + sttDelay + llmFirstToken + ttsFirstByte); sttHeardAt = when the STT emulator received the last speech, relative to the VAD anchor',
      },
    };
    return result;
  } finally {
    await stack.close();
  }
}

// ------------------------------------------------------------------------------------ detail
/**
 * One turn, for finding why it was slow: each stage as ms after the caller stopped speaking (VAD),
 * the emulators' stamps beside the worker's (a gap between "sent" and the worker's figure is time
 * the worker took to see it), and what the other calls were doing then.
 */
interface TurnDetail extends ChainStages {
  number: string;
  turn: number;
  callerStoppedAt: number;
  overheadMs: number;
  firstAudio: number;
  /** Calls answered, and phones hung up, from 3 s before the caller stopped to the first audio. */
  joinsNear: number;
  hangUpsNear: number;
  /** The whole machine's busy cores from 500 ms before the caller stopped to the first audio. */
  machineCores: number | null;
  /** Of the same stretch, the cores the hypervisor took from this machine (steal). */
  stealCores: number | null;
}

type SttSeg = ReturnType<LiveStack['providers']['deepgram']['segmentsFor']>[number];
type ChatReq = ReturnType<LiveStack['providers']['openai']['requestsFor']>[number];
type TtsGen = ReturnType<LiveStack['providers']['cartesia']['generationsFor']>[number];

function turnDetail(
  number: string,
  t: TurnLatency,
  expected: number,
  on: { seg: SttSeg; reqs: ChatReq[]; gens: TtsGen[]; emu: (t: number) => number; phones: PhoneRun[]; machine: MachineMeter },
): TurnDetail {
  const S = t.callerStoppedAt;
  const F = S + t.firstAudioMs!;
  const rel = (x: number | undefined) => (x === undefined ? null : r1(on.emu(x) - S));
  // Every call shares the emulators' key, so a turn's request and generation are the ones nearest
  // its own stamps; calls' turns are spread in time, so the nearest is this call's.
  const near = <T>(xs: T[], at: (x: T) => number | undefined, want: number) =>
    xs
      .filter((x) => at(x) !== undefined && on.emu(at(x)!) >= S - 100 && on.emu(at(x)!) <= F)
      .sort((a, b) => Math.abs(on.emu(at(a)!) - want) - Math.abs(on.emu(at(b)!) - want))[0];
  const req = near(on.reqs, (q) => q.receivedAt, S + (t.sttFinalMs ?? 0));
  const gen = near(on.gens, (g) => g.firstTextAt, S + (t.llmFirstTokenMs ?? t.sttFinalMs ?? 0));
  const within = (x: number | undefined) => x !== undefined && x >= S - 3000 && x <= F;
  return {
    number,
    turn: t.turn,
    callerStoppedAt: S,
    overheadMs: r1(t.firstAudioMs! - expected)!,
    dgSpeechEnd: rel(on.seg.lastSpeechAt),
    dgFinalSent: rel(on.seg.finalSentAt),
    sttFinal: t.sttFinalMs,
    llmRequest: rel(req?.receivedAt),
    llmFirstChunkSent: rel(req?.firstChunkAt),
    llmFirstToken: t.llmFirstTokenMs,
    endOfTurn: t.endpointingMs,
    ttsTextIn: rel(gen?.firstTextAt),
    ttsFirstByteSent: rel(gen?.firstByteAt),
    ttsFirstByte: t.ttsFirstByteMs,
    firstAudio: t.firstAudioMs!,
    joinsNear: on.phones.filter((p) => within(p.answeredAt)).length,
    hangUpsNear: on.phones.filter((p) => within(p.hungUpAt)).length,
    machineCores: r1(on.machine.cores(S - 500, F)),
    stealCores: r1(on.machine.cores(S - 500, F, 'steal')),
  };
}

/**
 * Epoch ms minus CLOCK_MONOTONIC ms, which V8's CPU profiles (`--worker-env
 * CALL_HOST_CPU_PROF_DIR=…`) stamp their samples with, so a slow turn can be found in a call
 * host's profile: epoch = profile µs / 1000 + this.
 */
function monotonicToEpochMs(): number {
  return Date.now() - Number(process.hrtime.bigint() / 1000n) / 1000;
}

// ------------------------------------------------------------------------------------ report
type Run = Awaited<ReturnType<typeof runOnce>>;

function runsTable(runs: Run[]): string {
  return table(
    ['run', 'calls', 'cores', 'machine (steal)', 'calls/core', 'PSS MB/call (added)', 'overhead p50/p95/max', 'first audio at phone', 'silence before reply p50/p95', 'gaps/underruns', 'rooms left'],
    runs.map((r) => [
      r.label,
      `${r.completed}/${r.calls}`,
      `${r.worker.cores}`,
      `${r.apart.machineCores} (steal ${r.apart.stealCores})`,
      `${r.worker.callsPerCore}`,
      `${r.worker.pssMbPerCall} (+${r.worker.addedPssMbPerCall})`,
      `${r.overheadMs.p50} / ${r.overheadMs.p95} / ${r.overheadMs.max}`,
      `${r.phone.greetingFirstAudioMs.p50}`,
      `${r.phone.silenceBeforeReplyMs.p50} / ${r.phone.silenceBeforeReplyMs.p95}`,
      `${r.phone.gapsInReplies}/${r.underrunsAtOutput}`,
      `${r.roomsLeaked}`,
    ]),
  );
}

function slowTurnsTable(r: Run): string {
  const cols = ['overheadMs', ...CHAIN_STAGES, 'firstAudio', 'joinsNear', 'hangUpsNear', 'machineCores', 'stealCores'] as const;
  const slow = (r.turnDetail ?? []).filter((t) => t.overheadMs > TARGETS.overheadP95Ms);
  return table(['call', 'turn', ...cols], slow.map((t) => [t.number, `${t.turn}`, ...cols.map((c) => `${t[c] ?? '—'}`)]));
}

async function main(): Promise<void> {
  const runs: Run[] = [await runOnce('ours', PER_PROCESS)];
  if (PEER) runs.push(await runOnce('framework', '1'));
  const [ours, peer] = runs;
  const targets = {
    workerCores: { target: `≤ ${TARGETS.workerCores}`, value: ours!.worker.cores, met: (ours!.worker.cores ?? 99) <= TARGETS.workerCores },
    mbPerCall: { target: `≤ ${TARGETS.mbPerCall}`, value: ours!.worker.pssMbPerCall, met: (ours!.worker.pssMbPerCall ?? 999) <= TARGETS.mbPerCall },
    overheadP95Ms: { target: `≤ ${TARGETS.overheadP95Ms}`, value: ours!.overheadMs.p95, met: ours!.overheadMs.p95 !== null && ours!.overheadMs.p95 <= TARGETS.overheadP95Ms },
    gaps: { target: `${TARGETS.gaps}`, value: ours!.phone.gapsInReplies, met: ours!.phone.gapsInReplies === 0 },
    roomsLeaked: { target: '0', value: ours!.roomsLeaked, met: ours!.roomsLeaked === 0 },
    calls: { target: `${TARGETS.calls}`, value: ours!.completed, met: ours!.completed >= TARGETS.calls },
  };
  const vsPeer = peer
    ? {
        callsPerCoreRatio: r1(ours!.worker.callsPerCore && peer.worker.callsPerCore ? ours!.worker.callsPerCore / peer.worker.callsPerCore : null),
        mbPerCallRatio: r1(ours!.worker.pssMbPerCall && peer.worker.pssMbPerCall ? peer.worker.pssMbPerCall / ours!.worker.pssMbPerCall : null),
      }
    : null;
  const out = { bench: 'rooms', calls: CALLS, staggerMs: STAGGER_MS, workerEnv: WORKER_ENV, runs, targets, vsPeer, when: new Date().toISOString() };
  process.stdout.write(`${runsTable(runs)}\n`);
  if (DETAIL) for (const r of runs) process.stdout.write(`\n${r.label}: turns over ${TARGETS.overheadP95Ms} ms\n${slowTurnsTable(r)}\n`);
  for (const [k, t] of Object.entries(targets)) process.stdout.write(`target ${k}: ${t.target}, got ${t.value} — ${t.met ? 'met' : 'NOT met'}\n`);
  if (vsPeer) process.stdout.write(`ours vs the framework's executor: ${vsPeer.callsPerCoreRatio}× the calls per core, ${vsPeer.mbPerCallRatio}× less memory per call\n`);
  if (JSON_OUT) process.stdout.write(`${JSON.stringify(out)}\n`);
}

main()
  .catch((err) => {
    process.stderr.write(`bench:rooms failed: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  })
  .finally(() => void dispose());
