/**
 * Short-lived join tokens for testing the agent from a browser (LiveKit Agents Playground, or any
 * LiveKit client): the least grants a caller needs — join THIS room, publish, subscribe, send
 * data; nothing admin — and a room configuration that dispatches our agent when the token's
 * holder creates the room.
 */
import { randomBytes } from 'node:crypto';
import { RoomAgentDispatch, RoomConfiguration } from '@livekit/protocol';
import { AccessToken } from 'livekit-server-sdk';

export const MAX_TTL_SECONDS = 24 * 3600;

/** "15m", "1h", "90s" or plain seconds → seconds; undefined when it is not a duration in range. */
export function parseTtl(raw: string): number | undefined {
  const m = /^\s*(\d+)\s*(s|m|h)?\s*$/i.exec(raw);
  if (!m) return undefined;
  const n = Number(m[1]) * ({ s: 1, m: 60, h: 3600 } as const)[(m[2] ?? 's').toLowerCase() as 's' | 'm' | 'h'];
  return n >= 10 && n <= MAX_TTL_SECONDS ? n : undefined;
}

export interface JoinTokenRequest {
  apiKey: string;
  apiSecret: string;
  agentName: string;
  room?: string;
  identity?: string;
  ttlSeconds: number;
  /** Prefix of the default room name (ROOM_PREFIX): "<prefix>_browser_<random>". */
  roomPrefix?: string;
}

export interface JoinToken {
  token: string;
  room: string;
  identity: string;
  agentName: string;
  ttlSeconds: number;
  expiresAt: string;
}

/**
 * The token's room configuration as the JSON the server parses, holding only the fields we set.
 * The SDK's own serialisation writes every field of the protocol version we pin, defaults
 * included (`restartPolicy`, `deployment`…), and a server older than that protocol refuses the
 * whole token as invalid (livekit-server 1.8.4: 401, unknown field "restartPolicy"). Fields left at
 * their defaults mean the same to every server, so they are left out.
 */
export function roomConfigClaim(agentName: string): RoomConfiguration {
  const config = new RoomConfiguration({ agents: [new RoomAgentDispatch({ agentName })] });
  // A plain object in the claim's place: the SDK puts it into the JWT as it is.
  return config.toJson({ emitDefaultValues: false }) as unknown as RoomConfiguration;
}

export async function mintJoinToken(req: JoinTokenRequest): Promise<JoinToken> {
  const room = req.room ?? `${req.roomPrefix ?? 'call'}_browser_${randomBytes(4).toString('hex')}`;
  const identity = req.identity ?? `tester_${randomBytes(3).toString('hex')}`;
  const at = new AccessToken(req.apiKey, req.apiSecret, { identity, name: 'Browser tester', ttl: req.ttlSeconds });
  at.addGrant({ roomJoin: true, room, canPublish: true, canSubscribe: true, canPublishData: true });
  // Applied by the server when this join creates the room: it dispatches the agent, explicitly,
  // as the SIP dispatch rule does for phone calls.
  at.roomConfig = roomConfigClaim(req.agentName);
  const token = await at.toJwt();
  return {
    token,
    room,
    identity,
    agentName: req.agentName,
    ttlSeconds: req.ttlSeconds,
    expiresAt: new Date(Date.now() + req.ttlSeconds * 1000).toISOString(),
  };
}
