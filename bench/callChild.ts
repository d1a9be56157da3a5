// A call process for `bench/calls.ts`, run the way the production worker runs a job: a forked
// Node process that loads its own Silero VAD before any call starts (the worker's prewarm), then
// runs simulated calls through the real lifecycle, agents, store and provider plugins.
//
// The outside world is the parent's single Sandbox. This process only sees a proxy of it
// (SimSandbox): the few calls simulateCall makes are forwarded over IPC, and the one read it does
// (DeleteRoom count) is answered from counts the parent pushes. Provider traffic goes straight to
// the parent's emulators over loopback, routed by each call's key `sandbox-<callId>`.
//
// Process mode gives each child one call; inprocess mode gives one child all N calls, sharing its
// one VAD, so both modes are measured the same way (on the child, emulators excluded).
import './logger.js';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { dispose } from '@livekit/rtc-node';
import type { TurnLatency } from '../src/call/latency.js';
import { loadConfig } from '../src/config.js';
import { loadPriceTable } from '../src/cost/index.js';
import type { SimSandbox } from '../src/sandbox/sandbox.js';
import { EnergySegmenter, g711uRoundTrip, synthesizeSpeech } from '../src/sandbox/speechSignal.js';
import { loadVad } from '../src/session/sessionFactory.js';
import { EmulatedCaller } from '../src/simulate/caller.js';
import { loadScenario } from '../src/simulate/scenario.js';
import { type SimEvent, simulateCall } from '../src/simulate/simulatedCall.js';
import { openStore } from '../src/store/index.js';
import type { CallerLine, ChildInit, FromChild, SandboxOp, ToChild } from './callProtocol.js';

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
      line.speechEndAt = self.t0 + self.sent * 20 + energyEnds.get(k)!;
    }
    return spoken;
  };
}

async function main(): Promise<void> {
  const init = await new Promise<ChildInit>((resolve) => {
    const onInit = (m: ToChild) => {
      if (m.type !== 'init') return;
      process.off('message', onInit);
      resolve(m);
    };
    process.on('message', onInit);
  });
  const config = loadConfig(init.env);
  const store = openStore(config.STORE_PATH);
  const prices = loadPriceTable(config.PRICES_FILE);
  const scenario = loadScenario(init.scenarioFile);
  const proxy = new SandboxProxy(init);
  const sandbox: SimSandbox = proxy;
  instrumentCaller(init.msPerChar);
  // Precompute each line's energy end now, so no call pays the synthesis inside say().
  for (const s of scenario.steps) {
    if ('caller' in s) energyEnds.set(`8000/true/${s.caller}`, energyEndMs(s.caller, init.msPerChar, 8000, true));
  }

  // The worker's prewarm: the VAD is loaded before the job (call) arrives.
  const t = performance.now();
  const vad = await loadVad();
  const vadLoadMs = performance.now() - t;

  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  let cpu0: NodeJS.CpuUsage | undefined;
  let t0 = 0;
  let finished = 0;
  const calls = init.calls;

  const runOne = async (callId: string) => {
    if (!cpu0) {
      cpu0 = process.cpuUsage();
      t0 = performance.now();
      loopDelay.enable();
    }
    const callerLines: CallerLine[] = [];
    const startedAt = Date.now();
    try {
      const r = await simulateCall(scenario, { sandbox, config, store, vad, prices }, {
        speed: init.speed,
        callId,
        onEvent: (ev: SimEvent) => {
          if (ev.type === 'caller') {
            pendingLine = { text: ev.text, at: ev.at, speechEndAt: null };
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
      finished++;
      if (finished === calls) {
        const cpu = process.cpuUsage(cpu0);
        loopDelay.disable();
        send({
          type: 'totals',
          totals: {
            cpuUs: cpu.user + cpu.system,
            wallMs: performance.now() - t0,
            loopDelayMs: {
              p50: loopDelay.percentile(50) / 1e6,
              p99: loopDelay.percentile(99) / 1e6,
              max: loopDelay.max / 1e6,
            },
            rssEndBytes: process.memoryUsage().rss,
          },
        });
      }
    }
  };

  const done = new Promise<void>((resolve) => {
    process.on('message', (m: ToChild) => {
      if (m.type === 'start') void runOne(m.callId);
      else if (m.type === 'roomDeleted') proxy.roomDeleted(m.room, m.deleteRoomCalls);
      else if (m.type === 'finish') resolve();
    });
    // The parent went away (killed on timeout): nothing left to report to.
    process.on('disconnect', () => resolve());
  });
  send({ type: 'ready', pid: process.pid, vadLoadMs, rssBytes: process.memoryUsage().rss });
  await done;
  await store.close();
  await dispose();
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(`bench call child ${process.pid}: ${(err as Error)?.stack ?? err}\n`);
  process.exit(1);
});
