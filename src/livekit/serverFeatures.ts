/**
 * What the LiveKit server we talk to can do, where that decides how a call goes.
 *
 * The framework's warm transfer merges the person into the caller's room with
 * RoomService.MoveParticipant, which livekit-server has only since 1.9: an older server answers
 * `bad_route` (HTTP 404), and only once the person has answered and been briefed, leaving the
 * caller on hold for good. So the worker asks first: a MoveParticipant with no room names the
 * method's existence (a server that has it rejects the empty request; one that does not has no
 * route for it) without moving anyone. The answer is kept per server for the process's life.
 */
import { RoomServiceClient } from 'livekit-server-sdk';
import type { Config } from '../config.js';
import { apiUrl } from './roomApi.js';

const known = new Map<string, Promise<boolean>>();

/** Resolves true when the server has MoveParticipant (a warm transfer can merge). */
export function canMoveParticipants(config: Pick<Config, 'LIVEKIT_URL' | 'LIVEKIT_API_KEY' | 'LIVEKIT_API_SECRET'>): Promise<boolean> {
  const url = apiUrl(config.LIVEKIT_URL);
  let answer = known.get(url);
  if (!answer) {
    const client = new RoomServiceClient(url, config.LIVEKIT_API_KEY, config.LIVEKIT_API_SECRET);
    answer = client.moveParticipant('', '', '').then(
      () => true,
      (err: { code?: string; status?: number }) => {
        // Not a server's answer (it could not be reached): ask again next time, and try the transfer.
        if (err.code === undefined && err.status === undefined) known.delete(url);
        return !(err.code === 'bad_route' || err.status === 404);
      },
    );
    known.set(url, answer);
  }
  return answer;
}

/** Why a warm transfer cannot run against this server, or undefined when it can. */
export async function warmTransferUnavailable(config: Pick<Config, 'LIVEKIT_URL' | 'LIVEKIT_API_KEY' | 'LIVEKIT_API_SECRET'>): Promise<string | undefined> {
  return (await canMoveParticipants(config))
    ? undefined
    : 'the LiveKit server has no MoveParticipant (livekit-server 1.9 or later has), so a warm transfer could not join the person to the caller';
}
