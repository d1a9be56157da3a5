/**
 * Plays the worker's side of the dispatch contract, for tests, the benchmark and dry runs: given a
 * dispatch (room + OutboundJob metadata), it writes the call record the real worker would — start,
 * then finish with an outcome — into the store, under that room and the job's campaign/contact.
 * Wire it to the LiveKit API emulator with `lk.onDispatch(simulatedWorker(store, …))`.
 */
import { randomBytes } from 'node:crypto';
import { parseJobMetadata } from '../call/jobMetadata.js';
import type { OutboundJob } from '../call/jobMetadata.js';
import type { CallOutcome, CallRecordStore } from '../store/index.js';

export interface SimulatedWorkerOptions {
  /** The outcome of this attempt (default: completed). */
  outcome?: (job: OutboundJob) => CallOutcome;
  result?: (job: OutboundJob, outcome: CallOutcome) => Record<string, unknown> | null;
  /** Delay before the call record starts, and before it finishes (ms; default 0). */
  startDelayMs?: number | (() => number);
  callMs?: number | (() => number);
  now?: () => number;
  onError?: (err: unknown) => void;
}

export function simulatedWorker(calls: CallRecordStore, o: SimulatedWorkerOptions = {}) {
  const ms = (v: number | (() => number) | undefined) => (typeof v === 'function' ? v() : (v ?? 0));
  const sleep = (t: number) => (t > 0 ? new Promise((r) => setTimeout(r, t)) : Promise.resolve());
  const now = o.now ?? Date.now;
  return async (dispatch: { room: string; metadata: string }): Promise<void> => {
    try {
      const job = parseJobMetadata(dispatch.metadata);
      if (job.kind !== 'outbound') return;
      await sleep(ms(o.startDelayMs));
      const id = `call_${randomBytes(6).toString('hex')}`;
      await calls.start({
        id,
        room: dispatch.room,
        direction: 'outbound',
        callerNumber: job.phoneNumber,
        startedAt: new Date(now()).toISOString(),
        campaignId: job.campaignId ?? null,
        contactId: job.contactId ?? null,
      });
      await sleep(ms(o.callMs));
      const outcome = o.outcome?.(job) ?? { kind: 'completed' };
      await calls.finish(id, {
        endedAt: new Date(now()).toISOString(),
        outcome,
        agents: [],
        toolCalls: [],
        userdata: null,
        transcript: [],
        result: o.result?.(job, outcome) ?? (outcome.kind === 'completed' ? { action: 'confirmed' } : null),
      });
    } catch (err) {
      if (o.onError) o.onError(err);
      else throw err;
    }
  };
}
