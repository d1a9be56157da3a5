// In-memory model behind the LiveKit API emulator (rooms, participants, SIP
// trunks and rules, agent dispatches, SIP calls) plus the small "core" the
// service handlers share: timers, hooks, outcome tables and the RPC helper.
//
// Messages are @livekit/protocol classes so requests parse and responses
// serialise with proto3 JSON semantics. Responses use proto field names
// (snake_case) and emit default values, which is what twirp-go does with its
// default options (livekit-server sets no JSON options).

import {
  AgentDispatch,
  ParticipantInfo,
  Room,
  SIPDispatchRuleInfo,
  SIPInboundTrunkInfo,
  SIPOutboundTrunkInfo,
} from '@livekit/protocol';
import type { AuthSummary, GrantChecker } from './livekitApiAuth.js';
import type { DialOutcome, OutcomeTable, PlayedOutcome } from './livekitApiOutcomes.js';
import { TwirpError, newId } from './livekitApiTwirp.js';

export type WireJson = Record<string, unknown>;

interface ProtoJsonWritable {
  toJson(options?: { useProtoFieldName?: boolean; emitDefaultValues?: boolean }): unknown;
}

/** Serialise a protocol message the way livekit-server's twirp handlers do. */
export function toWire(msg: ProtoJsonWritable): WireJson {
  return msg.toJson({ useProtoFieldName: true, emitDefaultValues: true }) as WireJson;
}

// --- events the harness can subscribe to ---

export type SipCallStatus = 'dialing' | 'ringing' | 'active' | 'hangup';

export interface DispatchEvent {
  room: string;
  agentName: string;
  metadata: string;
  dispatchId: string;
  attributes: Record<string, string>;
  /** Which RPC created it: an explicit CreateDispatch, or CreateRoom with `agents`. */
  source: 'CreateDispatch' | 'CreateRoom';
}

export interface RoomDeletedEvent {
  room: string;
  sid: string;
  /** Identities that were in the room when it was deleted. */
  participants: string[];
}

export interface SipParticipantEvent {
  room: string;
  identity: string;
  participantSid: string;
  sipCallId: string;
  trunkId: string;
  /** The dialled number (sip_call_to). */
  number: string;
  /** The caller id used (sip_number, else the trunk's first number). */
  fromNumber: string;
  /** 'answered' for answer/voicemail, 'failed' otherwise. */
  result: 'answered' | 'failed';
  /** True for a voicemail outcome: the simulated callee should act as an answering machine. */
  answeringMachine: boolean;
  /** The outcome as configured for the number. */
  configured: DialOutcome;
  /** The outcome as it played (timings, SIP status). */
  outcome: PlayedOutcome;
  waitUntilAnswered: boolean;
  participantMetadata: string;
  participantAttributes: Record<string, string>;
}

export interface CallStatusEvent {
  room: string;
  identity: string;
  sipCallId: string;
  number: string;
  status: SipCallStatus;
  previous: SipCallStatus | undefined;
  /** Why a call reached `hangup` (SIP failure, callee hung up, removed, transferred…). */
  reason?: string;
}

export interface TransferEvent {
  room: string;
  identity: string;
  sipCallId: string;
  transferTo: string;
  result: 'transferred' | 'failed';
  configured: DialOutcome;
  outcome: PlayedOutcome;
}

export interface EmulatorEventMap {
  dispatch: DispatchEvent;
  roomDeleted: RoomDeletedEvent;
  sipParticipant: SipParticipantEvent;
  callStatus: CallStatusEvent;
  transfer: TransferEvent;
}

// --- model ---

export interface SipCall {
  callId: string;
  room: string;
  identity: string;
  participantSid: string;
  trunkId: string;
  number: string;
  fromNumber: string;
  configured: DialOutcome;
  played: PlayedOutcome;
  status: SipCallStatus;
  waitUntilAnswered: boolean;
  participantMetadata: string;
  participantAttributes: Record<string, string>;
  startedAt: number;
  answeredAt?: number;
  endedAt?: number;
  endReason?: string;
  transferTo?: string;
  /** Settles the pending wait_until_answered response, if any. */
  settle?: { resolve: () => void; reject: (err: TwirpError) => void };
}

