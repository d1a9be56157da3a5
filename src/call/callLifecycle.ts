/**
 * One call, from first audio to deleted room: the only place that decides how a call ends.
 *
 * The worker (a real room) and the simulator (local audio through the phone channel) both run
 * calls through `runCall`; they differ only in the `CallIo` they pass. Every exit path funnels
 * into `end()`, which runs once: optionally a goodbye that must finish playing, then the session
 * closes, the room is deleted (once, by `RoomJanitor`), and the call record is written.
 */
import { type VAD, log, type stt as sttNs, voice, waitUntilTimeout } from '@livekit/agents';
import { introAgent } from '../../agents/intro.js';
import { agentPolicy } from '../../agents/policy.js';
import { voicemailMessage } from '../../agents/prompts.js';
import { type CallUserdata, type OutboundContact, newUserdata } from '../../tools/callContext.js';
import { bookRules } from '../../tools/appointmentBook.js';
import type { CallControl, CollectDigitsRequest, EndCallRequest, KeypadControl, TransferRequest, TransferResult } from '../../tools/callContext.js';
import { dtmfCode, keypadLine, parseDtmfSequence } from '../telephony/dtmfKeys.js';
import { TransferAllowList } from './transferAllowList.js';
import { type Config, workerId } from '../config.js';
import { type ChannelProfile, type ProviderKeys, type Providers, buildProviders, closeProviders, isPhoneProfile } from '../session/providers.js';
import { RestartableSTT } from '../session/restartableStt.js';
import { createSession } from '../session/sessionFactory.js';
import type { CallOutcome, CallRecord, Direction, Store } from '../store/index.js';
import { newOwner } from '../store/owner.js';
import { join } from 'node:path';
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CallLog } from './callLog.js';
import { personalData } from './personalData.js';
import { type DialRequest, type DialResult, type SipDialer, dial } from './outboundDial.js';
import { DEFAULT_PRICES, type PriceTable, callCost } from '../cost/index.js';
import { LatencyTracker, type TurnLatency } from './latency.js';
import { UsageMeter } from './usageMeter.js';
import { type OutputListener, tapOutput } from './outputTap.js';
import { CallLine } from './callLine.js';
import { RecordingTap } from './recordingTap.js';
import { type RoomApi, RoomJanitor } from './roomJanitor.js';
import { Keypad } from './dtmf.js';
import { type TransferAttempt, TransferDesk, type WarmTransferRequest } from './transfer.js';
import { CallObserver, countCallEnd, countCallStart } from './callObserver.js';
import { buildVersion } from '../observe/buildVersion.js';
import { withCallContext } from '../observe/callContext.js';
import { recordMetric } from '../observe/metrics.js';
import { ATTR_CALL_ID, ATTR_ROOM, inSpan } from '../observe/tracing.js';

export interface CallSetup {
  callId: string;
  room: string;
  direction: Direction;
  profile: ChannelProfile;
  callerNumber: string | null;
  contact?: OutboundContact;
  campaignId?: string;
  contactId?: string;
  /** Outbound: listen for an answering machine before the agent speaks. */
  detectMachine?: boolean;
  /** Outbound: dial this first (the call record exists before the dial, for campaign recovery). */
  dial?: DialRequest;
}

export interface CallDeps {
  config: Config;
  store: Store;
  vad: VAD;
  roomApi: RoomApi;
  now?: () => Date;
  /** Per-call provider keys (the sandbox routes simulated calls by key). */
  providerKeys?: ProviderKeys;
  /** Ready-made providers (tests); otherwise built from config. */
  providers?: Providers;
  /** Prices for the call's cost, loaded once per process (PRICES_FILE); list prices otherwise. */
  prices?: PriceTable;
  /** LiveKit's SIP API, for outbound dials. */
  sip?: SipDialer;
}

