/**
 * One simulated phone call: the real call lifecycle, agents, tools and store, the real provider
 * plugins against the sandbox emulators (or, live, against the real providers), and an emulated
 * caller on a G.711 line playing a scenario. The room is not real: audio goes through local I/O
 * instead, and LiveKit's server API is always the sandbox's emulator.
 *
 * This module is the call's wiring: the world is set up by callWorld.ts, the caller's steps are
 * played by scenarioDriver.ts, and what must hold afterwards is checked by callChecks.ts; here the
 * caller's phone line is joined to the session and the call's hooks to the emulated world.
 */
import { voice } from '@livekit/agents';
import type { VAD } from '@livekit/agents';
import type { SipClient } from 'livekit-server-sdk';
import type { CallUserdata } from '../../tools/callContext.js';
import { type CallDeps, type CallIo, type CallResult, abortCall, runCall } from '../call/callLifecycle.js';
import { type CallSetup, callSetupFor } from '../call/callSetup.js';
import type { WarmTransferRequest } from '../call/transfer.js';
import type { Config } from '../config.js';
import type { PriceTable } from '../cost/index.js';
import { livekitRoomApi } from '../livekit/roomApi.js';
import type { SimLiveKit, SimSandbox } from '../sandbox/sandbox.js';
import type { CallRecord, Store } from '../store/index.js';
import { checkCall } from './callChecks.js';
import { EmulatedCaller } from './caller.js';
import type { CallerVoice } from './callerVoice.js';
import { type CallWorld, setUpWorld } from './callWorld.js';
import { PacedAudioOutput, PushAudioInput } from './localAudio.js';
import { RunningTools, playScenario } from './scenarioDriver.js';
import type { Scenario } from './scenario.js';

export type SimEvent =
  | { type: 'caller'; text: string; at: number }
  | { type: 'agent'; text: string; agent: string; at: number }
  | { type: 'tool'; name: string; args: string; output: string; isError: boolean; at: number }
  | { type: 'handoff'; to: string; at: number }
  | { type: 'note'; text: string; at: number };

export interface SimulationEnv {
  /** LiveKit's server API, and the provider emulators unless `live` is set. */
  sandbox: SimSandbox | SimLiveKit;
  config: Config;
  store: Store;
  vad: VAD;
  prices?: PriceTable;
  /**
   * Real providers (`simulate --live`): the STT, LLM and TTS the config names, with its keys and
   * URLs; the model decides for itself (a scenario's `model` replies are not used), and the caller's
   * lines are spoken by `callerVoice`. Unset: every provider is the sandbox's emulator.
   */
  live?: { callerVoice: Pick<CallerVoice, 'speak'> };
}

export interface SimulateOptions {
  /** Agent audio playback speed (1 = real time; latency figures need 1). */
  speed?: number;
  /** Fixed call id (benchmarks route provider traffic by it); random otherwise. */
  callId?: string;
  /** An outbound job that came through a dispatch (the sandbox): its room, contact and campaign. */
  job?: { room: string; campaignId?: string; contactId?: string; appointmentId?: string };
  onEvent?: (ev: SimEvent) => void;
  /**
   * Stands in for the framework's warm transfer (which needs a LiveKit room and so cannot run in a
   * simulation). Without it, a scenario's `transfer.warmDial` plays just the dial.
   */
  warmTransfer?: (req: WarmTransferRequest, call: WarmTransferCall) => Promise<void>;
}

/** What a stand-in warm transfer may use: the SIP API, the room, and the caller's phone. */
export interface WarmTransferCall {
  sip: SipClient;
  room: string;
  config: Config;
  /** The caller hangs up (after talking to the person the transfer connected them to). */
  hangUpCaller: () => void;
}

export interface Check {
  what: string;
  ok: boolean;
  detail?: string;
}

