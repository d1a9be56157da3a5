/**
 * The call record's two writes: the first, before anything can go wrong (a crash still leaves a
 * trace), and the last, once the call is down, with everything the call's meters saw. A call that
 * never got a session still gets its last write, with the reason.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { log } from '@livekit/agents';
import type { CallUserdata } from '../../tools/callContext.js';
import type { Config } from '../config.js';
import { DEFAULT_PRICES, type PriceTable, callCost } from '../cost/index.js';
import type { CallOutcome, CallRecord, Store } from '../store/index.js';
import type { CallLog } from './callLog.js';
import { type CallObserver, countCallEnd, countCallStart } from './callObserver.js';
import type { CallSetup } from './callSetup.js';
import type { LatencyTracker, TurnLatency } from './latency.js';
import { personalData } from './personalData.js';
import type { TransferAttempt } from './transfer.js';
import type { RoomJanitor } from './roomJanitor.js';
import type { UsageMeter } from './usageMeter.js';

type RecordSetup = Pick<CallSetup, 'callId' | 'room' | 'direction' | 'callerNumber' | 'campaignId' | 'contactId'>;

/** The first write. */
export function startRecord(store: Store, setup: RecordSetup, now: () => Date, owner: string | null = null): Promise<void> {
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

/** What the call saw, for its last write. */
export interface CallAccount {
  setup: Pick<CallSetup, 'callId' | 'direction'>;
  outcome: CallOutcome;
  /** Epoch ms the call started (its duration, billed). */
  startedAtMs: number;
  callLog: CallLog;
  latency: LatencyTracker;
  usage: UsageMeter;
  observer: CallObserver;
  userdata: CallUserdata;
  transfers: TransferAttempt[];
  underruns?: number;
  recordingPath: string | null;
}

/** The last write of a call that ran; returns the record as stored. */
export async function finishRecord(
  deps: { config: Config; store: Store; now: () => Date; prices?: PriceTable },
  a: CallAccount,
): Promise<CallRecord> {
  const { config, store, now } = deps;
  const meta = a.observer.ended({ outcome: a.outcome, transfers: a.transfers, underruns: a.underruns }, a.latency);
  const durationSeconds = (Date.now() - a.startedAtMs) / 1000;
  const cost = callCost(a.usage.usage(durationSeconds, a.setup.direction, config.SIP_CARRIER), deps.prices ?? DEFAULT_PRICES);
  await store.calls.finish(a.setup.callId, {
    endedAt: now().toISOString(),
    outcome: a.outcome,
    agents: a.callLog.agents,
    // REDACT_PII: what is stored is what the webhook and every later reader sees.
    ...personalData(config, { toolCalls: a.callLog.toolCalls, userdata: a.userdata, transcript: a.callLog.transcript, result: a.userdata.result ?? null }),
    recordingPath: a.recordingPath,
    latency: a.latency.summary(),
    cost,
    meta,
  });
  if (config.LATENCY_LOG_PATH) await appendLatencyLog(config.LATENCY_LOG_PATH, a.setup.callId, a.latency.summary().turns);
  return (await store.calls.get(a.setup.callId))!;
}

/** Ends a call that never got a session (a failed dial, a bad job): delete the room, record why. */
export async function finishWithoutSession(
  setup: Pick<CallSetup, 'callId' | 'direction'>,
  store: Store,
  janitor: RoomJanitor,
  outcome: CallOutcome,
  now: () => Date,
): Promise<{ record: CallRecord; roomDeleted: boolean }> {
  const deletion = await janitor.deleteOnce();
  countCallEnd(setup.direction, outcome);
  await store.calls.finish(setup.callId, {
    endedAt: now().toISOString(),
    outcome,
    agents: [],
    toolCalls: [],
    userdata: null,
    transcript: [],
  });
  return { record: (await store.calls.get(setup.callId))!, roomDeleted: deletion.deleted };
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