/** Where the call's audio comes from and goes to. */
export interface CallIo {
  /** Starts the session on its I/O: a LiveKit room in the worker, local PCM in simulations. */
  start(session: voice.AgentSession<CallUserdata>, agent: voice.Agent<CallUserdata>): Promise<void>;
  /** Resolves when the far end hangs up. */
  hungUp: Promise<void>;
  /** Aborted when the worker must stop this call (shutdown). */
  shutdown?: AbortSignal;
  /** Sees the session before it starts (simulation printing, latency capture). */
  observe?(session: voice.AgentSession<CallUserdata>): void;
  /** Delivers the caller's audio as it arrives, for the recording (epoch ms of each frame's start). */
  onCallerAudio?(listener: (pcm: Int16Array, sampleRate: number, at: number) => void): void;
  /**
   * Phone calls: hands the caller's SIP leg to `to` (a tel: or sip: URI) with LiveKit's
   * TransferSIPParticipant. Resolves once transferred; rejects with the SIP error otherwise.
   */
  transfer?(to: string, opts: { ringSeconds: number; headers?: Record<string, string> }): Promise<void>;
  /**
   * Phone calls in a LiveKit job: the framework's WarmTransferTask (dial a person, brief them, move
   * them into the caller's room). Called from inside the transfer tool, as the framework requires.
   * Resolves once the person is connected to the caller; rejects when they were not.
   */
  warmTransfer?(req: WarmTransferRequest): Promise<void>;
  /** Why the warm transfer cannot work on this server (then the transfer is cold), or undefined. */
  warmUnavailable?(): Promise<string | undefined>;
  /** Delivers the keys the caller presses (DTMF events: they never pass through the STT). */
  onDtmf?(listener: (key: string) => void): void;
  /** Sends one keypad tone to the far end (RFC 4733 event code and its key). */
  publishDtmf?(code: number, key: string): Promise<void>;
  /** Gaps in the agent's audio so far, where the I/O can tell (the simulator's paced output). */
  audioUnderruns?(): number;
}

export interface CallResult {
  record: CallRecord;
  roomDeleted: boolean;
  /** Every transfer attempt, in order (also written in the transcript as system lines). */
  transfers: TransferAttempt[];
  /** Keypad tones the agent sent, in order (`w` pauses left out). */
  keysSent: string;
}

/** What the agent says on each way out it controls. */
export const GOODBYES = {
  max_duration: "I'm sorry, we've reached the time limit for this call. Please call back if you need anything else. Goodbye.",
  silence_timeout: "I haven't heard anything, so I'll end the call now. Please call back any time. Goodbye.",
  shutdown: "I'm sorry, I have to end the call now. Please call back in a moment. Goodbye.",
  error: "I'm sorry, our system is having trouble right now. Please call back a little later. Goodbye.",
} as const;
export const REPROMPT = 'Are you still there?';
export const LLM_RETRY_APOLOGY = "Sorry, I'm having a little trouble on my end. Could you say that again?";
/** New STT streams a call gets before an STT that still hears nothing ends it. */
export const MAX_STT_RESTARTS = 2;

/** How long a goodbye may take to play before the line is closed anyway. */
const GOODBYE_TIMEOUT_MS = 15_000;
const CLOSE_TIMEOUT_MS = 10_000;
const START_SETTLE_MS = 5_000;
/** After the last key, what the STT hears is still taken for the tone (leaked DTMF audio), not words. */
const KEYPAD_GUARD_MS = 1500;
/** Between tones we send: long enough for each to be heard as its own key (as the framework's send_dtmf). */
const DTMF_SEND_GAP_MS = 300;
const DTMF_PAUSE_MS = 500;

type EndRequest = {
  outcome: CallOutcome;
  goodbye?: string;
  after?: voice.SpeechHandle;
  interrupt?: boolean;
  /** A warm transfer put a person in the room with the caller: delete it only when the caller leaves. */
  keepRoomUntilHangup?: boolean;
};

/** Runs one call; its log lines and spans (one trace per call) carry its id and room. */
export function runCall(setup: CallSetup, deps: CallDeps, io: CallIo): Promise<CallResult> {
  const attributes = { [ATTR_CALL_ID]: setup.callId, [ATTR_ROOM]: setup.room, 'switchboard.direction': setup.direction };
  return withCallContext(setup, () => inSpan('call', attributes, () => runCallInContext(setup, deps, io)));
}