export interface SimulationReport {
  scenario: string;
  callId: string;
  /** Who the STT, LLM and TTS were: the sandbox's emulators, or the real providers. */
  providers: 'emulated' | 'live';
  room: string;
  outcome: CallRecord['outcome'];
  agents: string[];
  roomDeleted: boolean;
  deleteRoomCalls: number;
  /** Epoch ms of the DeleteRoom the LiveKit API received. */
  roomDeletedAt: number | null;
  /** Epoch ms at which the last agent audio finished playing to the caller. */
  agentAudioEndedAt: number | null;
  userdata: unknown;
  record: CallRecord;
  heardAgentMs: number;
  /**
   * The agent's last line (the goodbye, when it says one): how long its synthesis was and how much
   * of it the caller heard before the line closed. Null live, or when the TTS never finished it.
   */
  lastLine: { text: string; synthesized: boolean; synthesizedMs: number; heardMs: number } | null;
  /** Agent audio frames that reached the output after their playout slot (audible gaps). */
  underruns: number;
  /** The stereo µ-law recording (caller left, agent right), when RECORDING_DIR is set. */
  recordingPath: string | null;
  /** Transfer attempts, in order (the call record has them as system lines). */
  transfers: CallResult['transfers'];
  /** Keypad tones the agent sent, as the caller heard them. */
  keysSent: string;
  checks: Check[];
  /**
   * Expectations not checked on this call: live, those about what the model chose to do (its
   * words, tools, bookings), which only the scenario's scripted model makes certain.
   */
  notChecked: string[];
  passed: boolean;
}

export async function simulateCall(scenario: Scenario, env: SimulationEnv, options: SimulateOptions = {}): Promise<SimulationReport> {
  if (env.live && scenario.offlineOnly) throw new Error(`"${scenario.name}" is offline-only: ${scenario.offlineOnly}`);
  const emit = options.onEvent ?? (() => undefined);
  const tools = new RunningTools();
  const world = await setUpWorld(scenario, env, options, (names) => tools.requested(names));
  let setup: CallSetup;
  try {
    setup = callSetup(scenario, world, options.job);
  } catch (err) {
    // A refused number or a missing trunk: nothing is dialled. The call ends as the worker ends it
    // (an errored record, the room deleted), and the world leaves the shared sandbox as an ended
    // call's does (its model script and room listeners would stay for good).
    const deps = callDeps(env, world);
    const { callId, room } = world;
    await abortCall({ callId, room, direction: world.outbound ? 'outbound' : 'inbound', callerNumber: scenario.caller, campaignId: options.job?.campaignId, contactId: options.job?.contactId }, deps, (err as Error).message);
    world.leave();
    throw err;
  }
  const line = phoneLine(world, options.speed ?? 1);
  const shutdown = new AbortController();
  const call = callIo(world, line, { shutdown: shutdown.signal, emit, tools, warmTransfer: warmTransferFor(scenario, options) });
  const callDone = runCall(setup, callDeps(env, world), call.io);
  const played = await playScenario(
    { scenario, world, caller: line.caller, output: line.output, tools, ready: call.ready, session: call.session, keypad: () => line.keypad, shutdown, emit },
    callDone,
  );
  const result = await callDone;
  line.caller.hangUp();
  await line.input.close().catch(() => undefined);
  world.leave();

  const report = reportOf(scenario, env, world, line, result);
  const verdict = await checkCall({ ...scenario, expect: world.expect }, report, env, {
    key: world.key,
    room: world.room,
    config: world.config,
    unusedReplies: world.script.remaining,
    driverError: played.error,
  });
  return Object.assign(report, verdict);
}

/** What runCall is told about the call: built by the worker's own `callSetupFor`, so the two cannot drift. */
function callSetup(scenario: Scenario, world: CallWorld, job: SimulateOptions['job']): CallSetup {
  const { callId, room, profile, contact, config } = world;
  if (world.outbound) {
    return callSetupFor(
      { callId, room },
      { kind: 'outbound', profile, phoneNumber: scenario.caller, contact, campaignId: job?.campaignId, contactId: job?.contactId },
      config,
    );
  }
  return callSetupFor({ callId, room }, profile === 'phone' ? { kind: 'inbound', profile, callerNumber: scenario.caller } : { kind: 'browser' }, config);
}

function callDeps(env: SimulationEnv, world: CallWorld): CallDeps {
  return {
    config: world.config,
    store: world.faults.store,
    vad: env.vad,
    roomApi: livekitRoomApi(env.sandbox.livekit.env()),
    now: world.now,
    // Emulated providers route each call by its key; real ones get the config's keys.
    providerKeys: world.emulators ? { openai: world.key, deepgram: world.key, cartesia: world.key } : {},
    prices: env.prices,
    sip: world.sip,
  };
}

