// The agent `bench/calls.ts` runs in call hosts: the production worker's executor (src/host/),
// with the worker's own prewarm (Silero VAD, once per host process), each call a framework job in
// its own JobContext, K calls per process. Only the job body differs from the worker's: instead of
// a LiveKit room it plays a simulated call (real lifecycle, agents, store and provider plugins;
// an emulated caller on a G.711 line).
//
// The outside world is the parent's single Sandbox. This process only sees a proxy of it
// (SimSandbox): the few calls simulateCall makes are forwarded over IPC, and the one read it does
// (DeleteRoom count) is answered from counts the parent pushes. Provider traffic goes straight to
// the parent's emulators over loopback, routed by each call's key `sandbox-<callId>`. These
// messages share the host's IPC channel; the host protocol ignores them (no `host` field).
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { type JobContext, type JobProcess, defineAgent } from '@livekit/agents';
import worker from '../src/worker.js';
import type { TurnLatency } from '../src/call/latency.js';
import { loadConfig } from '../src/config.js';
import { loadPriceTable } from '../src/cost/index.js';
import type { SimSandbox } from '../src/sandbox/sandbox.js';
import { EnergySegmenter, g711uRoundTrip, synthesizeSpeech } from '../src/sandbox/speechSignal.js';
import type { VAD } from '@livekit/agents';
import { EmulatedCaller } from '../src/simulate/caller.js';
import { loadScenario } from '../src/simulate/scenario.js';
import { type SimEvent, simulateCall } from '../src/simulate/simulatedCall.js';
import { openStore } from '../src/store/index.js';
import type { CallerLine, ChildInit, ChildTotals, FromChild, SandboxOp, ToChild } from './callProtocol.js';

/** simulateCall checks whose truth lives in the parent (it owns the model script and the API log). */
const PARENT_OWNED_CHECKS = [/^every scripted model reply was used/, /^room deleted exactly once/];

function send(msg: FromChild): void {
  process.send?.(msg);
}

/** SimSandbox over IPC. Extra members (e.g. livekit.setOutcome) are forwarded too, if simulateCall uses them. */
class SandboxProxy {
  readonly msPerChar: number;
  readonly livekit;
  readonly openai;
  readonly deepgram;
  private readonly deleteRoomCalls = new Map<string, number>();
  private readonly roomListeners = new Set<(ev: { room: string }) => void>();

  constructor(init: ChildInit) {
    const forward = (m: SandboxOp) => send({ type: 'sandbox', ...m });
    this.msPerChar = init.msPerChar;
    this.livekit = {
      env: () => ({ ...init.livekitEnv }),
      setOutcome: (number: string, outcome: string): void => forward({ op: 'livekit.setOutcome', args: [number, outcome] }),
      joinParticipant: (room: string, p: { identity: string; kind?: 'sip' | 'standard'; attributes?: Record<string, string> }): unknown => {
        forward({ op: 'livekit.joinParticipant', args: [room, p] });
        return undefined;
      },
      onRoomDeleted: (cb: (ev: { room: string }) => void): (() => void) => {
        this.roomListeners.add(cb);
        return () => void this.roomListeners.delete(cb);
      },
      onCallStatus: (): (() => void) => {
        throw new Error('the sandbox proxy runs inbound calls only: it does not forward sip.callStatus changes');
      },
      count: (method: string, body?: Record<string, unknown>): number => {
        if (method === 'DeleteRoom' && typeof body?.room === 'string' && Object.keys(body).length === 1) {
          return this.deleteRoomCalls.get(body.room) ?? 0;
        }
        throw new Error(`the sandbox proxy does not answer count(${method}, ${JSON.stringify(body)})`);
      },
    };
    this.openai = {
      setBrain: (key: string, _brain: unknown): void => forward({ op: 'openai.setBrain', args: [key] }),
      removeBrain: (key: string): void => forward({ op: 'openai.removeBrain', args: [key] }),
    };
    this.deepgram = {
      expect: (key: string, ...texts: string[]): void => forward({ op: 'deepgram.expect', args: [key, ...texts] }),
    };
  }

  roomDeleted(room: string, deleteRoomCalls: number): void {
    this.deleteRoomCalls.set(room, deleteRoomCalls);
    for (const cb of this.roomListeners) cb({ room });
  }
}

/**
 * Where a line's audio energy ends (ms from its first sample), by the STT emulator's own rule
 * (10 ms windows above 0.01 RMS), after the G.711 round trip the phone leg applies.
 */
function energyEndMs(text: string, msPerChar: number, sampleRate: number, phone: boolean): number {
  const pcm = synthesizeSpeech(text, { sampleRate, msPerChar });
  const seg = new EnergySegmenter({ sampleRate });
  seg.push(phone ? g711uRoundTrip(pcm) : pcm);
  return seg.lastSpeechEndSec * 1000;
}

/**
 * Benchmark instrumentation: learn when each caller line really starts on the emulated caller's
 * frame clock. simulateCall emits the 'caller' event and calls caller.say() in the same tick, so
 * the line recorded by the event is the one this say() speaks. The caller sends frame k of its
 * stream once t0 + 20·(k+1) has passed; the line's first sample is frame `sent`.
 */