export interface TransferRecord {
  at: number;
  room: string;
  identity: string;
  sipCallId: string;
  transferTo: string;
  result: 'pending' | 'transferred' | 'failed';
  sipStatusCode?: number;
}

export interface ParticipantRecord {
  info: ParticipantInfo;
  callId?: string;
}

export interface RoomRecord {
  room: Room;
  participants: Map<string, ParticipantRecord>;
}

export interface RoomInit {
  emptyTimeout?: number;
  departureTimeout?: number;
  maxParticipants?: number;
  metadata?: string;
}

export class EmulatorState {
  readonly rooms = new Map<string, RoomRecord>();
  readonly inboundTrunks = new Map<string, SIPInboundTrunkInfo>();
  readonly outboundTrunks = new Map<string, SIPOutboundTrunkInfo>();
  readonly dispatchRules = new Map<string, SIPDispatchRuleInfo>();
  readonly dispatches = new Map<string, AgentDispatch>();
  readonly calls = new Map<string, SipCall>();
  readonly transfers: TransferRecord[] = [];

  clear(): void {
    this.rooms.clear();
    this.inboundTrunks.clear();
    this.outboundTrunks.clear();
    this.dispatchRules.clear();
    this.dispatches.clear();
    this.calls.clear();
    this.transfers.length = 0;
  }

  /** Returns the room, creating it (with LiveKit's defaults) when absent. */
  ensureRoom(name: string, init: RoomInit = {}): { record: RoomRecord; created: boolean } {
    const existing = this.rooms.get(name);
    if (existing) {
      // CreateRoom on an existing room returns it, applying the non-zero fields.
      const room = existing.room;
      if (init.emptyTimeout) room.emptyTimeout = init.emptyTimeout;
      if (init.departureTimeout) room.departureTimeout = init.departureTimeout;
      if (init.maxParticipants) room.maxParticipants = init.maxParticipants;
      if (init.metadata) room.metadata = init.metadata;
      return { record: existing, created: false };
    }
    const now = Date.now();
    const record: RoomRecord = {
      room: new Room({
        sid: newId('RM_'),
        name,
        emptyTimeout: init.emptyTimeout || 300,
        departureTimeout: init.departureTimeout || 20,
        maxParticipants: init.maxParticipants ?? 0,
        metadata: init.metadata ?? '',
        creationTime: BigInt(Math.floor(now / 1000)),
        creationTimeMs: BigInt(now),
      }),
      participants: new Map(),
    };
    this.rooms.set(name, record);
    return { record, created: true };
  }

  roomWire(record: RoomRecord): WireJson {
    const room = record.room.clone();
    room.numParticipants = record.participants.size;
    room.numPublishers = [...record.participants.values()].filter((p) => p.info.isPublisher).length;
    return toWire(room);
  }

  participant(room: string, identity: string): ParticipantRecord | undefined {
    return this.rooms.get(room)?.participants.get(identity);
  }

  /** Removes the participant only if it is still the one with this sid. */
  removeParticipantSid(room: string, identity: string, sid: string): boolean {
    const record = this.rooms.get(room);
    const p = record?.participants.get(identity);
    if (!record || !p || p.info.sid !== sid) return false;
    record.participants.delete(identity);
    return true;
  }

  snapshot(): EmulatorSnapshot {
    return {
      rooms: [...this.rooms.values()].map((r) => ({
        ...this.roomWire(r),
        participants: [...r.participants.values()].map((p) => toWire(p.info)),
      })),
      inboundTrunks: [...this.inboundTrunks.values()].map(toWire),
      outboundTrunks: [...this.outboundTrunks.values()].map(toWire),
      dispatchRules: [...this.dispatchRules.values()].map(toWire),
      dispatches: [...this.dispatches.values()].map(toWire),
      calls: [...this.calls.values()].map(callSummary),
      transfers: this.transfers.map((t) => ({ ...t })),
    };
  }
}

export interface SipCallSummary {
  sipCallId: string;
  room: string;
  identity: string;
  participantSid: string;
  trunkId: string;
  number: string;
  fromNumber: string;
  status: SipCallStatus;
  outcome: PlayedOutcome;
  configured: DialOutcome;
  answeringMachine: boolean;
  waitUntilAnswered: boolean;
  startedAt: number;
  answeredAt?: number;
  endedAt?: number;
  endReason?: string;
  transferTo?: string;
}

