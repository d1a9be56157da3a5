// livekit.RoomService and livekit.AgentDispatchService for the emulator.
//
// Grants (livekit-server pkg/service/roomservice.go, agent_dispatch_service.go):
// CreateRoom and DeleteRoom need video.roomCreate; ListRooms needs
// video.roomList; participant calls, UpdateRoomMetadata, SendData and every
// AgentDispatch call need video.roomAdmin with video.room naming the room.
//
// Not-found behaviour mirrors livekit-server: DeleteRoom / UpdateRoomMetadata
// of a missing room → not_found "requested room does not exist";
// ListParticipants of a missing room → an empty list; ListDispatch /
// DeleteDispatch in a missing room → not_found; GetParticipant /
// UpdateParticipant of a missing participant → not_found "participant does
// not exist"; RemoveParticipant → not_found "participant not found".

import {
  AgentDispatch,
  AgentDispatchState,
  CreateAgentDispatchRequest,
  CreateRoomRequest,
  DeleteAgentDispatchRequest,
  DeleteRoomRequest,
  DeleteRoomResponse,
  ListAgentDispatchRequest,
  ListAgentDispatchResponse,
  ListParticipantsRequest,
  ListParticipantsResponse,
  ListRoomsRequest,
  ListRoomsResponse,
  ParticipantInfo,
  ParticipantInfo_Kind,
  ParticipantInfo_State,
  RemoveParticipantResponse,
  RoomParticipantIdentity,
  SendDataRequest,
  SendDataResponse,
  UpdateParticipantRequest,
  UpdateRoomMetadataRequest,
  type JobRestartPolicy,
} from '@livekit/protocol';
import { endCall } from './livekitApiSip.js';
import { notEmulated, required, rpc, toWire, type EmulatorCore, type RpcHandler, type WireJson } from './livekitApiState.js';
import { TwirpError, newId } from './livekitApiTwirp.js';

function roomNotFound(): TwirpError {
  return new TwirpError('not_found', 'requested room does not exist');
}

interface DispatchInit {
  room: string;
  agentName: string;
  metadata: string;
  attributes: Record<string, string>;
  restartPolicy: JobRestartPolicy;
  deployment: string;
}

function createDispatch(core: EmulatorCore, init: DispatchInit, source: 'CreateDispatch' | 'CreateRoom'): AgentDispatch {
  const dispatch = new AgentDispatch({
    id: newId('AD_'),
    agentName: init.agentName,
    room: init.room,
    metadata: init.metadata,
    attributes: { ...init.attributes },
    restartPolicy: init.restartPolicy,
    deployment: init.deployment,
    state: new AgentDispatchState({ createdAt: BigInt(Date.now()) * 1_000_000n }),
  });
  core.state.dispatches.set(dispatch.id, dispatch);
  core.emit('dispatch', {
    room: init.room,
    agentName: init.agentName,
    metadata: init.metadata,
    dispatchId: dispatch.id,
    attributes: { ...init.attributes },
    source,
  });
  return dispatch;
}

/** Deletes a room the way DeleteRoom does: calls end, participants and dispatches go. */
export function deleteRoom(core: EmulatorCore, name: string): boolean {
  const record = core.state.rooms.get(name);
  if (!record) return false;
  const identities = [...record.participants.keys()];
  for (const p of [...record.participants.values()]) {
    const call = p.callId ? core.state.calls.get(p.callId) : undefined;
    if (call) endCall(core, call, 'room deleted', { lingerMs: 0 });
  }
  for (const [id, d] of core.state.dispatches) if (d.room === name) core.state.dispatches.delete(id);
  core.state.rooms.delete(name);
  core.emit('roomDeleted', { room: name, sid: record.room.sid, participants: identities });
  return true;
}

export interface JoinParticipantInit {
  identity: string;
  name?: string;
  metadata?: string;
  attributes?: Record<string, string>;
  kind?: 'standard' | 'agent' | 'sip' | 'ingress' | 'egress';
}

