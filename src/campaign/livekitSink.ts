/**
 * Where dispatches go in production: LiveKit's AgentDispatchService, through livekit-server-sdk.
 */
import { AgentDispatchClient } from 'livekit-server-sdk';
import type { Config } from '../config.js';
import { apiUrl } from '../livekit/roomApi.js';
import type { DispatchSink } from './dispatchSink.js';

export type { DispatchSink } from './dispatchSink.js';
export { isFatalApiError } from './dispatchSink.js';

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