let pendingLine: CallerLine | undefined;
const energyEnds = new Map<string, number>();
function instrumentCaller(msPerChar: number): void {
  const say = EmulatedCaller.prototype.say;
  EmulatedCaller.prototype.say = function (this: EmulatedCaller, text: string) {
    const spoken = say.call(this, text);
    const line = pendingLine;
    pendingLine = undefined;
    const self = this as unknown as { t0?: unknown; sent?: unknown; opts?: { rate?: number; phone?: boolean } };
    if (line && line.text === text && typeof self.t0 === 'number' && typeof self.sent === 'number') {
      const rate = self.opts?.rate ?? 8000;
      const phone = self.opts?.phone ?? true;
      const k = `${rate}/${phone}/${text}`;
      if (!energyEnds.has(k)) energyEnds.set(k, energyEndMs(text, msPerChar, rate, phone));
      const lineStart = self.t0 + self.sent * 20;
      line.speechEndAt = lineStart + energyEnds.get(k)!;
      // The 20 ms packet that carries the last of the speech leaves at the end of its frame.
      line.speechEndSentAt = lineStart + Math.ceil(energyEnds.get(k)! / 20) * 20;
    }
    return spoken;
  };
}

/** Set up by the parent's init message, which arrives right after this host's prewarm. */
let setup: Promise<{ init: ChildInit; sandbox: SimSandbox; store: ReturnType<typeof openStore>; prices: ReturnType<typeof loadPriceTable>; config: ReturnType<typeof loadConfig>; scenario: ReturnType<typeof loadScenario> }> | undefined;

const loopDelay = monitorEventLoopDelay({ resolution: 10 });
let cpu0: NodeJS.CpuUsage | undefined;
let t0 = 0;
let lastEnd: ChildTotals | undefined;
let running = 0;

function listen(): void {
  let resolveSetup!: (v: Awaited<NonNullable<typeof setup>>) => void;
  setup = new Promise((r) => (resolveSetup = r));
  let proxy: SandboxProxy | undefined;
  process.on('message', (m: ToChild) => {
    switch (m?.type) {
      case 'init': {
        const config = loadConfig(m.env);
        proxy = new SandboxProxy(m);
        instrumentCaller(m.msPerChar);
        const scenario = loadScenario(m.scenarioFile);
        // Precompute each line's energy end now, so no call pays the synthesis inside say().
        for (const st of scenario.steps) {
          if ('caller' in st) energyEnds.set(`8000/true/${st.caller}`, energyEndMs(st.caller, m.msPerChar, 8000, true));
        }
        resolveSetup({ init: m, sandbox: proxy, store: openStore(config.STORE_PATH), prices: loadPriceTable(config.PRICES_FILE), config, scenario });
        return;
      }
      case 'roomDeleted':
        proxy?.roomDeleted(m.room, m.deleteRoomCalls);
        return;
      case 'totals':
        if (lastEnd) send({ type: 'totals', totals: lastEnd });
        return;
    }
  });
}

async function runOne(callId: string, vad: VAD): Promise<void> {
  const { init, sandbox, store, prices, config, scenario } = await setup!;
  if (!cpu0) {
    cpu0 = process.cpuUsage();
    t0 = performance.now();
    loopDelay.enable();
  }
  running++;
  const callerLines: CallerLine[] = [];
  const startedAt = Date.now();
  try {
    const r = await simulateCall(scenario, { sandbox, config, store, vad, prices }, {
      speed: init.speed,
      callId,
      onEvent: (ev: SimEvent) => {
        if (ev.type === 'caller') {
          pendingLine = { text: ev.text, at: ev.at, speechEndAt: null, speechEndSentAt: null };
          callerLines.push(pendingLine);
        }
      },
    });
    const latency = r.record.latency as { turns?: TurnLatency[] } | undefined;
    send({
      type: 'done',
      result: {
        callId,
        room: r.room,
        outcome: r.outcome?.kind ?? null,
        failedChecks: r.checks.filter((c) => !c.ok && !PARENT_OWNED_CHECKS.some((re) => re.test(c.what))).map((c) => `${c.what}: ${c.detail ?? ''}`),
        underruns: r.underruns,
        heardAgentMs: r.heardAgentMs,
        turns: latency?.turns ?? [],
        callerLines,
        startedAt,
        endedAt: Date.now(),
      },
    });
  } catch (err) {
    send({ type: 'failed', callId, error: (err as Error)?.stack ?? String(err) });
  } finally {
    running--;
    if (running === 0) {
      // The measurement window: first call's start to the last call's end in this process.
      const cpu = process.cpuUsage(cpu0);
      lastEnd = {
        cpuUs: cpu.user + cpu.system,
        wallMs: performance.now() - t0,
        loopDelayMs: { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
        rssEndBytes: process.memoryUsage().rss,
      };
    }
  }
}

interface ProcData extends Record<string, unknown> {
  vad: VAD;
}

export default defineAgent<ProcData>({
  // The worker's own prewarm, so a host here holds what a worker's host holds.
  prewarm: async (proc: JobProcess<ProcData>) => {
    listen();
    await worker.prewarm!(proc);
  },
  entry: async (ctx: JobContext<ProcData>) => {
    try {
      await runOne(ctx.job.id, ctx.proc.userData.vad);
    } finally {
      ctx.shutdown('call ended');
    }
  },
});