const KIND: Record<NonNullable<JoinParticipantInit['kind']>, ParticipantInfo_Kind> = {
  standard: ParticipantInfo_Kind.STANDARD,
  agent: ParticipantInfo_Kind.AGENT,
  sip: ParticipantInfo_Kind.SIP,
  ingress: ParticipantInfo_Kind.INGRESS,
  egress: ParticipantInfo_Kind.EGRESS,
};

/** Harness helper: a participant joins (creating the room if needed). */
export function joinParticipant(core: EmulatorCore, room: string, init: JoinParticipantInit): WireJson {
  const { record } = core.state.ensureRoom(room);
  const now = Date.now();
  const info = new ParticipantInfo({
    sid: newId('PA_'),
    identity: init.identity,
    name: init.name ?? '',
    metadata: init.metadata ?? '',
    attributes: { ...(init.attributes ?? {}) },
    kind: KIND[init.kind ?? 'standard'],
    state: ParticipantInfo_State.ACTIVE,
    isPublisher: true,
    joinedAt: BigInt(Math.floor(now / 1000)),
    joinedAtMs: BigInt(now),
    version: 1,
  });
  const previous = record.participants.get(init.identity);
  const prevCall = previous?.callId ? core.state.calls.get(previous.callId) : undefined;
  if (prevCall) endCall(core, prevCall, 'replaced by a participant with the same identity', { lingerMs: 0 });
  record.participants.set(init.identity, { info });
  return toWire(info);
}

export function roomService(core: EmulatorCore): Record<string, RpcHandler> {
  const { state } = core;
  return {
    CreateRoom: rpc(CreateRoomRequest, (req, ctx) => {
      ctx.grants.create();
      required(req.name, 'name');
      const { record, created } = state.ensureRoom(req.name, {
        emptyTimeout: req.emptyTimeout,
        departureTimeout: req.departureTimeout,
        maxParticipants: req.maxParticipants,
        metadata: req.metadata,
      });
      if (created) {
        for (const a of req.agents) {
          createDispatch(
            core,
            {
              room: req.name,
              agentName: a.agentName,
              metadata: a.metadata,
              attributes: a.attributes,
              restartPolicy: a.restartPolicy,
              deployment: a.deployment,
            },
            'CreateRoom',
          );
        }
      }
      return state.roomWire(record);
    }),

    ListRooms: rpc(ListRoomsRequest, (req, ctx) => {
      ctx.grants.list();
      const rooms = [...state.rooms.values()].filter((r) => req.names.length === 0 || req.names.includes(r.room.name));
      return { ...toWire(new ListRoomsResponse()), rooms: rooms.map((r) => state.roomWire(r)) };
    }),

    DeleteRoom: rpc(DeleteRoomRequest, (req, ctx) => {
      ctx.grants.create();
      if (!deleteRoom(core, req.room)) throw roomNotFound();
      return toWire(new DeleteRoomResponse());
    }),

    ListParticipants: rpc(ListParticipantsRequest, (req, ctx) => {
      ctx.grants.admin(req.room);
      const record = state.rooms.get(req.room);
      const participants = record ? [...record.participants.values()].map((p) => p.info) : [];
      return toWire(new ListParticipantsResponse({ participants }));
    }),

    GetParticipant: rpc(RoomParticipantIdentity, (req, ctx) => {
      ctx.grants.admin(req.room);
      const p = state.participant(req.room, req.identity);
      if (!p) throw new TwirpError('not_found', 'participant does not exist');
      return toWire(p.info);
    }),

    RemoveParticipant: rpc(RoomParticipantIdentity, (req, ctx) => {
      ctx.grants.admin(req.room);
      const p = state.participant(req.room, req.identity);
      if (!p) throw new TwirpError('not_found', 'participant not found');
      const call = p.callId ? state.calls.get(p.callId) : undefined;
      if (call && call.endedAt === undefined) endCall(core, call, 'removed by RemoveParticipant', { lingerMs: 0 });
      state.removeParticipantSid(req.room, req.identity, p.info.sid);
      return toWire(new RemoveParticipantResponse());
    }),

    UpdateParticipant: rpc(UpdateParticipantRequest, (req, ctx) => {
      ctx.grants.admin(req.room);
      const p = state.participant(req.room, req.identity);
      if (!p) throw new TwirpError('not_found', 'participant does not exist');
      if (req.metadata !== '') p.info.metadata = req.metadata;
      if (req.name !== '') p.info.name = req.name;
      for (const [k, v] of Object.entries(req.attributes)) {
        if (v === '') delete p.info.attributes[k];
        else p.info.attributes[k] = v;
      }
      if (req.permission) p.info.permission = req.permission.clone();
      p.info.version += 1;
      return toWire(p.info);
    }),

    UpdateRoomMetadata: rpc(UpdateRoomMetadataRequest, (req, ctx) => {
      ctx.grants.admin(req.room);
      const record = state.rooms.get(req.room);
      if (!record) throw roomNotFound();
      record.room.metadata = req.metadata;
      return state.roomWire(record);
    }),

    SendData: rpc(SendDataRequest, (req, ctx) => {
      ctx.grants.admin(req.room);
      if (req.nonce.length !== 0 && req.nonce.length !== 16) {
        throw new TwirpError('invalid_argument', `nonce should be 16-bytes or not present, got: ${req.nonce.length} bytes`);
      }
      if (!state.rooms.has(req.room)) throw roomNotFound();
      return toWire(new SendDataResponse());
    }),

    MutePublishedTrack: notEmulated('RoomService', 'MutePublishedTrack'),
    UpdateSubscriptions: notEmulated('RoomService', 'UpdateSubscriptions'),
    // ForwardParticipant, MoveParticipant and PerformRpc are absent on purpose: livekit-server
    // 1.8.4 (the real-stack suite's server) has no handler for them and answers `bad_route`
    // (404, `no handler for path ...`), and so does the emulator. MoveParticipant is what the
    // framework's warm transfer merges with (src/livekit/serverFeatures.ts probes for it).
  };
}

