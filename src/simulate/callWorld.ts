/**
 * The world a simulated call happens in, set up before the call starts: the config the scenario
 * asks for, the room (with the caller in it, unless the agent is about to dial them), how the
 * callee's line and any transfer destination answer, the appointments it seeds, the scripted
 * model, and the store the call is given (through the scenario's faults). Everything the agent
 * meets that is not the caller is here, so the driver and the checks only read it.
 */
import { randomUUID } from 'node:crypto';
import { SipClient } from 'livekit-server-sdk';
import type { CallSetup } from '../call/callSetup.js';
import type { Config } from '../config.js';
import type { SimSandbox } from '../sandbox/sandbox.js';
import { PROFILE_RATES } from '../session/providers.js';
import type { TelephonyRate } from '../telephony/rates.js';
import { transferUri } from '../call/transferAllowList.js';
import type { CallerVoice } from './callerVoice.js';
import { type CallFaults, callFaults } from './faults.js';
import { type ModelScript, modelScript, scriptedReply } from './modelScript.js';
import { clinicSettings } from './safeguardChecks.js';
import type { Scenario } from './scenario.js';
import type { SimulateOptions, SimulationEnv } from './simulatedCall.js';

export interface CallWorld {
  callId: string;
  room: string;
  /** The emulators route this call's provider traffic by it (`sandbox-<callId>`). */
  key: string;
  profile: 'phone' | 'browser';
  rate: TelephonyRate;
  outbound: boolean;
  callerIdentity: string;
  /** The deployment's config with the scenario's limits and settings applied. */
  config: Config;
  sip: SipClient;
  /** The provider emulators (null when the providers are real). */
  emulators: SimSandbox | null;
  faults: CallFaults;
  contact: CallSetup['contact'];
  script: ModelScript;
  /** The scenario's expectations with `$appointment` and `$seedN` filled in (their ids exist only now). */
  expect: Scenario['expect'];
  /** Live: each caller line, voiced before the call. Otherwise the caller's synthetic speech. */
  voice?: (text: string) => Int16Array;
  /** Resolves when the callee's phone has answered (at once for an inbound call). */
  answered: Promise<void>;
  /** Epoch ms of the DeleteRoom the LiveKit API received for this room, once it has. */
  roomDeletedAt: () => number | null;
  /** The scenario's clock: starts at its `now` and runs at real speed. */
  now: () => Date;
  /** Takes this call out of the shared sandbox (its model script, the room watch). */
  leave: () => void;
}

/**
 * `onToolsRequested` hears each scripted reply that calls tools: the driver's notion of a turn
 * still running needs it, and only the script knows a reply is new rather than a repeat.
 */
