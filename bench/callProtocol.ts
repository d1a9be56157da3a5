// The benchmark's own IPC messages between `bench/calls.ts` (the parent: one Sandbox, the
// measurements) and `bench/callAgent.ts` in each call host. They share the host's channel with
// the host protocol (src/host/protocol.ts), which ignores them: they have no `host` field.
// Calls themselves start as host jobs (job id = call id). Everything crosses process.send() as JSON.

import type { TurnLatency } from '../src/call/latency.js';

/** Sandbox operations a child forwards to the parent's real Sandbox (SimSandbox, minus reads). */
export type SandboxOp =
  | { op: 'livekit.joinParticipant'; args: [room: string, init: { identity: string; kind?: 'sip' | 'standard'; attributes?: Record<string, string> }] }
  | { op: 'livekit.setOutcome'; args: [number: string, outcome: string] }
  /** Brains are functions: the parent builds the scenario's model script itself for this key. */
  | { op: 'openai.setBrain'; args: [key: string] }
  | { op: 'openai.removeBrain'; args: [key: string] }
  | { op: 'deepgram.expect'; args: [key: string, ...texts: string[]] };

export interface ChildInit {
  type: 'init';
  /** The environment config is loaded from (the sandbox's URLs and keys included). */
  env: Record<string, string | undefined>;
  msPerChar: number;
  livekitEnv: { LIVEKIT_URL: string; LIVEKIT_API_KEY: string; LIVEKIT_API_SECRET: string };
  scenarioFile: string;
  speed: number;
}

export type ToChild =
  | ChildInit
  /** The LiveKit API emulator deleted this room; deleteRoomCalls is its DeleteRoom count so far. */
  | { type: 'roomDeleted'; room: string; deleteRoomCalls: number }
  /** All calls are over: report this process's totals. */
  | { type: 'totals' };

export interface CallerLine {
  text: string;
  /** Epoch ms the emulated caller began this line. */
  at: number;
  /**
   * Epoch ms at which the caller's signal really stopped: the line's place on the caller's 20 ms
   * frame clock plus where its synthesized audio (after the G.711 leg) last rises above the STT
   * emulator's energy threshold. Null when the caller's clock could not be read.
   */
  speechEndAt: number | null;
  /**
   * Epoch ms at which the 20 ms packet carrying the end of the speech left the caller: the first
   * moment anything past the phone leg could know the speech had ended. Null as above.
   */
  speechEndSentAt: number | null;
}

export interface ChildCallResult {
  callId: string;
  room: string;
  outcome: string | null;
  /** simulateCall's own checks, except the model-script one (the parent owns the script). */
  failedChecks: string[];
  underruns: number;
  heardAgentMs: number;
  turns: TurnLatency[];
  callerLines: CallerLine[];
  startedAt: number;
  endedAt: number;
}

export interface ChildTotals {
  /** CPU time of the whole child process (all threads) from its first call's start to its last call's end. */
  cpuUs: number;
  wallMs: number;
  /** Event-loop delay over the same window (perf_hooks.monitorEventLoopDelay). */
  loopDelayMs: { p50: number; p99: number; max: number };
  /** process.memoryUsage().rss when the last call ended (the parent samples /proc during the calls). */
  rssEndBytes: number;
}

export type FromChild =
  | ({ type: 'sandbox' } & SandboxOp)
  | { type: 'done'; result: ChildCallResult }
  | { type: 'failed'; callId: string; error: string }
  | { type: 'totals'; totals: ChildTotals };