/** The caller's phone joined to the session's audio, and what the caller heard of the agent. */
interface PhoneLine {
  caller: EmulatedCaller;
  input: PushAudioInput;
  output: PacedAudioOutput;
  /** How much of each line the agent spoke reached the caller: the last one is the goodbye. */
  heardRuns: { startAt: number; ms: number }[];
  /** Epoch ms at which the last agent audio finished playing to the caller. */
  agentAudioEndedAt: number | null;
  /** Set by the call: where the caller's audio goes for the recording, and where their keys go. */
  callerAudio?: (pcm: Int16Array, rate: number, at: number) => void;
  keypad?: (key: string) => void;
}

function phoneLine(world: CallWorld, speed: number): PhoneLine {
  const input = new PushAudioInput(world.rate);
  const caller = new EmulatedCaller({
    send: (pcm) => input.push(pcm),
    rate: world.rate,
    phone: world.profile === 'phone',
    msPerChar: world.emulators?.msPerChar,
    ...(world.voice ? { voice: world.voice } : {}),
    onLineAudio: (side, pcm, r, at) => {
      if (side === 'caller') line.callerAudio?.(new Int16Array(pcm), r, at);
    },
  });
  const output = new PacedAudioOutput(world.rate, {
    speed,
    onSegmentStart: (at) => line.heardRuns.push({ startAt: at, ms: 0 }),
    onFrame: (f) => {
      caller.hear(f);
      const ms = (f.pcm.length / f.sampleRate) * 1000;
      const run = line.heardRuns.at(-1);
      if (run) run.ms += ms;
      line.agentAudioEndedAt = f.at + ms / speed;
    },
  });
  const line: PhoneLine = { caller, input, output, heardRuns: [], agentAudioEndedAt: null };
  return line;
}

/**
 * The call's hooks into the simulated world. `ready` resolves when the caller may begin: once the
 * session is observed (inbound), or once it has started and the callee's phone answered (outbound).
 */
function callIo(
  world: CallWorld,
  line: PhoneLine,
  hooks: {
    shutdown: AbortSignal;
    emit: (ev: SimEvent) => void;
    tools: RunningTools;
    warmTransfer?: NonNullable<SimulateOptions['warmTransfer']>;
  },
): { io: CallIo; ready: Promise<void>; session: () => voice.AgentSession<CallUserdata> | undefined } {
  const { caller, input, output } = line;
  const { sip, room, config, outbound, callerIdentity } = world;
  const { emit, warmTransfer: warm } = hooks;
  let session: voice.AgentSession<CallUserdata> | undefined;
  let sessionReady!: () => void;
  const ready = new Promise<void>((r) => (sessionReady = r));
  const io: CallIo = {
    start: async (s, agent) => {
      s.input.audio = input;
      s.output.audio = output;
      await s.start({ agent });
      await world.answered;
      caller.start();
      if (outbound) sessionReady();
    },
    hungUp: caller.hungUp,
    shutdown: hooks.shutdown,
    onCallerAudio: (listener) => (line.callerAudio = listener),
    audioUnderruns: () => output.underruns,
    observe: (s) => {
      session = s;
      narrate(s, emit);
      hooks.tools.watch(s);
      if (!outbound) sessionReady();
    },
    ...(world.profile === 'phone'
      ? {
          transfer: async (to: string, { ringSeconds, headers }: { ringSeconds: number; headers?: Record<string, string> }) => {
            await sip.transferSipParticipant(room, callerIdentity, to, { playDialtone: true, ringingTimeout: ringSeconds, ...(headers ? { headers } : {}) });
            // The caller's leg has left the room for the person it was handed to.
            emit({ type: 'note', text: `the caller is transferred to ${to}`, at: Date.now() });
            caller.hangUp();
          },
          ...(warm ? { warmTransfer: (r: WarmTransferRequest) => warm(r, { sip, room, config, hangUpCaller: () => caller.hangUp() }) } : {}),
          onDtmf: (listener: (key: string) => void) => (line.keypad = listener),
          publishDtmf: async (_code: number, key: string) => caller.receiveKey(key),
        }
      : {}),
  };
  return { io, ready, session: () => session };
}

/** The warm transfer a scenario gets: the caller's stand-in, or just the dial when it scripts one. */
function warmTransferFor(scenario: Scenario, options: SimulateOptions): SimulateOptions['warmTransfer'] {
  if (scenario.transfer?.mode !== 'warm') return undefined;
  return options.warmTransfer ?? (scenario.transfer.warmDial ? dialOnlyWarmTransfer : undefined);
}