export function agentDispatchService(core: EmulatorCore): Record<string, RpcHandler> {
  const { state } = core;
  return {
    CreateDispatch: rpc(CreateAgentDispatchRequest, (req, ctx) => {
      ctx.grants.admin(req.room);
      required(req.room, 'room');
      // Dispatching to a room that does not exist yet creates it.
      state.ensureRoom(req.room);
      const dispatch = createDispatch(
        core,
        {
          room: req.room,
          agentName: req.agentName,
          metadata: req.metadata,
          attributes: req.attributes,
          restartPolicy: req.restartPolicy,
          deployment: req.deployment,
        },
        'CreateDispatch',
      );
      return toWire(dispatch);
    }),

    ListDispatch: rpc(ListAgentDispatchRequest, (req, ctx) => {
      ctx.grants.admin(req.room);
      if (!state.rooms.has(req.room)) throw roomNotFound();
      const agentDispatches = [...state.dispatches.values()].filter(
        (d) => d.room === req.room && (req.dispatchId === '' || d.id === req.dispatchId),
      );
      return toWire(new ListAgentDispatchResponse({ agentDispatches }));
    }),

    DeleteDispatch: rpc(DeleteAgentDispatchRequest, (req, ctx) => {
      ctx.grants.admin(req.room);
      required(req.dispatchId, 'dispatch_id');
      if (!state.rooms.has(req.room)) throw roomNotFound();
      const dispatch = state.dispatches.get(req.dispatchId);
      if (!dispatch || dispatch.room !== req.room) {
        throw new TwirpError('not_found', `dispatch ${req.dispatchId} not found in room "${req.room}"`);
      }
      state.dispatches.delete(req.dispatchId);
      const deleted = dispatch.clone();
      deleted.state = dispatch.state?.clone() ?? new AgentDispatchState();
      deleted.state.deletedAt = BigInt(Date.now()) * 1_000_000n;
      return toWire(deleted);
    }),
  };
}
