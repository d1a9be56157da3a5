/**
 * One simulated phone call: the real call lifecycle, agents, tools and store, the real provider
 * plugins against the sandbox emulators (or, live, against the real providers), and an emulated
 * caller on a G.711 line playing a scenario. The room is not real: audio goes through local I/O
 * instead, and LiveKit's server API is always the sandbox's emulator.
 */
import { randomUUID } from 'node:crypto';
import { type VAD, delay, voice } from '@livekit/agents';
import type { CallUserdata } from '../../agents/userdata.js';
import { type CallResult, runCall } from '../call/callLifecycle.js';
import type { WarmTransferRequest } from '../call/transfer.js';
import type { Config } from '../config.js';
import type { PriceTable } from '../cost/index.js';
import { SipClient } from 'livekit-server-sdk';
import { dialRequest } from '../call/outboundDial.js';
import { livekitRoomApi } from '../livekit/roomApi.js';
import type { SimLiveKit, SimSandbox } from '../sandbox/sandbox.js';
import { PROFILE_RATES } from '../session/providers.js';
import type { CallRecord, Store } from '../store/index.js';
import { transferUri } from '../../tools/transfer.js';
import type { TelephonyRate } from '../telephony/rates.js';
import { EmulatedCaller } from './caller.js';
import type { CallerVoice } from './callerVoice.js';
import { PacedAudioOutput, PushAudioInput } from './localAudio.js';
import { modelScript, scriptedReply } from './modelScript.js';
import type { Scenario } from './scenario.js';
import { FAULT_NOTES, callFaults } from './faults.js';
import { checkSafeguards, clinicSettings } from './safeguardChecks.js';
import type { Fault } from './scenario.js';

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

const TURN_TIMEOUT_MS = 30_000;
const SETTLE_MS = 400;

/** The provider emulators a call drives (null when its providers are real). */
function emulatorsOf(env: SimulationEnv): SimSandbox | null {
  if (env.live) return null;
  if (!('openai' in env.sandbox)) throw new Error('a simulated call needs the provider emulators, or live providers');
  return env.sandbox;
}

