/**
 * One call, from first audio to deleted room: the only place that decides how a call ends.
 *
 * The worker (a real room) and the simulator (local audio through the phone channel) both run
 * calls through `runCall`; they differ only in the `CallIo` they pass. This file is the call's
 * sequence; its parts are modules of their own (src/call/README.md): the transfer and keypad
 * controls the tools get, the recording, the policies for silence and failing providers, the
 * answering-machine screen, and the end. Every way out asks `CallEnd` (callEnd.ts), once: then a
 * goodbye that must finish playing, the session closes, the room is deleted (once, by
 * `RoomJanitor`), and the call record is written (callRecord.ts).
 */
import { type VAD, log, voice } from '@livekit/agents';
import { introAgent } from '../../agents/intro.js';
import { agentPolicy } from '../../agents/policy.js';
import { type CallUserdata, newUserdata } from '../../tools/callContext.js';
import { bookRules } from '../../tools/appointmentBook.js';
import type { CallControl, EndCallRequest } from '../../tools/callContext.js';
import { type Config, workerId } from '../config.js';
import type { PriceTable } from '../cost/index.js';
import { buildVersion } from '../observe/buildVersion.js';
import { withCallContext } from '../observe/callContext.js';
import { ATTR_CALL_ID, ATTR_ROOM, inSpan } from '../observe/tracing.js';
import { type ProviderKeys, type Providers, buildProviders, isPhoneProfile } from '../session/providers.js';
import { createSession } from '../session/sessionFactory.js';
import type { CallRecord, Store } from '../store/index.js';
import { newOwner } from '../store/owner.js';
import { screenForMachine } from './answeringMachine.js';
import { CallEnd, closeCall, farewell } from './callEnd.js';
import { CallLine } from './callLine.js';
import { CallLog } from './callLog.js';
import { CallObserver } from './callObserver.js';
import { PolicyHold, wirePolicies } from './callPolicies.js';
import { finishRecord, finishWithoutSession, startRecord } from './callRecord.js';
import { CallRecording } from './callRecording.js';
import type { CallSetup } from './callSetup.js';
import { CallKeypad } from './keypadControl.js';
import { LatencyTracker } from './latency.js';
import { type DialResult, type SipDialer, dial } from './outboundDial.js';
import { type OutputListener, tapOutput } from './outputTap.js';
import type { RoomApi } from '../livekit/roomApi.js';
import { RoomJanitor } from './roomJanitor.js';
import { describeError } from './sessionGuards.js';
import { type TransferIo, transferControl } from './transferControl.js';
import type { TransferAttempt } from './transfer.js';
import { UsageMeter } from './usageMeter.js';

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

/** Where the call's audio comes from and goes to (and, on phone calls, the transfers: `TransferIo`). */
export interface CallIo extends TransferIo {
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
  if (unrecorded) return resultWithoutSession(await finishWithoutSession(setup, store, janitor, { kind: 'error', error: `call record: ${unrecorded}` }, now));

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
  const end = new CallEnd(() => line.neverOpen());
  const requestEnd = end.request;

  let session: voice.AgentSession<CallUserdata> | undefined;
  let starting: Promise<void> | undefined;
  let dialed: Promise<DialResult> | undefined;
  /** Providers this call built (not handed in), so this call's to close. */
  let built: Providers | undefined;
  const timers: NodeJS.Timeout[] = [];
  let sessionClosed = false;
  let callerGone = false;
  const live = () => (session && !sessionClosed ? session : undefined);
  const note = (role: 'caller' | 'system', text: string) => callLog.transcript.push({ role, text, at: now().toISOString() });
  const policyHold = new PolicyHold();
  const hold = () => policyHold.hold();

  const phone = isPhoneProfile(setup.profile);
  const transfers = transferControl({
    callId: setup.callId, config, phone, io, live, note: (text) => note('system', text), callerGone: () => callerGone, hold, end: requestEnd, now,
  });
  const desk = transfers.desk;
  const publishDtmf = io.publishDtmf ? (code: number, key: string) => io.publishDtmf!(code, key) : undefined;
  const keypad = new CallKeypad({
    callId: setup.callId, interDigitMs: config.DTMF_INTERDIGIT_MS, live, ending: () => end.reason !== undefined, note, hold, publishDtmf, timers,
  });
  const recording = new CallRecording(config.RECORDING_DIR, setup.callId);
  const recordingControl = recording.control(() => note('system', "recording stopped at the caller's request"));

