/**
 * Rows to records, shared by the backends: both keep the same columns, JSON as text and times as
 * ISO text (records) or epoch ms (campaigns, outbox), so one mapping serves both.
 */
import type { WebhookDelivery } from './outbox.js';
import type { Appointment, AppointmentStatus, CallRecord } from './types.js';

type Row = Record<string, unknown>;

export const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));
const parse = <T>(s: unknown): T | undefined => (typeof s === 'string' ? (JSON.parse(s) as T) : undefined);

/** The finish columns of call_records, as bound parameters. */
export function finishParams(id: string, r: import('./types.js').CallFinish) {
  return {
    id,
    endedAt: r.endedAt,
    outcome: json(r.outcome),
    kind: r.outcome.kind,
    agents: json(r.agents),
    toolCalls: json(r.toolCalls),
    userdata: json(r.userdata),
    transcript: json(r.transcript),
    result: json(r.result ?? null),
    recordingPath: r.recordingPath ?? null,
    latency: json(r.latency ?? null),
    cost: json(r.cost ?? null),
    meta: json(r.meta ?? null),
  };
}

export function toCallRecord(r: Row): CallRecord {
  return {
    id: r.id as string,
    room: r.room as string,
    direction: r.direction as CallRecord['direction'],
    callerNumber: (r.caller_number as string | null) ?? null,
    campaignId: (r.campaign_id as string | null) ?? null,
    contactId: (r.contact_id as string | null) ?? null,
    startedAt: r.started_at as string,
    owner: (r.owner as string | null) ?? null,
    finished: r.ended_at !== null,
    endedAt: (r.ended_at as string | null) ?? undefined,
    outcome: parse(r.outcome),
    agents: parse(r.agents),
    toolCalls: parse(r.tool_calls),
    userdata: parse(r.userdata),
    transcript: parse(r.transcript),
    result: parse(r.result) ?? null,
    recordingPath: (r.recording_path as string | null) ?? null,
    latency: parse(r.latency),
    cost: parse(r.cost),
    meta: parse(r.meta) ?? null,
  };
}

export function toAppointment(r: Row): Appointment {
  return {
    id: r.id as string,
    name: r.name as string,
    phone: (r.phone as string | null) ?? null,
    start: r.start_utc as string,
    durationMin: r.duration_min as number,
    reason: (r.reason as string | null) ?? null,
    status: r.status as AppointmentStatus,
    callId: (r.call_id as string | null) ?? null,
    dateOfBirth: (r.date_of_birth as string | null) ?? null,
  };
}

export function toDelivery(r: Row): WebhookDelivery {
  return {
    eventId: r.event_id as string,
    callId: r.call_id as string,
    type: r.type as string,
    createdAt: r.created_at as number,
    replayOf: (r.replay_of as string | null) ?? null,
    endpoint: r.endpoint as string,
    state: r.state as WebhookDelivery['state'],
    attempts: r.attempts as number,
    nextAt: r.next_at as number,
    giveUpAt: r.give_up_at as number,
    owner: (r.owner as string | null) ?? null,
    leaseUntil: (r.lease_until as number | null) ?? null,
    lastStatus: (r.last_status as number | null) ?? null,
    lastError: (r.last_error as string | null) ?? null,
    deliveredAt: (r.delivered_at as number | null) ?? null,
  };
}

/** `msg_` and 32 hex digits: the `webhook-id` of an event. */
export function newEventId(): string {
  return `msg_${crypto.randomUUID().replace(/-/g, '')}`;
}