export function callSummary(call: SipCall): SipCallSummary {
  const summary: SipCallSummary = {
    sipCallId: call.callId,
    room: call.room,
    identity: call.identity,
    participantSid: call.participantSid,
    trunkId: call.trunkId,
    number: call.number,
    fromNumber: call.fromNumber,
    status: call.status,
    outcome: { ...call.played },
    configured: { ...call.configured },
    answeringMachine: call.played.answeringMachine,
    waitUntilAnswered: call.waitUntilAnswered,
    startedAt: call.startedAt,
  };
  if (call.answeredAt !== undefined) summary.answeredAt = call.answeredAt;
  if (call.endedAt !== undefined) summary.endedAt = call.endedAt;
  if (call.endReason !== undefined) summary.endReason = call.endReason;
  if (call.transferTo !== undefined) summary.transferTo = call.transferTo;
  return summary;
}

export interface EmulatorSnapshot {
  rooms: Array<WireJson & { participants: WireJson[] }>;
  inboundTrunks: WireJson[];
  outboundTrunks: WireJson[];
  dispatchRules: WireJson[];
  dispatches: WireJson[];
  calls: SipCallSummary[];
  transfers: TransferRecord[];
}

// --- what handlers share ---

export interface EmulatorTiming {
  /** Time from dial to the far end ringing (callStatus dialing → ringing). Default 50 ms. */
  dialingMs: number;
  /** Default ring time before an outcome plays, when the outcome sets none. Default 150 ms. */
  ringMs: number;
  /** How long a hung-up SIP participant stays listed with callStatus "hangup". Default 1000 ms. */
  hangupLingerMs: number;
  /** Default time a transfer takes before its outcome plays. Default 100 ms. */
  transferMs: number;
}

export interface EmulatorCore {
  readonly state: EmulatorState;
  readonly timing: EmulatorTiming;
  readonly dialOutcomes: OutcomeTable;
  readonly transferOutcomes: OutcomeTable;
  readonly defaultDialOutcome: DialOutcome;
  readonly defaultTransferOutcome: DialOutcome;
  /** Runs fn after ms unless the emulator is reset or closed first. */
  schedule(ms: number, fn: () => void): void;
  /** Resolves after ms; rejects (Twirp unavailable) if the emulator is reset or closed first. */
  sleep(ms: number): Promise<void>;
  emit<K extends keyof EmulatorEventMap>(name: K, event: EmulatorEventMap[K]): void;
}

export interface RpcContext {
  grants: GrantChecker;
  auth: AuthSummary | null;
}

export interface RpcHandler {
  handle(body: unknown, ctx: RpcContext): Promise<WireJson>;
}

interface ProtoJsonReadable<T> {
  fromJson(json: never, options?: { ignoreUnknownFields?: boolean }): T;
}

/**
 * Binds a request message type to a handler. The body is decoded with proto3
 * JSON rules (either field-name casing, unknown fields ignored — twirp-go's
 * DiscardUnknown); a body that cannot be decoded is Twirp `malformed`.
 */
export function rpc<T>(type: ProtoJsonReadable<T>, run: (req: T, ctx: RpcContext) => WireJson | Promise<WireJson>): RpcHandler {
  return {
    async handle(body, ctx) {
      let req: T;
      try {
        req = type.fromJson(body as never, { ignoreUnknownFields: true });
      } catch (err) {
        const cause = err instanceof Error ? err.message : String(err);
        throw new TwirpError('malformed', `the json request could not be decoded: ${cause}`, { cause });
      }
      return run(req, ctx);
    },
  };
}

/** A method livekit-server has but the emulator does not model. */
export function notEmulated(service: string, method: string): RpcHandler {
  return {
    async handle() {
      throw new TwirpError('unimplemented', `${service}.${method} is not emulated by the Switchboard LiveKit API emulator`);
    },
  };
}

export function required(value: string, field: string): void {
  if (value === '') throw new TwirpError('invalid_argument', `${field} is required`);
}