  const control: CallControl = {
    endCall: (r: EndCallRequest) => requestEnd({ outcome: r.outcome, goodbye: r.goodbye, after: r.after }),
    ...(transfers.control ? { transfer: transfers.control } : {}),
    ...(phone && (io.onDtmf || io.publishDtmf) ? { keypad: keypad.control } : {}),
    keysBeingPressed: () => keypad.busy,
    ...(recordingControl ? { recording: recordingControl } : {}),
    ...(config.HOLD_FILLER_MS > 0 ? { holdFiller: { afterMs: config.HOLD_FILLER_MS, line: config.HOLD_FILLER_TEXT } } : {}),
  };

  try {
    const providers = deps.providers ?? (built = buildProviders(config, setup.profile, deps.providerKeys));
    session = createSession({ config, profile: setup.profile, vad: deps.vad, providers, userdata });
    // The framework would close the session on its own after repeated provider errors, leaving
    // the caller in silence; the lifecycle decides instead (callPolicies.ts).
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
    wirePolicies(session, { config, lines: config.business.lines, end: requestEnd, timers, hold: policyHold, stt: providers.stt });
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
      if (!end.reason && line.open && !desk.inFlight) keypad.press(key);
    });
    io.shutdown?.addEventListener('abort', () =>
      requestEnd({ outcome: { kind: 'shutdown' }, goodbye: config.business.lines.goodbyes.shutdown, interrupt: true }),
    );
    if (io.shutdown?.aborted) requestEnd({ outcome: { kind: 'shutdown' } });
    timers.push(
      setTimeout(
        () => requestEnd({ outcome: { kind: 'max_duration' }, goodbye: config.business.lines.goodbyes.max_duration, interrupt: true }),
        config.MAX_CALL_SECONDS * 1000,
      ),
    );

    if (config.RECORDING_DIR) await recording.open((listener) => io.onCallerAudio?.(listener));
    // Outbound: the session is ready before the callee answers, and listens from the moment they
    // do, so their first "Hello?" is heard (the framework's AMD starts listening at
    // sip.callStatus=active). A failed dial ends the call with its SIP outcome and no goodbye.
    dialed = setup.dial ? dial(deps.sip!, setup.dial) : undefined;
    void dialed?.then((r) => {
      if (!r.answered) requestEnd({ outcome: r.outcome });
    });
    if (!end.reason) {
      // The callee's leg joins the room while it rings; a dial that fails first must not leave
      // the call waiting for it.
      starting = io.start(session, agent);
      await Promise.race([starting, end.requested]).catch(async (err) => {
        // The dialled leg left before it rang (busy, declined): the dial's outcome says why.
        if (dialed && !(await dialed).answered) return;
        throw err;
      });
    }
    if (!end.reason) {
      const listeners: OutputListener[] = [latency.outputListener];
      if (recording.agentListener) listeners.push(recording.agentListener);
      tapOutput(session as voice.AgentSession<unknown>, listeners);
      // Only now may the agent speak: everything it says is heard and recorded. On an outbound
      // call, only once the callee answered and we know a person did.
      if (setup.detectMachine) void screenForMachine(session, config, userdata, openLine, requestEnd, dialed);
      else openLine();
    }
    await end.requested;
    await farewell(session, end.reason!, sessionClosed);
  } catch (err) {
    log().error({ callId: setup.callId, error: (err as Error).message }, 'call failed');
    requestEnd({ outcome: { kind: 'error', error: (err as Error).message } });
  } finally {
    for (const t of timers) clearTimeout(t);
    keypad.close();
  }

  const req = end.reason!;
  const { roomDeleted, recordingPath } = await closeCall({
    callId: setup.callId, room: setup.room, req, starting, live, janitor, hungUp: io.hungUp, shutdown: io.shutdown, built, recording,
  });
  const record = await finishRecord(
    { config, store, now, prices: deps.prices },
    { setup, outcome: req.outcome, startedAtMs, callLog, latency, usage, observer, userdata, transfers: desk.attempts, underruns: io.audioUnderruns?.(), recordingPath },
  );
  return { record, roomDeleted, transfers: desk.attempts, keysSent: keypad.keysSent };
}

/** The result of a call that ended before it had a session: nothing transferred, no tones sent. */
function resultWithoutSession(r: { record: CallRecord; roomDeleted: boolean }): CallResult {
  return { ...r, transfers: [], keysSent: '' };
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
  return resultWithoutSession(await finishWithoutSession(setup, deps.store, new RoomJanitor(deps.roomApi, setup.room), { kind: 'error', error }, now));
}
