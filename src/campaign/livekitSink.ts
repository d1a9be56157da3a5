/**
 * Where dispatches go: LiveKit's AgentDispatchService, through livekit-server-sdk. `DispatchSink`
 * is the seam tests and the benchmark replace.
 */
import { AgentDispatchClient } from 'livekit-server-sdk';
import type { Config } from '../config.js';
import { apiUrl } from '../livekit/roomApi.js';

export interface DispatchSink {
  /** CreateDispatch of `agentName` into `room` (created if missing) with the job as metadata. */
  dispatch(room: string, metadata: string): Promise<void>;
  /** Whether the room has a dispatch of our agent; a missing room has none. */
  hasDispatch(room: string): Promise<boolean>;
  /** Removes our agent's dispatches from the room (best effort; a missing room is fine). */
  cancel(room: string): Promise<void>;
}

/** Auth and permission failures: retrying cannot help, the run must stop and say so. */
export function isFatalApiError(err: unknown): boolean {
  const e = err as { status?: number; code?: string };
  return e.status === 401 || e.status === 403 || e.code === 'unauthenticated' || e.code === 'permission_denied';
}

function isNotFound(err: unknown): boolean {
  const e = err as { status?: number; code?: string };
  return e.code === 'not_found' || e.status === 404;
}

export function livekitDispatchSink(
  config: Pick<Config, 'LIVEKIT_URL' | 'LIVEKIT_API_KEY' | 'LIVEKIT_API_SECRET' | 'AGENT_NAME'>,
  options: { requestTimeoutSec?: number } = {},
): DispatchSink {
  const client = new AgentDispatchClient(apiUrl(config.LIVEKIT_URL), config.LIVEKIT_API_KEY, config.LIVEKIT_API_SECRET, {
    requestTimeout: options.requestTimeoutSec ?? 10,
  });
  const agentName = config.AGENT_NAME;
  const ours = async (room: string) => {
    try {
      return (await client.listDispatch(room)).filter((d) => d.agentName === agentName);
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
  };
  return {
    async dispatch(room, metadata) {
      await client.createDispatch(room, agentName, { metadata });
    },
    async hasDispatch(room) {
      return (await ours(room)).length > 0;
    },
    async cancel(room) {
      for (const d of await ours(room)) {
        await client.deleteDispatch(d.id, room).catch((err: unknown) => {
          if (!isNotFound(err)) throw err;
        });
      }
    },
  };
}
