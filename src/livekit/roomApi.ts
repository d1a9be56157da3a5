/**
 * LiveKit server API clients built from config. The SDK speaks HTTP(S) to the same host the
 * worker reaches over WebSocket, so ws:// becomes http:// here and nowhere else.
 */
import { RoomServiceClient } from 'livekit-server-sdk';
import type { Config } from '../config.js';

/** The one LiveKit server call a call's end needs; the emulator and tests stand in for it. */
export interface RoomApi {
  deleteRoom(room: string): Promise<void>;
}

export function apiUrl(livekitUrl: string): string {
  return livekitUrl.replace(/^ws(s?):\/\//, 'http$1://');
}

export function livekitRoomApi(config: Pick<Config, 'LIVEKIT_URL' | 'LIVEKIT_API_KEY' | 'LIVEKIT_API_SECRET'>): RoomApi {
  const client = new RoomServiceClient(apiUrl(config.LIVEKIT_URL), config.LIVEKIT_API_KEY, config.LIVEKIT_API_SECRET);
  return { deleteRoom: (room) => client.deleteRoom(room) };
}
