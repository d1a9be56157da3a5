/**
 * The end-of-call report: what a receiver gets for one finished call. Built from the stored call
 * record (immutable once finished) and the event, so every attempt of one event sends the same
 * bytes, and a replay sends the same report under a new id.
 */
import type { CallRecord, WebhookDelivery } from '../store/index.js';

export interface EndOfCallReport {
  type: string;
  /** When the event was created (the call's end, or the replay), ISO. */
  timestamp: string;
  data: {
    callId: string;
    room: string;
    direction: CallRecord['direction'];
    /** The caller's number (inbound), or the number we dialled (outbound); null for browsers. */
    callerNumber: string | null;
    startedAt: string;
    endedAt: string | null;
    durationSeconds: number | null;
    outcome: CallRecord['outcome'] | null;
    agents: string[];
    transcript: NonNullable<CallRecord['transcript']>;
    toolCalls: NonNullable<CallRecord['toolCalls']>;
    userdata: unknown;
    result: Record<string, unknown> | null;
    latency: unknown;
    cost: unknown;
    recordingPath: string | null;
    campaignId: string | null;
    contactId: string | null;
    /** Set on a replay: the id of the first event for this call. */
    replayOf: string | null;
  };
}

export function endOfCallReport(event: Pick<WebhookDelivery, 'type' | 'createdAt' | 'replayOf'>, r: CallRecord): EndOfCallReport {
  const started = Date.parse(r.startedAt);
  const ended = r.endedAt ? Date.parse(r.endedAt) : NaN;
  return {
    type: event.type,
    timestamp: new Date(event.createdAt).toISOString(),
    data: {
      callId: r.id,
      room: r.room,
      direction: r.direction,
      callerNumber: r.callerNumber,
      startedAt: r.startedAt,
      endedAt: r.endedAt ?? null,
      durationSeconds: Number.isFinite(started) && Number.isFinite(ended) ? Math.round(ended - started) / 1000 : null,
      outcome: r.outcome ?? null,
      agents: r.agents ?? [],
      transcript: r.transcript ?? [],
      toolCalls: r.toolCalls ?? [],
      userdata: r.userdata ?? null,
      result: r.result ?? null,
      latency: r.latency ?? null,
      cost: r.cost ?? null,
      recordingPath: r.recordingPath ?? null,
      campaignId: r.campaignId ?? null,
      contactId: r.contactId ?? null,
      replayOf: event.replayOf,
    },
  };
}