export async function simulateCall(scenario: Scenario, env: SimulationEnv, options: SimulateOptions = {}): Promise<SimulationReport> {
  const { sandbox } = env;
  const emulators = emulatorsOf(env);
  if (env.live && scenario.offlineOnly) throw new Error(`"${scenario.name}" is offline-only: ${scenario.offlineOnly}`);
  const emit = options.onEvent ?? (() => undefined);
  const callId = options.callId ?? `sim_${randomUUID().slice(0, 8)}`;
  const room = options.job?.room ?? `sim-${callId}`;
  const key = `sandbox-${callId}`;
  const profile = scenario.direction === 'browser' ? 'browser' : 'phone';
  const rate = PROFILE_RATES[profile].room as TelephonyRate;
  const config: Config = {
    ...env.config,
    MAX_CALL_SECONDS: scenario.limits.maxCallSeconds ?? env.config.MAX_CALL_SECONDS,
    SILENCE_REPROMPT_SECONDS: scenario.limits.silenceRepromptSeconds ?? env.config.SILENCE_REPROMPT_SECONDS,
    SILENCE_TIMEOUT_SECONDS: scenario.limits.silenceTimeoutSeconds ?? env.config.SILENCE_TIMEOUT_SECONDS,
    HOLD_FILLER_MS: scenario.limits.holdFillerMs ?? env.config.HOLD_FILLER_MS,
    ...clinicSettings(scenario.settings, env.config),
    ...(scenario.transfer
      ? { TRANSFER_ALLOWLIST: scenario.transfer.allow, TRANSFER_MODE: scenario.transfer.mode, TRANSFER_FALLBACK: scenario.transfer.fallback }
      : {}),
  };
  // Live, the caller's lines are voiced before the call, so the call's timing is the providers' alone.
  const voiced = env.live ? await voiceLines(scenario, env.live.callerVoice, rate) : undefined;
  const lk = sandbox.livekit.env();
  const sip = new SipClient(lk.LIVEKIT_URL, lk.LIVEKIT_API_KEY, lk.LIVEKIT_API_SECRET);

  // The world before the call: the room (with the caller in it, unless we are about to dial them),
  // seeded appointments, the script, and how the callee's line answers.
  const outbound = scenario.direction === 'outbound';
  const callerIdentity = `sip_${scenario.caller}`;
  if (scenario.transfer) await setTransferWorld(lk.LIVEKIT_URL, scenario.transfer);
  if (outbound) {
    sandbox.livekit.joinParticipant(room, { identity: 'agent', kind: 'standard' });
    sandbox.livekit.setOutcome(scenario.caller, scenario.answer);
  } else if (profile === 'phone' && scenario.transfer) {
    // A transfer needs the caller's leg to be a live SIP session in the emulator (as every inbound
    // SIP participant is on LiveKit); a joined participant has none, so the leg is set up through
    // the SIP API instead.
    if (!config.SIP_OUTBOUND_TRUNK_ID) throw new Error('a transfer scenario needs SIP_OUTBOUND_TRUNK_ID (the sandbox creates one)');
    sandbox.livekit.setOutcome(scenario.caller, 'answer');
    await sip.createSipParticipant(config.SIP_OUTBOUND_TRUNK_ID, scenario.caller, room, {
      participantIdentity: callerIdentity,
      waitUntilAnswered: true,
    });
  } else {
    sandbox.livekit.joinParticipant(room, {
      identity: callerIdentity,
      kind: profile === 'phone' ? 'sip' : 'standard',
      attributes: profile === 'phone' ? { 'sip.phoneNumber': scenario.caller, 'sip.callStatus': 'active' } : {},
    });
  }
  const faults = callFaults(env.store, emulators, key);
  const seeded: string[] = [];
  for (const s of scenario.seed) {
    const booked = await env.store.appointments.book({ name: s.name, phone: s.phone, start: s.start, durationMin: 30, reason: null, callId: null });
    seeded.push(booked.ok ? booked.appointment.id : '');
  }
  let contact;
  if (scenario.direction === 'outbound' && scenario.contact) {
    let appointmentId: string | undefined = options.job?.appointmentId;
    if (!appointmentId && scenario.contact.appointment) {
      const booked = await env.store.appointments.book({
        name: scenario.contact.name,
        phone: scenario.caller,
        start: scenario.contact.appointment.start,
        durationMin: 30,
        reason: scenario.contact.appointment.reason ?? null,
        callId: null,
      });
      if (booked.ok) appointmentId = booked.appointment.id;
    }
    contact = { name: scenario.contact.name, appointmentId, fields: {} };
  }
  // `$appointment` in a script stands for the contact's appointment, whose id exists only now.
  const vars: Record<string, string> = { $appointment: contact?.appointmentId ?? '', ...Object.fromEntries(seeded.map((id, i) => [`$seed${i}`, id])) };
  const replies = substitute(scenario.steps.flatMap((s) => ('model' in s ? s.model : [])), vars).map(scriptedReply);
  const script = modelScript(replies, { amdLabel: scenario.answer === 'voicemail' ? 'machine-vm' : 'human' });
  const running = new RunningTools();
  emulators?.openai.setBrain(key, async (req) => {
    const before = script.remaining;
    const reply = await script.brain(req);
    if (script.remaining < before && 'toolCalls' in reply && reply.toolCalls?.length) running.requested(reply.toolCalls.map((c) => c.name));
    return reply;
  });

  const input = new GatedAudioInput(rate);
  let callerAudio: ((pcm: Int16Array, rate: number, at: number) => void) | undefined;
  let keypadListener: ((key: string) => void) | undefined;
  const caller = new EmulatedCaller({
    send: (pcm) => input.push(pcm),
    rate,
    phone: profile === 'phone',
    msPerChar: emulators?.msPerChar,
    ...(voiced ? { voice: (text: string) => voiced.get(text)! } : {}),
    onLineAudio: (side, pcm, r, at) => {
      if (side === 'caller') callerAudio?.(new Int16Array(pcm), r, at);
    },
  });
  const speed = options.speed ?? 1;
  let agentAudioEndedAt: number | null = null;
  // How much of each line the agent spoke reached the caller: the last one is the goodbye.
  const heardRuns: { startAt: number; ms: number }[] = [];
  const output = new PacedAudioOutput(rate, {
    speed,
    onSegmentStart: (at) => heardRuns.push({ startAt: at, ms: 0 }),
    onFrame: (f) => {
      caller.hear(f);
      const ms = (f.pcm.length / f.sampleRate) * 1000;
      const run = heardRuns.at(-1);
      if (run) run.ms += ms;
      agentAudioEndedAt = f.at + ms / speed;
    },
  });
  let roomDeletedAt: number | null = null;
  const offDeleted = sandbox.livekit.onRoomDeleted((ev) => {
    if (ev.room === room) roomDeletedAt ??= Date.now();
  });
  const shutdown = new AbortController();
  // The callee speaks only once their phone has answered (sip.callStatus=active), as on a real line.
  const answered = outbound
    ? new Promise<void>((resolve) => {
        const off = sandbox.livekit.onCallStatus((ev) => {
          if (ev.room === room && ev.identity === callerIdentity && ev.status === 'active') {
            off();
            resolve();
          }
        });
      })
    : Promise.resolve();

  let session: voice.AgentSession<CallUserdata> | undefined;
  let sessionReady!: () => void;
  const ready = new Promise<void>((r) => (sessionReady = r));
  const warm = scenario.transfer?.mode === 'warm' ? (options.warmTransfer ?? (scenario.transfer.warmDial ? dialOnlyWarmTransfer : undefined)) : undefined;
  const callDone = runCall(
    {
      callId,
      room,
      direction: scenario.direction,
      profile,
      callerNumber: profile === 'phone' ? scenario.caller : null,
      contact,
      campaignId: options.job?.campaignId,
      contactId: options.job?.contactId,
      ...(outbound
        ? {
            detectMachine: true,
            dial: dialRequest({ kind: 'outbound', phoneNumber: scenario.caller, contact: contact!, attempt: 1 }, room, config),
          }
        : {}),
    },
    {
      config,
      store: faults.store,
      vad: env.vad,
      roomApi: livekitRoomApi(sandbox.livekit.env()),
      now: clockFrom(scenario.now),
      // Emulated providers route each call by its key; real ones get the config's keys.
      providerKeys: emulators ? { openai: key, deepgram: key, cartesia: key } : {},
      prices: env.prices,
      sip,
    },
    {
      start: async (s, agent) => {
        s.input.audio = input;
        s.output.audio = output;
        await s.start({ agent });
        await answered;
        caller.start();
        if (outbound) sessionReady();
      },
      hungUp: caller.hungUp,
      shutdown: shutdown.signal,
      onCallerAudio: (listener) => (callerAudio = listener),
      audioUnderruns: () => output.underruns,
      observe: (s) => {
        session = s;
        narrate(s, emit);
        running.watch(s);
        if (!outbound) sessionReady();
      },
      ...(profile === 'phone'
        ? {
            transfer: async (to: string, { ringSeconds, headers }: { ringSeconds: number; headers?: Record<string, string> }) => {
              await sip.transferSipParticipant(room, callerIdentity, to, { playDialtone: true, ringingTimeout: ringSeconds, ...(headers ? { headers } : {}) });
              // The caller's leg has left the room for the person it was handed to.
              emit({ type: 'note', text: `the caller is transferred to ${to}`, at: Date.now() });
              caller.hangUp();
            },
            ...(warm ? { warmTransfer: (r: WarmTransferRequest) => warm(r, { sip, room, config, hangUpCaller: () => caller.hangUp() }) } : {}),
            onDtmf: (listener: (key: string) => void) => (keypadListener = listener),
            publishDtmf: async (_code: number, key: string) => caller.receiveKey(key),
          }
        : {}),
    },
  );
  let ended = false;
  void callDone.finally(() => (ended = true)).catch(() => undefined);

  const driver = (async () => {
    await Promise.race([ready, callDone]);
    if (!session || ended) return;
    const s = session;
    // What the STT was told to make of leaked tones. If the tones never became a transcript (the
    // call kept them from the STT), it must not be handed to the caller's next real line.
    let misheard: string | undefined;
    const dropUnusedMisheard = () => {
      if (misheard === undefined) return;
      const queue = (emulators?.deepgram as { channel?: (k: string) => { peek(): string | undefined; shift(): unknown } } | undefined)?.channel?.(key);
      if (queue?.peek() === misheard) queue.shift();
      misheard = undefined;
    };
    // A fault takes effect once the agent has finished its turn, just before the caller's next
    // step, so it always hits the same point of the conversation (not a reply still in flight).
    let pending: Fault[] = [];
    const applyFaults = () => {
      for (const fault of pending) {
        emit({ type: 'note', text: FAULT_NOTES[fault], at: Date.now() });
        faults.inject(fault);
      }
      pending = [];
    };
    for (const [index, step] of scenario.steps.entries()) {
      if (ended) return;
      if ('caller' in step) {
        // Whoever answers an outbound call speaks first ("Hello?", or a voicemail greeting).
        if (outbound && index === 0) {
          if (step.after) await delay(step.after);
        } else if (step.afterKeys !== undefined) {
          // A phone menu answers the keys it hears, whatever the agent is doing.
          await caller.waitForKeys(step.afterKeys, TURN_TIMEOUT_MS);
          if (step.after) await delay(step.after);
        } else if (step.bargeIn !== undefined) {
          await agentStartsSpeaking(s);
          await delay(step.bargeIn);
        } else {
          await agentDone(s, output, running);
          if (step.after) await delay(step.after);
        }
        if (ended) return;
        applyFaults();
        dropUnusedMisheard();
        emulators?.deepgram.expect(key, step.caller);
        emit({ type: 'caller', text: step.caller, at: Date.now() });
        await caller.say(step.caller);
      } else if ('pause' in step) {
        applyFaults();
        await delay(step.pause);
      } else if ('hangup' in step) {
        if (step.midReply) {
          await agentStartsSpeaking(s);
          await delay(300);
        } else {
          await agentDone(s, output, running);
        }
        applyFaults();
        emit({ type: 'note', text: 'caller hangs up', at: Date.now() });
        caller.hangUp();
        return;
      } else if ('silence' in step) {
        applyFaults();
        emit({ type: 'note', text: 'caller stays silent', at: Date.now() });
        return;
      } else if ('shutdown' in step) {
        await agentDone(s, output, running);
        applyFaults();
        emit({ type: 'note', text: 'the worker is shutting down', at: Date.now() });
        shutdown.abort();
        return;
      } else if ('fault' in step) {
        pending.push(step.fault);
      } else if ('slowStore' in step) {
        emit({ type: 'note', text: `the appointment store slows to ${step.slowStore} ms a call`, at: Date.now() });
        faults.slowStore(step.slowStore);
      } else {
        // The agent may still be in a tool waiting for these keys (it asked, then went quiet).
        await agentDone(s, output, running, { quietIsEnough: true });
        if (step.after) await delay(step.after);
        if (ended) return;
        applyFaults();
        if (!keypadListener) throw new Error('this call has no keypad (a browser session?)');
        // Tones that leak into the audio reach the STT; this is what it will make of them.
        if (step.misheardAs) {
          if (!emulators || !('channel' in emulators.deepgram)) throw new Error("misheardAs needs the in-process sandbox's STT queue (live, mark the scenario offlineOnly)");
          dropUnusedMisheard();
          emulators.deepgram.expect(key, step.misheardAs);
          misheard = step.misheardAs;
        }
        emit({ type: 'note', text: `caller presses ${step.dtmf}${step.inBand ? ' (tones audible on the line)' : ''}`, at: Date.now() });
        const listener = keypadListener;
        await caller.pressKeys(step.dtmf, (k) => listener(k), { inBand: step.inBand });
      }
    }
    // A fault at the end of the script still happens, after the caller's last step.
    if (!ended) applyFaults();
  })();

  let driverError: unknown;
  // The call may end before the script does (time limit, silence, an error): stop with it.
  await Promise.race([
    driver.catch((err) => {
      driverError = err;
      caller.hangUp();
    }),
    callDone.catch(() => undefined),
  ]);
  const result: CallResult = await callDone;
  caller.hangUp();
  await input.close().catch(() => undefined);
  emulators?.openai.removeBrain(key);
  offDeleted();

  const deleteRoomCalls = sandbox.livekit.count('DeleteRoom', { room });
  const record = result.record;
  const lastLine = [...(record.transcript ?? [])].reverse().find((l) => l.role === 'agent');
  const report: SimulationReport = {
    scenario: scenario.name,
    callId,
    providers: env.live ? 'live' : 'emulated',
    room,
    outcome: record.outcome,
    agents: record.agents ?? [],
    roomDeleted: deleteRoomCalls === 1 && result.roomDeleted,
    deleteRoomCalls,
    roomDeletedAt,
    agentAudioEndedAt,
    userdata: record.userdata,
    record,
    heardAgentMs: Math.round(caller.heardMs),
    lastLine: lastLine && emulators ? lastLineHeard(lastLine.text, emulators.cartesia?.generationsFor?.(key) ?? [], heardRuns) : null,
    underruns: output.underruns,
    recordingPath: record.recordingPath ?? null,
    transfers: result.transfers,
    keysSent: result.keysSent,
    checks: [],
    notChecked: [],
    passed: false,
  };
  const expected = { ...scenario, expect: substitute(scenario.expect, vars) };
  const checks = await checkExpectations(expected, report, env.store, script.remaining, driverError);
  checks.push(...(await checkSafeguards(expected, report, env, { key, room, config })));
  // Live, the model is real: what it chose to say and do is reported, not held to the script.
  report.checks = checks.filter((c) => !(env.live && c.scripted)).map(({ scripted: _s, ...c }) => c);
  report.notChecked = checks.filter((c) => env.live && c.scripted).map((c) => c.what);
  report.passed = report.checks.every((c) => c.ok);
  return report;
}