async function runCallInContext(setup: CallSetup, deps: CallDeps, io: CallIo): Promise<CallResult> {
  const { config, store } = deps;
  const now = deps.now ?? (() => new Date());
  const janitor = new RoomJanitor(deps.roomApi, setup.room);
  const callLog = new CallLog(now);
  const latency = new LatencyTracker();
  const usage = new UsageMeter(config.OPENAI_MODEL);
  const observer = new CallObserver(
    { direction: setup.direction, outboundWithContact: setup.contact !== undefined },
    { model: config.OPENAI_MODEL, buildVersion: buildVersion(config.BUILD_VERSION) },
  );
  const startedAtMs = Date.now();

  // A first write the store refused (recordJournal.ts keeps it): end the call on the path that deletes the room.
  const unrecorded = await startRecord(store, setup, now, newOwner(workerId(config))).then(() => undefined, (err: Error) => err.message);
  if (unrecorded) return finishWithoutSession(setup, deps, janitor, { kind: 'error', error: `call record: ${unrecorded}` }, now);

  if (setup.dial && !deps.sip) throw new Error('an outbound call needs the SIP API (CallDeps.sip)');

  const userdata = newUserdata({
    callId: setup.callId,
    direction: setup.direction,
    callerNumber: setup.callerNumber,
    businessName: config.BUSINESS_NAME,
    timezone: config.BUSINESS_TIMEZONE,
    contact: setup.contact,
  });
  if (config.RECORDING_DIR) userdata.recording = { disclosure: config.RECORDING_DISCLOSURE, state: 'on' };

  const line = new CallLine();
  const openLine = () => line.openNow();
  let endRequest: EndRequest | undefined;
  let signalEnd!: () => void;
  const endRequested = new Promise<void>((r) => (signalEnd = r));
  const requestEnd = (req: EndRequest) => {
    if (endRequest) return; // the first reason wins; later ones are consequences of ending
    endRequest = req;
    line.neverOpen();
    signalEnd();
  };

  let session: voice.AgentSession<CallUserdata> | undefined;
  let starting: Promise<void> | undefined;
  let dialed: Promise<DialResult> | undefined;
  /** Providers this call built (not handed in), so this call's to close. */
  let built: Providers | undefined;
  const timers: NodeJS.Timeout[] = [];
  let sessionClosed = false;
  let recording: RecordingTap | undefined;
  let recordingClosed = false;
  let callerGone = false;
  const note = (role: 'caller' | 'system', text: string) => callLog.transcript.push({ role, text, at: now().toISOString() });
  // While the caller is on hold (a transfer ringing) or keying in a code, their silence is expected:
  // the silence policy must not ask "are you still there?" or hang up on them.
  const policyHold: { count: number; onStart: () => void } = { count: 0, onStart: () => undefined };
  const holdPolicies = (): (() => void) => {
    policyHold.count++;
    policyHold.onStart();
    let released = false;
    return () => {
      if (!released) policyHold.count--;
      released = true;
    };
  };

  const phone = isPhoneProfile(setup.profile);
  const allow = new TransferAllowList(phone && io.transfer ? config.TRANSFER_ALLOWLIST : []);
  const desk = new TransferDesk({
    callId: setup.callId,
    allow,
    mode: config.TRANSFER_MODE,
    fallback: config.TRANSFER_FALLBACK,
    ringSeconds: config.TRANSFER_RING_SECONDS,
    summaryHeader: config.TRANSFER_SUMMARY_HEADER,
    dialPolicy: { defaultRegion: config.DEFAULT_REGION, allowedCountries: config.ALLOWED_COUNTRIES },
    coldTransfer: (uri, ringSeconds, headers) => io.transfer!(uri, { ringSeconds, headers }),
    warmTransfer: io.warmTransfer ? (r) => io.warmTransfer!(r) : undefined,
    warmUnavailable: io.warmUnavailable ? () => io.warmUnavailable!() : undefined,
    say: async (text) => {
      if (!session || sessionClosed) return;
      const handle = session.say(text, { allowInterruptions: false });
      await withTimeout(handle.waitForPlayout(), GOODBYE_TIMEOUT_MS).catch(() => undefined);
    },
    note: (text) => note('system', text),
    callerGone: () => callerGone,
    now,
  });
  const transfer = async (r: TransferRequest): Promise<TransferResult> => {
    const release = holdPolicies();
    try {
      const result = await desk.transfer(r);
      // A transfer that connected is how this call ends; the caller is with a person now.
      if (result.status === 'transferred') {
        requestEnd({ outcome: { kind: 'transferred', to: result.to }, after: r.speech, keepRoomUntilHangup: result.mode === 'warm' });
      } else if (callerGone) {
        requestEnd({ outcome: { kind: 'hung_up' }, after: r.speech });
      }
      return result;
    } finally {
      release();
    }
  };

  // While keys are pressed, the caller's audio is kept from the STT and VAD: on lines where the
  // tones leak into the audio they would otherwise become words ("one two") or an interruption.
  // The key event comes as the key is released, so the tone has begun by then: that partial turn is
  // cleared, and the audio stays off until the tones (and the pipeline's tail) are over.
  let keypadMuted = false;
  let unmuteTimer: NodeJS.Timeout | undefined;
  const unmuteAfterKeys = () => {
    unmuteTimer = undefined;
    if (!keypadMuted) return;
    keypadMuted = false;
    if (!session || sessionClosed) return;
    ignoreError(() => session!.input.setAudioEnabled(true));
    ignoreError(() => session!.clearUserTurn());
  };
  const keypad = new Keypad({
    interDigitMs: config.DTMF_INTERDIGIT_MS,
    guardMs: KEYPAD_GUARD_MS,
    onKey: (_key, { startsBurst }) => {
      if (!session || sessionClosed) return;
      ignoreError(() => session!.clearUserTurn());
      if (!keypadMuted && session.input.audioEnabled) {
        keypadMuted = true;
        ignoreError(() => session!.input.setAudioEnabled(false));
      }
      if (unmuteTimer) clearTimeout(unmuteTimer);
      unmuteTimer = setTimeout(unmuteAfterKeys, KEYPAD_GUARD_MS);
      timers.push(unmuteTimer);
      // A key pressed while the agent talks answers it, as on any phone menu.
      if (startsBurst) ignoreError(() => session!.interrupt());
    },
    onBurst: (keys) => {
      if (endRequest || !session || sessionClosed) return;
      // The keys reach the current agent as the caller's input (and the transcript records them so).
      ignoreError(() => session!.generateReply({ userInput: keypadLine(keys) }));
    },
  });
  const keysSent: string[] = [];
  const keypadControl: KeypadControl = {
    collect: async (r: CollectDigitsRequest) => {
      const release = holdPolicies();
      try {
        const terminator = r.terminator === undefined ? '#' : r.terminator;
        const waitMs = Math.round((r.timeoutSeconds ?? 8) * 1000);
        const result = await keypad.collect(
          { maxDigits: r.maxDigits, terminator, firstDigitTimeoutMs: waitMs, interDigitTimeoutMs: waitMs },
          { signal: r.signal, onFirstKey: r.onFirstKey, startTimerAfter: r.startTimerAfter },
        );
        const typed = result.digits + (result.ended === 'terminator' && terminator ? terminator : '');
        if (typed) note('caller', keypadLine(typed));
        return result;
      } finally {
        release();
      }
    },
    send: async (keys) => {
      const parsed = parseDtmfSequence(keys);
      if ('error' in parsed) return parsed;
      if (!io.publishDtmf) return { error: 'this call cannot send keypad tones' };
      let sent = '';
      try {
        for (const k of parsed.keys) {
          if (endRequest) break;
          if (k === 'w') {
            await sleep(DTMF_PAUSE_MS);
            continue;
          }
          await io.publishDtmf(dtmfCode(k), k);
          sent += k;
          keysSent.push(k);
          await sleep(DTMF_SEND_GAP_MS);
        }
      } catch (err) {
        log().warn({ callId: setup.callId, error: (err as Error).message }, 'sending keypad tones failed');
        if (sent) note('system', `keypad tones sent: ${sent}`);
        return { error: (err as Error).message };
      }
      note('system', `keypad tones sent: ${sent}`);
      return { sent };
    },
  };

  const control: CallControl = {
    callId: setup.callId,
    endCall: (r: EndCallRequest) => requestEnd({ outcome: r.outcome, goodbye: r.goodbye, after: r.after }),
    ...(allow.empty ? {} : { transfer: { destinations: allow.entries, transfer } }),
    ...(phone && (io.onDtmf || io.publishDtmf) ? { keypad: keypadControl } : {}),
    keysBeingPressed: () => keypad.busy,
    ...(config.RECORDING_DIR ? { recording: { stop: () => recording?.stop(() => note('system', 'recording stopped at the caller\'s request')) } } : {}),
    ...(config.HOLD_FILLER_MS > 0 ? { holdFiller: { afterMs: config.HOLD_FILLER_MS, line: config.HOLD_FILLER_TEXT } } : {}),
  };

  try {
    const providers = deps.providers ?? (built = buildProviders(config, setup.profile, deps.providerKeys));
    session = createSession({ config, profile: setup.profile, vad: deps.vad, providers, userdata });
    // The framework would close the session on its own after repeated provider errors, leaving
    // the caller in silence; the lifecycle decides instead (see onError).
    session.connOptions.maxUnrecoverableErrors = Number.MAX_SAFE_INTEGER;
    const agent = introAgent(
      {
        control,
        appointments: store.appointments,
        messages: store.messages,
        policy: agentPolicy(config),
        rules: bookRules(config),
        now,
        line,
      },
      userdata,
    );
    line.watch(session as voice.AgentSession<unknown>);
    callLog.attach(session, agent.id);
    latency.attach(session);
    observer.attach(session, providers, latency);
    usage.attach(session);
    const policies = wirePolicies(session, config, requestEnd, timers, () => policyHold.count > 0, providers.stt);
    policyHold.onStart = policies.cancelSilence;
    session.on(voice.AgentSessionEventTypes.Close, (ev) => {
      sessionClosed = true;
      requestEnd({ outcome: ev.error ? { kind: 'error', error: describeError(ev.error) } : { kind: 'hung_up' } });
    });
    io.observe?.(session);

    void io.hungUp.then(async () => {
      callerGone = true;
      // A dialled leg that leaves before it was answered (ringing out, busy): the dial's SIP
      // status says why, not "hung up".
      if (dialed && !(await dialed).answered) return;
      // Mid-transfer, the caller leaving may be the transfer working: the transfer decides.
      if (!desk.inFlight) requestEnd({ outcome: { kind: 'hung_up' } });
    });
    io.onDtmf?.((key) => {
      // Keys pressed on hold (a transfer ringing) are not for the agent.
      if (!endRequest && line.open && !desk.inFlight) keypad.press(key);
    });
    io.shutdown?.addEventListener('abort', () =>
      requestEnd({ outcome: { kind: 'shutdown' }, goodbye: GOODBYES.shutdown, interrupt: true }),
    );
    if (io.shutdown?.aborted) requestEnd({ outcome: { kind: 'shutdown' } });
    timers.push(
      setTimeout(
        () => requestEnd({ outcome: { kind: 'max_duration' }, goodbye: GOODBYES.max_duration, interrupt: true }),
        config.MAX_CALL_SECONDS * 1000,
      ),
    );

    if (config.RECORDING_DIR) {
      await mkdir(config.RECORDING_DIR, { recursive: true });
      const tap = await RecordingTap.open(join(config.RECORDING_DIR, `${setup.callId}.wav`));
      recording = tap;
      // The caller's side keeps sending until it is torn down; frames after the close are dropped.
      io.onCallerAudio?.((pcm, rate, at) => {
        if (!recordingClosed) tap.writeCaller(pcm, rate, at);
      });
    }
    // Outbound: the session is ready before the callee answers, and listens from the moment they
    // do, so their first "Hello?" is heard (the framework's AMD starts listening at
    // sip.callStatus=active). A failed dial ends the call with its SIP outcome and no goodbye.
    dialed = setup.dial ? dial(deps.sip!, setup.dial) : undefined;
    void dialed?.then((r) => {
      if (!r.answered) requestEnd({ outcome: r.outcome });
    });
    if (!endRequest) {
      // The callee's leg joins the room while it rings; a dial that fails first must not leave
      // the call waiting for it.
      starting = io.start(session, agent);
      await Promise.race([starting, endRequested]).catch(async (err) => {
        // The dialled leg left before it rang (busy, declined): the dial's outcome says why.
        if (dialed && !(await dialed).answered) return;
        throw err;
      });
    }
    if (!endRequest) {
      const listeners: OutputListener[] = [latency.outputListener];
      if (recording) listeners.push(recording.agentListener);
      tapOutput(session as voice.AgentSession<unknown>, listeners);
      // Only now may the agent speak: everything it says is heard and recorded. On an outbound
      // call, only once the callee answered and we know a person did.
      if (setup.detectMachine) void screenForMachine(session, config, userdata, openLine, requestEnd, dialed);
      else openLine();
    }
    await endRequested;

    // Say the goodbye only to someone still on the line, and only once it can be heard in full.
    const req = endRequest!;
    if (req.goodbye && !sessionClosed && req.outcome.kind !== 'hung_up') {
      await sayGoodbye(session, req);
    } else if (req.after && !req.goodbye && !sessionClosed) {
      // Ended from inside a tool (a transfer): let that turn finish, so the tool call is recorded.
      await withTimeout(req.after.waitForPlayout(), CLOSE_TIMEOUT_MS).catch(() => undefined);
    }
  } catch (err) {
    log().error({ callId: setup.callId, error: (err as Error).message }, 'call failed');
    requestEnd({ outcome: { kind: 'error', error: (err as Error).message } });
  } finally {
    for (const t of timers) clearTimeout(t);
    keypad.close();
  }

  // Closing a session that is still starting (a dial that failed while the callee's leg was
  // joining) hangs the framework's close; let the start finish first.
  if (starting) await withTimeout(starting, START_SETTLE_MS).catch(() => undefined);
  if (session && !sessionClosed) {
    await withTimeout(session.close(), CLOSE_TIMEOUT_MS).catch((err) =>
      log().warn({ callId: setup.callId, error: (err as Error).message }, 'session did not close cleanly'),
    );
  }
  let deletion: { deleted: boolean } = { deleted: false };
  if (endRequest!.keepRoomUntilHangup) {
    // The caller is talking to a person in this room now. Deleting it would hang up on both, so it
    // goes when the caller leaves. A worker shutting down leaves it to LiveKit's empty-room timeout
    // rather than cutting that conversation off.
    const stopped = io.shutdown ? new Promise<void>((r) => io.shutdown!.addEventListener('abort', () => r(), { once: true })) : new Promise<void>(() => undefined);
    const left = await Promise.race([io.hungUp.then(() => true), io.shutdown?.aborted ? Promise.resolve(false) : stopped.then(() => false)]);
    if (left) deletion = await janitor.deleteOnce();
    else log().warn({ callId: setup.callId, room: setup.room }, 'worker stopping during a transferred call; the room is left for LiveKit to close');
  } else {
    deletion = await janitor.deleteOnce();
  }
  // Closing the session does not close its providers: the TTS keeps its pooled socket to the
  // provider open, one per call on a worker process that runs many.
  if (built) await withTimeout(closeProviders(built), CLOSE_TIMEOUT_MS).catch(() => undefined);
  recordingClosed = true;
  const recordingPath = recording
    ? await recording.close().then(
        (r) => r.path,
        (err) => {
          log().error({ callId: setup.callId, error: (err as Error).message }, 'recording could not be written');
          return null;
        },
      )
    : null;

  const outcome = endRequest!.outcome;
  const meta = observer.ended({ outcome, transfers: desk.attempts, underruns: io.audioUnderruns?.() }, latency);
  const durationSeconds = (Date.now() - startedAtMs) / 1000;
  const cost = callCost(usage.usage(durationSeconds, setup.direction, config.SIP_CARRIER), deps.prices ?? DEFAULT_PRICES);
  await store.calls.finish(setup.callId, {
    endedAt: now().toISOString(),
    outcome,
    agents: callLog.agents,
    // REDACT_PII: what is stored is what the webhook and every later reader sees.
    ...personalData(config, { toolCalls: callLog.toolCalls, userdata, transcript: callLog.transcript, result: userdata.result ?? null }),
    recordingPath,
    latency: latency.summary(),
    cost,
    meta,
  });
  if (config.LATENCY_LOG_PATH) await appendLatencyLog(config.LATENCY_LOG_PATH, setup.callId, latency.summary().turns);
  const record = (await store.calls.get(setup.callId))!;
  return { record, roomDeleted: deletion.deleted, transfers: desk.attempts, keysSent: keysSent.join('') };
}

