/**
 * How a call ends: every way out (a tool, a policy, the caller leaving, a shutdown, the time limit)
 * asks `CallEnd` to end it, the first reason wins, and `closeCall` then takes it down in one fixed
 * order: the goodbye (heard in full), the session, the room (once), the providers, the recording.
 * The record is written last, by callRecord.ts.
 */
import { log, type voice } from '@livekit/agents';
import type { CallUserdata } from '../../tools/callContext.js';
import { type Providers, closeProviders } from '../session/providers.js';
import type { CallOutcome } from '../store/index.js';
import type { CallRecording } from './callRecording.js';
import type { RoomJanitor } from './roomJanitor.js';
import { withTimeout } from './sessionGuards.js';

/** How long a goodbye may take to play before the line is closed anyway. */
export const GOODBYE_TIMEOUT_MS = 15_000;
const CLOSE_TIMEOUT_MS = 10_000;
const START_SETTLE_MS = 5_000;

export type EndRequest = {
  outcome: CallOutcome;
  goodbye?: string;
  after?: voice.SpeechHandle;
  interrupt?: boolean;
  /** A warm transfer put a person in the room with the caller: delete it only when the caller leaves. */
  keepRoomUntilHangup?: boolean;
};

/** The one request to end the call. */
export class CallEnd {
  private req: EndRequest | undefined;
  private signal!: () => void;
  /** Resolves on the first request. */
  readonly requested = new Promise<void>((r) => (this.signal = r));

  /** `onEnd` runs once, with the first request (the line closes before anything else can be said). */
  constructor(private readonly onEnd: () => void) {}

  readonly request = (req: EndRequest): void => {
    if (this.req) return; // the first reason wins; later ones are consequences of ending
    this.req = req;
    this.onEnd();
    this.signal();
  };

  /** The request that ended the call; undefined while it runs. */
  get reason(): EndRequest | undefined {
    return this.req;
  }
}

/** Say the goodbye only to someone still on the line, and only once it can be heard in full. */
export async function farewell(session: voice.AgentSession<CallUserdata>, req: EndRequest, sessionClosed: boolean): Promise<void> {
  if (req.goodbye && !sessionClosed && req.outcome.kind !== 'hung_up') {
    await sayGoodbye(session, req);
  } else if (req.after && !req.goodbye && !sessionClosed) {
    // Ended from inside a tool (a transfer): let that turn finish, so the tool call is recorded.
    await withTimeout(req.after.waitForPlayout(), CLOSE_TIMEOUT_MS).catch(() => undefined);
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

export interface ClosingCall {
  callId: string;
  room: string;
  req: EndRequest;
  /** The session's start, if it began: closing a session still starting hangs the framework's close. */
  starting?: Promise<void>;
  /** The session while it runs (read after the start settles: it may have closed meanwhile). */
  live: () => voice.AgentSession<CallUserdata> | undefined;
  janitor: RoomJanitor;
  /** Resolves when the caller leaves; `shutdown` aborts when the worker stops. */
  hungUp: Promise<void>;
  shutdown?: AbortSignal;
  /** Providers this call built (not handed in), so this call's to close. */
  built?: Providers;
  recording: CallRecording;
}

/** Takes the call down once its goodbye is over: what it leaves is whether the room went, and the recording. */
export async function closeCall(c: ClosingCall): Promise<{ roomDeleted: boolean; recordingPath: string | null }> {
  // Closing a session that is still starting (a dial that failed while the callee's leg was
  // joining) hangs the framework's close; let the start finish first.
  if (c.starting) await withTimeout(c.starting, START_SETTLE_MS).catch(() => undefined);
  const session = c.live();
  if (session) {
    await withTimeout(session.close(), CLOSE_TIMEOUT_MS).catch((err) =>
      log().warn({ callId: c.callId, error: (err as Error).message }, 'session did not close cleanly'),
    );
  }
  let deletion: { deleted: boolean } = { deleted: false };
  if (c.req.keepRoomUntilHangup) {
    // The caller is talking to a person in this room now. Deleting it would hang up on both, so it
    // goes when the caller leaves. A worker shutting down leaves it to LiveKit's empty-room timeout
    // rather than cutting that conversation off.
    const stopped = c.shutdown ? new Promise<void>((r) => c.shutdown!.addEventListener('abort', () => r(), { once: true })) : new Promise<void>(() => undefined);
    const left = await Promise.race([c.hungUp.then(() => true), c.shutdown?.aborted ? Promise.resolve(false) : stopped.then(() => false)]);
    if (left) deletion = await c.janitor.deleteOnce();
    else log().warn({ callId: c.callId, room: c.room }, 'worker stopping during a transferred call; the room is left for LiveKit to close');
  } else {
    deletion = await c.janitor.deleteOnce();
  }
  // Closing the session does not close its providers: the TTS keeps its pooled socket to the
  // provider open, one per call on a worker process that runs many.
  if (c.built) await withTimeout(closeProviders(c.built), CLOSE_TIMEOUT_MS).catch(() => undefined);
  const recordingPath = await c.recording.close();
  return { roomDeleted: deletion.deleted, recordingPath };
}