/**
 * Every expectation, checked. `scripted` marks those only the scenario's scripted model makes
 * certain (what the agent said, the tools and their effects): with a real model they are reported
 * as not checked. The rest hold whoever the model is: how the call ended, the agents it passed
 * through, and the room deleted once, after the last words.
 */
async function checkExpectations(
  scenario: Scenario,
  r: SimulationReport,
  store: Store,
  unusedReplies: number,
  driverError: unknown,
): Promise<(Check & { scripted: boolean })[]> {
  const e = scenario.expect;
  const checks: (Check & { scripted: boolean })[] = [];
  const add = (scripted: boolean) => (what: string, ok: boolean, detail?: string) =>
    checks.push({ what, ok, ...(ok ? {} : { detail }), scripted });
  const check = add(false);
  const scripted = add(true);
  if (driverError) check('the scenario ran to its end', false, (driverError as Error).message);
  check(`outcome is ${e.outcome}`, r.outcome?.kind === e.outcome, `got ${JSON.stringify(r.outcome)}`);
  check(`room deleted exactly once`, r.roomDeleted === e.roomDeleted, `DeleteRoom called ${r.deleteRoomCalls} times`);
  scripted('every scripted model reply was used', unusedReplies === 0, `${unusedReplies} left over`);
  const stored = await store.calls.get(r.callId);
  check('the call record was stored', stored?.finished === true && stored.outcome?.kind === r.outcome?.kind, `stored: ${JSON.stringify(stored?.outcome ?? null)}`);
  if (r.roomDeletedAt !== null && r.agentAudioEndedAt !== null) {
    check(
      'the room was deleted only after the agent finished speaking',
      r.roomDeletedAt >= r.agentAudioEndedAt,
      `deleted ${Math.round(r.agentAudioEndedAt - r.roomDeletedAt)} ms before the audio ended`,
    );
  }
  if (r.lastLine && r.outcome && !['hung_up', 'transferred'].includes(r.outcome.kind)) {
    // A goodbye cut short by the hang-up (the room deleted, the session closed while audio was
    // still on its way) would still pass the check above: the audio that never played never ended.
    check(
      'the caller heard the agent\'s last line in full',
      r.lastLine.synthesized && r.lastLine.heardMs >= r.lastLine.synthesizedMs - LAST_LINE_TOLERANCE_MS,
      r.lastLine.synthesized
        ? `"${r.lastLine.text}" is ${Math.round(r.lastLine.synthesizedMs)} ms long; the caller heard ${Math.round(r.lastLine.heardMs)} ms of it`
        : `"${r.lastLine.text}" was cut off while it was being spoken (the caller heard ${Math.round(r.lastLine.heardMs)} ms)`,
    );
  }
  if (e.agents) check(`agents ${e.agents.join(' → ')}`, JSON.stringify(r.agents) === JSON.stringify(e.agents), `got ${r.agents.join(' → ')}`);
  if (e.toolCalls) {
    const names = (r.record.toolCalls ?? []).map((t) => t.name);
    scripted(`tool calls ${e.toolCalls.join(', ')}`, JSON.stringify(names) === JSON.stringify(e.toolCalls), `got ${names.join(', ')}`);
  }
  if (e.appointments !== undefined) {
    const n = (await store.appointments.activeBetween('0000', '9999')).filter((a) => a.callId === r.callId).length;
    scripted(`${e.appointments} appointment(s) booked by this call`, n === e.appointments, `got ${n}`);
  }
  if (e.userdata) {
    const u = (r.userdata ?? {}) as Record<string, unknown>;
    for (const [k, v] of Object.entries(e.userdata)) {
      scripted(`userdata.${k} = ${JSON.stringify(v)}`, JSON.stringify(u[k]) === JSON.stringify(v), `got ${JSON.stringify(u[k])}`);
    }
  }
  const said = (r.record.transcript ?? []).filter((l) => l.role === 'agent').map((l) => l.text).join(' ');
  if (e.heard) {
    for (const h of e.heard) scripted(`agent said "${h}"`, said.includes(h), `agent said: ${said}`);
  }
  if (e.notHeard) {
    for (const h of e.notHeard) scripted(`agent never said "${h}"`, !said.includes(h), `agent said: ${said}`);
  }
  if (e.inTranscript) {
    const lines = (r.record.transcript ?? []).map((l) => `${l.role}: ${l.text}`);
    for (const t of e.inTranscript) {
      scripted(`the transcript has "${t}"`, lines.some((l) => l.includes(t)), `transcript: ${lines.join(' | ')}`);
    }
  }
  if (e.notInTranscript) {
    const lines = (r.record.transcript ?? []).map((l) => `${l.role}: ${l.text}`);
    for (const t of e.notInTranscript) {
      const hit = lines.find((l) => l.includes(t));
      scripted(`the transcript never has "${t}"`, hit === undefined, `found ${hit}`);
    }
  }
  if (e.transfers) {
    const got = r.transfers.map((t) => ({ to: t.to, result: t.result, mode: t.mode }));
    const want = e.transfers.map((t, i) => ({ ...t, mode: t.mode ?? got[i]?.mode }));
    scripted(
      `transfers ${e.transfers.map((t) => `${t.to ?? '(refused)'} ${t.result}`).join(', ')}`,
      JSON.stringify(got) === JSON.stringify(want),
      `got ${JSON.stringify(got)}`,
    );
  }
  if (e.keypad) {
    const lines = (r.record.transcript ?? []).filter((l) => l.role === 'caller' && l.text.startsWith('[keypad] ')).map((l) => l.text.slice(9));
    scripted(`caller keyed in ${e.keypad.join(', ')}`, JSON.stringify(lines) === JSON.stringify(e.keypad), `transcript has ${JSON.stringify(lines)}`);
  }
  if (e.keysSent !== undefined) {
    scripted(`agent pressed ${e.keysSent}`, r.keysSent === e.keysSent, `the caller heard "${r.keysSent}"`);
  }
  return checks;
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
 * Resolves when the agent has finished its turn: it spoke, stopped, and stayed quiet a moment.
 * With `quietIsEnough`, stopping to think counts too: a tool that asked a question and now waits
 * for keys keeps the agent "thinking" until the keys come.
 */
function agentDone(
  s: voice.AgentSession<CallUserdata>,
  output: PacedAudioOutput,
  tools: RunningTools,
  opts: { quietIsEnough?: boolean } = {},
): Promise<void> {
  return new Promise((resolve, reject) => {
    let spoke = false;
    let settle: NodeJS.Timeout | undefined;
    const timeout = setTimeout(() => finish(new Error(`the agent did not finish a reply within ${TURN_TIMEOUT_MS / 1000} s`)), TURN_TIMEOUT_MS);
    const onState = (ev: { newState: string; oldState?: string }) => {
      if (opts.quietIsEnough && ev.newState === 'thinking' && ev.oldState === 'speaking') {
        arm();
      } else if (ev.newState === 'speaking' || ev.newState === 'thinking') {
        spoke ||= ev.newState === 'speaking';
        if (settle) clearTimeout(settle);
        settle = undefined;
      } else if (ev.newState === 'listening' && spoke) {
        arm();
      }
    };
    const arm = () => {
      if (settle) clearTimeout(settle);
      settle = undefined;
      if (!opts.quietIsEnough && tools.open > 0) return;
      settle = setTimeout(() => {
        if (!opts.quietIsEnough && tools.open > 0) return;
        finish();
      }, Math.max(SETTLE_MS, output.playoutEndsAt - Date.now() + 50));
    };
    // A turn still running a tool is not over, even if the agent went quiet ("please hold", "one
    // moment"): a caller who heard that holds on. The check runs again when a turn finishes.
    const offSettled = tools.onSettled(() => {
      if (spoke && s.agentState === 'listening') arm();
    });
    const finish = (err?: Error) => {
      clearTimeout(timeout);
      if (settle) clearTimeout(settle);
      s.off(voice.AgentSessionEventTypes.AgentStateChanged, onState);
      offSettled();
      if (err) reject(err);
      else resolve();
    };
    s.on(voice.AgentSessionEventTypes.AgentStateChanged, onState);
    if (s.agentState === 'speaking') spoke = true;
  });
}

function agentStartsSpeaking(s: voice.AgentSession<CallUserdata>): Promise<void> {
  return new Promise((resolve, reject) => {
    const timeout = setTimeout(() => reject(new Error('the agent never started speaking')), TURN_TIMEOUT_MS);
    const onState = (ev: { newState: string }) => {
      if (ev.newState !== 'speaking') return;
      clearTimeout(timeout);
      s.off(voice.AgentSessionEventTypes.AgentStateChanged, onState);
      resolve();
    };
    s.on(voice.AgentSessionEventTypes.AgentStateChanged, onState);
  });
}

/** Each of the caller's lines, voiced once at the call's rate (the voice keeps its own cache). */
async function voiceLines(scenario: Scenario, voice: Pick<CallerVoice, 'speak'>, rate: number): Promise<Map<string, Int16Array>> {
  const voiced = new Map<string, Int16Array>();
  // One line at a time: a provider's concurrency limit is the account's, not this call's.
  for (const s of scenario.steps) {
    if ('caller' in s && !voiced.has(s.caller)) voiced.set(s.caller, await voice.speak(s.caller, rate));
  }
  return voiced;
}

function substitute<T>(value: T, vars: Record<string, string>): T {
  if (typeof value === 'string') return (vars[value] ?? value) as T;
  if (Array.isArray(value)) return value.map((v) => substitute(v, vars)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, vars)])) as T;
  }
  return value;
}