function reportOf(scenario: Scenario, env: SimulationEnv, world: CallWorld, line: PhoneLine, result: CallResult): SimulationReport {
  const { room, emulators, key } = world;
  const deleteRoomCalls = env.sandbox.livekit.count('DeleteRoom', { room });
  const record = result.record;
  const lastLine = [...(record.transcript ?? [])].reverse().find((l) => l.role === 'agent');
  return {
    scenario: scenario.name,
    callId: world.callId,
    providers: env.live ? 'live' : 'emulated',
    room,
    outcome: record.outcome,
    agents: record.agents ?? [],
    roomDeleted: deleteRoomCalls === 1 && result.roomDeleted,
    deleteRoomCalls,
    roomDeletedAt: world.roomDeletedAt(),
    agentAudioEndedAt: line.agentAudioEndedAt,
    userdata: record.userdata,
    record,
    heardAgentMs: Math.round(line.caller.heardMs),
    lastLine: lastLine && emulators ? lastLineHeard(lastLine.text, emulators.cartesia?.generationsFor?.(key) ?? [], line.heardRuns) : null,
    underruns: line.output.underruns,
    recordingPath: record.recordingPath ?? null,
    transfers: result.transfers,
    keysSent: result.keysSent,
    checks: [],
    notChecked: [],
    passed: false,
  };
}

/** The last line's synthesis (the emulator's record of it) against the last stretch of audio the caller heard. */
function lastLineHeard(
  text: string,
  generations: readonly { text: string; audioMs: number; outcome?: string }[],
  heardRuns: readonly { ms: number }[],
): SimulationReport['lastLine'] {
  const norm = (t: string) => t.replace(/\s+/g, ' ').trim();
  const gen = [...generations].reverse().find((g) => norm(g.text) === norm(text));
  if (!gen) return null;
  return { text, synthesized: gen.outcome === 'done', synthesizedMs: gen.audioMs, heardMs: heardRuns.at(-1)?.ms ?? 0 };
}

/** Prints the conversation as it happens. */
function narrate(s: voice.AgentSession<CallUserdata>, emit: (ev: SimEvent) => void): void {
  let agent = 'intro';
  s.on(voice.AgentSessionEventTypes.ConversationItemAdded, ({ item }) => {
    if (item.type === 'agent_handoff') {
      // The session reports its first agent as a handoff too; only real changes are news.
      if (item.newAgentId === agent) return;
      agent = item.newAgentId;
      emit({ type: 'handoff', to: agent, at: Date.now() });
    } else if (item.type === 'message' && item.role === 'assistant' && item.textContent) {
      emit({ type: 'agent', text: item.textContent, agent, at: Date.now() });
    }
  });
  s.on(voice.AgentSessionEventTypes.FunctionToolsExecuted, (ev) => {
    ev.functionCalls.forEach((c, i) => {
      const out = ev.functionCallOutputs[i];
      emit({ type: 'tool', name: c.name, args: c.args, output: out?.output ?? '', isError: out?.isError ?? false, at: Date.now() });
    });
  });
}

/**
 * The dial a warm transfer starts with, as the framework's WarmTransferTask makes it: the person
 * is called into a side room with waitUntilAnswered. The rest of the task (briefing them there,
 * then MoveParticipant into the caller's room) needs a LiveKit room with media, which a simulated
 * call does not have, so an answered dial ends here as a failure that says so.
 */
async function dialOnlyWarmTransfer(req: WarmTransferRequest, call: WarmTransferCall): Promise<void> {
  const side = `${call.room}-human-agent`;
  try {
    await call.sip.createSipParticipant(call.config.SIP_OUTBOUND_TRUNK_ID ?? '', req.number, side, {
      participantIdentity: 'human-agent-sip',
      waitUntilAnswered: true,
      ringingTimeout: req.ringSeconds,
      ...(call.config.CALLER_ID ? { fromNumber: call.config.CALLER_ID } : {}),
    });
  } catch {
    // The framework reports every failed dial with this one message.
    throw new Error('could not dial human agent');
  } finally {
    // The framework deletes its side room when the task ends, whatever happened.
    await livekitRoomApi(call.config).deleteRoom(side).catch(() => undefined);
  }
  throw new Error('the person answered, but a simulated call has no room to brief them in');
}