export async function setUpWorld(
  scenario: Scenario,
  env: SimulationEnv,
  options: Pick<SimulateOptions, 'callId' | 'job'>,
  onToolsRequested: (names: string[]) => void,
): Promise<CallWorld> {
  const { sandbox } = env;
  const emulators = emulatorsOf(env);
  const callId = options.callId ?? `sim_${randomUUID().slice(0, 8)}`;
  const room = options.job?.room ?? `sim-${callId}`;
  const key = `sandbox-${callId}`;
  const profile = scenario.direction === 'browser' ? 'browser' : 'phone';
  const rate = PROFILE_RATES[profile].room as TelephonyRate;
  const config = scenarioConfig(scenario, env.config);
  // Live, the caller's lines are voiced before the call, so the call's timing is the providers' alone.
  const voiced = env.live ? await voiceLines(scenario, env.live.callerVoice, rate) : undefined;
  const lk = sandbox.livekit.env();
  const sip = new SipClient(lk.LIVEKIT_URL, lk.LIVEKIT_API_KEY, lk.LIVEKIT_API_SECRET);

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
  const { seeded, contact } = await seedAppointments(scenario, env, options.job?.appointmentId);

  // `$appointment` in a script stands for the contact's appointment, whose id exists only now.
  const vars: Record<string, string> = { $appointment: contact?.appointmentId ?? '', ...Object.fromEntries(seeded.map((id, i) => [`$seed${i}`, id])) };
  const replies = substitute(scenario.steps.flatMap((s) => ('model' in s ? s.model : [])), vars).map(scriptedReply);
  const script = modelScript(replies, { amdLabel: scenario.answer === 'voicemail' ? 'machine-vm' : 'human' });
  emulators?.openai.setBrain(key, async (req) => {
    const before = script.remaining;
    const reply = await script.brain(req);
    if (script.remaining < before && 'toolCalls' in reply && reply.toolCalls?.length) onToolsRequested(reply.toolCalls.map((c) => c.name));
    return reply;
  });

  let roomDeletedAt: number | null = null;
  const offDeleted = sandbox.livekit.onRoomDeleted((ev) => {
    if (ev.room === room) roomDeletedAt ??= Date.now();
  });
  // The callee speaks only once their phone has answered (sip.callStatus=active), as on a real line.
  // A phone that never answers (busy, no answer) stops being listened for when the call leaves.
  let offStatus: () => void = () => undefined;
  const answered = outbound
    ? new Promise<void>((resolve) => {
        offStatus = sandbox.livekit.onCallStatus((ev) => {
          if (ev.room === room && ev.identity === callerIdentity && ev.status === 'active') {
            offStatus();
            resolve();
          }
        });
      })
    : Promise.resolve();

  return {
    callId,
    room,
    key,
    profile,
    rate,
    outbound,
    callerIdentity,
    config,
    sip,
    emulators,
    faults,
    contact,
    script,
    expect: substitute(scenario.expect, vars),
    ...(voiced ? { voice: (text: string) => voiced.get(text)! } : {}),
    answered,
    roomDeletedAt: () => roomDeletedAt,
    now: clockFrom(scenario.now),
    leave: () => {
      emulators?.openai.removeBrain(key);
      offDeleted();
      offStatus();
    },
  };
}

/** The provider emulators a call drives (null when its providers are real). */
function emulatorsOf(env: SimulationEnv): SimSandbox | null {
  if (env.live) return null;
  if (!('openai' in env.sandbox)) throw new Error('a simulated call needs the provider emulators, or live providers');
  return env.sandbox;
}

function scenarioConfig(scenario: Scenario, config: Config): Config {
  return {
    ...config,
    MAX_CALL_SECONDS: scenario.limits.maxCallSeconds ?? config.MAX_CALL_SECONDS,
    SILENCE_REPROMPT_SECONDS: scenario.limits.silenceRepromptSeconds ?? config.SILENCE_REPROMPT_SECONDS,
    SILENCE_TIMEOUT_SECONDS: scenario.limits.silenceTimeoutSeconds ?? config.SILENCE_TIMEOUT_SECONDS,
    HOLD_FILLER_MS: scenario.limits.holdFillerMs ?? config.HOLD_FILLER_MS,
    ...clinicSettings(scenario.settings, config),
    ...(scenario.transfer
      ? { TRANSFER_ALLOWLIST: scenario.transfer.allow, TRANSFER_MODE: scenario.transfer.mode, TRANSFER_FALLBACK: scenario.transfer.fallback }
      : {}),
  };
}

/**
 * The scenario's `seed` appointments (their ids, in order; '' for one the book refused), and for
 * an outbound call the contact it is about, with their appointment booked unless the job already
 * names one. Booked in the real store, not through the faults: the world existed before them.
 */
async function seedAppointments(
  scenario: Scenario,
  env: SimulationEnv,
  jobAppointmentId: string | undefined,
): Promise<{ seeded: string[]; contact: CallSetup['contact'] }> {
  const seeded: string[] = [];
  for (const s of scenario.seed) {
    const booked = await env.store.appointments.book({ name: s.name, phone: s.phone, start: s.start, durationMin: 30, reason: null, callId: null, dateOfBirth: s.dateOfBirth ?? null });
    seeded.push(booked.ok ? booked.appointment.id : '');
  }
  if (scenario.direction !== 'outbound' || !scenario.contact) return { seeded, contact: undefined };
  let appointmentId = jobAppointmentId;
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
  return { seeded, contact: { name: scenario.contact.name, appointmentId, fields: {} } };
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