/** A clock that starts at the scenario's `now` and runs at real speed. */
function clockFrom(iso: string): () => Date {
  const offset = new Date(iso).getTime() - Date.now();
  return () => new Date(Date.now() + offset);
}

/** The emulator's answer for each transfer destination (and, for warm transfers, for the dial). */
async function setTransferWorld(livekitUrl: string, t: NonNullable<Scenario['transfer']>): Promise<void> {
  const transfer = Object.fromEntries(Object.entries(t.answers).map(([dest, answer]) => [transferUri(dest), answer]));
  const dial = t.warmDial ? Object.fromEntries(t.allow.filter((d) => !d.startsWith('sip:')).map((d) => [d.replace(/^tel:/, ''), t.warmDial])) : {};
  const res = await fetch(`${livekitUrl}/_emulator/outcomes`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ transfer, dial }),
  });
  if (!res.ok) throw new Error(`the LiveKit API emulator refused the transfer outcomes: HTTP ${res.status}`);
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

/**
 * The caller's audio into the session, with the framework's mute honoured as the room input
 * honours it: while the session has input audio disabled, frames are dropped, not queued.
 */
class GatedAudioInput extends PushAudioInput {
  private attached = true;

  override setAttached(attached: boolean): void {
    this.attached = attached;
  }

  override push(pcm: Int16Array): void {
    if (this.attached) super.push(pcm);
  }
}

/**
 * The tools the model has called that have not finished yet. A turn whose tool is still running is
 * not over, even when the agent has gone quiet after "please hold" or "one moment".
 */
class RunningTools {
  private readonly pending: string[] = [];
  private readonly listeners = new Set<() => void>();

  get open(): number {
    return this.pending.length;
  }

  /** A new scripted reply asked for these tools. */
  requested(names: string[]): void {
    this.pending.push(...names);
  }

  watch(s: voice.AgentSession<CallUserdata>): void {
    s.on(voice.AgentSessionEventTypes.FunctionToolsExecuted, (ev) => {
      for (const call of ev.functionCalls) {
        const i = this.pending.indexOf(call.name);
        if (i >= 0) this.pending.splice(i, 1);
      }
      for (const l of this.listeners) l();
    });
  }

  onSettled(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** Frames are cut at 10–20 ms and the phone leg works on whole frames: a little of a line's tail may not count. */
const LAST_LINE_TOLERANCE_MS = 60;

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