function ignoreError(fn: () => unknown): void {
  try {
    fn();
  } catch {
    // The session may be closing; a key or a transfer then changes nothing.
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** One NDJSON line per turn, for dashboards and `jq`. A logging failure never fails the call. */
async function appendLatencyLog(path: string, callId: string, turns: TurnLatency[]): Promise<void> {
  if (turns.length === 0) return;
  try {
    await mkdir(dirname(path), { recursive: true });
    await appendFile(path, turns.map((t) => JSON.stringify({ callId, ...t })).join('\n') + '\n');
  } catch (err) {
    log().warn({ path, error: (err as Error).message }, 'latency log could not be written');
  }
}

/**
 * Outbound: the framework's AMD listens to how the line answers. A person gets the greeting; a
 * machine gets the voicemail message (or nothing, by VOICEMAIL_ACTION) and the call ends.
 */
async function screenForMachine(
  session: voice.AgentSession<CallUserdata>,
  config: Config,
  userdata: CallUserdata,
  openLine: () => void,
  requestEnd: (r: EndRequest) => void,
  dialed?: Promise<DialResult>,
): Promise<void> {
  // Whatever AMD concludes, nobody is spoken to before the callee has answered.
  const openWhenAnswered = async () => {
    if (!dialed || (await dialed).answered) openLine();
  };
  const amd = new voice.AMD(session as voice.AgentSession, { llm: null, suppressCompatibilityWarning: true });
  // A dial that fails leaves AMD waiting for an answer that never comes, holding the session's
  // replies paused; the session would then never close.
  void dialed?.then((r) => {
    if (!r.answered) void amd.aclose().catch(() => undefined);
  });
  try {
    const verdict = await inSpan('amd', {}, async (span) => {
      const v = await amd.execute();
      span.setAttribute('switchboard.amd.category', v.category);
      return v;
    });
    recordMetric({ kind: 'count', name: 'amd_verdicts', labels: { category: verdict.category } });
    log().info({ category: verdict.category, reason: verdict.reason }, 'answering machine detection');
    if (!verdict.isMachine) {
      await openWhenAnswered();
    } else if (config.VOICEMAIL_ACTION === 'leave_message') {
      requestEnd({ outcome: { kind: 'voicemail', messageLeft: true }, goodbye: voicemailMessage(userdata) });
    } else {
      requestEnd({ outcome: { kind: 'voicemail', messageLeft: false } });
    }
  } catch (err) {
    // Unsure is not a machine: a person who hears nothing hangs up, so speak.
    recordMetric({ kind: 'count', name: 'amd_verdicts', labels: { category: 'failed' } });
    log().warn({ error: (err as Error).message }, 'answering machine detection failed; treating the callee as a person');
    await openWhenAnswered();
  } finally {
    await amd.aclose().catch(() => undefined);
  }
}

async function sayGoodbye(session: voice.AgentSession<CallUserdata>, req: EndRequest): Promise<void> {
  try {
    if (req.after && !req.after.done()) await withTimeout(req.after.waitForPlayout(), GOODBYE_TIMEOUT_MS);
    if (req.interrupt) await session.interrupt({ force: true }).await.catch(() => undefined);
    const handle = session.say(req.goodbye!, { allowInterruptions: false });
    await withTimeout(handle.waitForPlayout(), GOODBYE_TIMEOUT_MS);
  } catch (err) {
    log().warn({ error: (err as Error).message }, 'goodbye did not finish playing');
  }
}

/** The call policies that react to the session: silence, provider failures. */
function wirePolicies(
  session: voice.AgentSession<CallUserdata>,
  config: Config,
  requestEnd: (r: EndRequest) => void,
  timers: NodeJS.Timeout[],
  onHold: () => boolean,
  stt: sttNs.STT,
): { cancelSilence: () => void } {
  // Silence: the framework marks the caller "away" after SILENCE_REPROMPT_SECONDS of mutual
  // silence; we ask once, then give them SILENCE_TIMEOUT_SECONDS more after the question ends.
  let silenceTimer: NodeJS.Timeout | undefined;
  const cancelSilence = () => {
    if (silenceTimer) clearTimeout(silenceTimer);
    silenceTimer = undefined;
  };
  session.on(voice.AgentSessionEventTypes.UserStateChanged, (ev) => {
    if (ev.newState === 'speaking') cancelSilence();
    if (ev.newState !== 'away' || onHold()) return;
    let reprompt: voice.SpeechHandle;
    try {
      reprompt = session.say(REPROMPT);
    } catch {
      // The session is closing (the call is ending): there is nobody left to ask. Thrown from an
      // event handler, this would take down every call in the process.
      return;
    }
    reprompt.addDoneCallback(() => {
      if (session.userState === 'speaking') return;
      cancelSilence();
      silenceTimer = setTimeout(
        () => {
          if (!onHold()) requestEnd({ outcome: { kind: 'silence_timeout' }, goodbye: GOODBYES.silence_timeout });
        },
        config.SILENCE_TIMEOUT_SECONDS * 1000,
      );
      timers.push(silenceTimer);
    });
  });
  session.on(voice.AgentSessionEventTypes.UserInputTranscribed, (ev) => {
    if (ev.isFinal && ev.transcript.trim()) cancelSilence();
  });

  // Provider failures: an LLM failure gets one apology and a chance to repeat; a failure on the
  // next caller turn too ends the call politely. Failures are counted per caller turn, because
  // one turn can fail twice (the preemptive request, then the committed one). A TTS failure leaves
  // no voice to apologise with, so the call ends at once rather than leaving the caller in silence.
  let callerTurns = 0;
  let failedTurn = -1;
  let failedTurnsInARow = 0;
  let agentMessages = 0;
  session.on(voice.AgentSessionEventTypes.UserInputTranscribed, (ev) => {
    if (ev.isFinal && ev.transcript.trim()) callerTurns++;
  });
  // Lines the lifecycle says itself are not evidence that the model works again.
  const ownLines = new Set<string>([LLM_RETRY_APOLOGY, REPROMPT]);
  session.on(voice.AgentSessionEventTypes.ConversationItemAdded, (ev) => {
    if (ev.item.type === 'message' && ev.item.role === 'assistant') {
      agentMessages++;
      if (!ownLines.has((ev.item.textContent ?? '').trim())) failedTurnsInARow = 0;
    }
  });
  // STT failures: the caller spoke (the VAD heard them) and no transcript came, or the STT stream
  // gave up by itself. Either way the caller is talking to no one, and nothing in the framework
  // will notice (restartableStt.ts says why). The STT gets a new stream, which replays what the
  // caller said, so their line is still answered; after MAX_STT_RESTARTS with nothing transcribed
  // in between, the call ends politely: the agent can still speak, it just cannot hear.
  const restartable = stt instanceof RestartableSTT ? stt : undefined;
  let sttFailures = 0;
  const sttFailed = (why: string) => {
    if (sttFailures >= MAX_STT_RESTARTS) {
      requestEnd({ outcome: { kind: 'error', error: `stt_error: ${why}` }, goodbye: GOODBYES.error });
      return;
    }
    sttFailures++;
    log().warn({ reason: why, restart: sttFailures }, 'the STT is not hearing the caller');
    restartable?.restart(why);
  };
  session.on(voice.AgentSessionEventTypes.UserTranscriptionTimeout, () => sttFailed('the caller spoke and no transcript came'));
  const offStreamFailure = restartable?.onStreamFailure((err) => sttFailed(err.message));
  session.on(voice.AgentSessionEventTypes.Close, () => offStreamFailure?.());
  session.on(voice.AgentSessionEventTypes.UserInputTranscribed, (ev) => {
    if (ev.isFinal && ev.transcript.trim()) sttFailures = 0;
  });

  session.on(voice.AgentSessionEventTypes.Error, (ev) => {
    const err = ev.error;
    if ((err as { recoverable?: boolean }).recoverable) return;
    const message = describeError(err);
    if (err.type === 'tts_error') {
      requestEnd({ outcome: { kind: 'error', error: message } });
      return;
    }
    if (err.type !== 'llm_error' || failedTurn === callerTurns) return;
    failedTurn = callerTurns;
    failedTurnsInARow++;
    if (failedTurnsInARow >= 2) {
      requestEnd({ outcome: { kind: 'error', error: message }, goodbye: GOODBYES.error });
      return;
    }
    // Speaking now would be cut off by the turn the framework is still committing; wait until
    // the agent is idle, and apologise only if nothing was said in the meantime.
    const saidBefore = agentMessages;
    whenIdle(session, timers, () => {
      // The poll can outlive the call (its timers were cleared before it pushed the next one).
      if (agentMessages === saidBefore) ignoreError(() => session.say(LLM_RETRY_APOLOGY));
    });
  });
  return { cancelSilence };
}

/** Runs `fn` once the agent is listening and the caller quiet; gives up after a few seconds. */
function whenIdle(session: voice.AgentSession<CallUserdata>, timers: NodeJS.Timeout[], fn: () => void): void {
  let polls = 0;
  const check = () => {
    if (session.agentState === 'listening' && session.userState !== 'speaking') fn();
    else if (++polls < 50) timers.push(setTimeout(check, 100));
  };
  timers.push(setTimeout(check, 300));
}

const withTimeout = <T>(p: Promise<T>, ms: number) => waitUntilTimeout(p, ms, () => new Error(`timed out after ${ms} ms`));


function describeError(err: { type: string }): string {
  const inner = (err as { error?: unknown }).error;
  return inner instanceof Error ? `${err.type}: ${inner.message}` : err.type;
}

/**
 * A job that cannot become a call (malformed metadata, a dial that never connected): the record
 * still gets written, with the reason, and the room is still deleted.
 */
export async function abortCall(
  setup: Pick<CallSetup, 'callId' | 'room' | 'direction' | 'callerNumber' | 'campaignId' | 'contactId'>,
  deps: Pick<CallDeps, 'store' | 'roomApi' | 'now'>,
  error: string,
): Promise<CallResult> {
  const now = deps.now ?? (() => new Date());
  await startRecord(deps.store, setup, now).catch(() => undefined); // journaled; the room goes regardless
  return finishWithoutSession(setup, deps, new RoomJanitor(deps.roomApi, setup.room), { kind: 'error', error }, now);
}

/** The call record's first write, before anything can go wrong (a crash still leaves a trace). */
function startRecord(
  store: Store,
  setup: Pick<CallSetup, 'callId' | 'room' | 'direction' | 'callerNumber' | 'campaignId' | 'contactId'>,
  now: () => Date,
  owner: string | null = null,
): Promise<void> {
  const started = store.calls.start({
    owner,
    id: setup.callId,
    room: setup.room,
    direction: setup.direction,
    callerNumber: setup.callerNumber,
    startedAt: now().toISOString(),
    campaignId: setup.campaignId ?? null,
    contactId: setup.contactId ?? null,
  });
  return started.then(() => countCallStart(setup.direction));
}

/** Ends a call that never got a session (a failed dial, a bad job): delete the room, record why. */
async function finishWithoutSession(
  setup: Pick<CallSetup, 'callId' | 'direction'>,
  deps: Pick<CallDeps, 'store'>,
  janitor: RoomJanitor,
  outcome: CallOutcome,
  now: () => Date,
): Promise<CallResult> {
  const deletion = await janitor.deleteOnce();
  countCallEnd(setup.direction, outcome);
  await deps.store.calls.finish(setup.callId, {
    endedAt: now().toISOString(),
    outcome,
    agents: [],
    toolCalls: [],
    userdata: null,
    transcript: [],
  });
  return { record: (await deps.store.calls.get(setup.callId))!, roomDeleted: deletion.deleted, transfers: [], keysSent: '' };
}
