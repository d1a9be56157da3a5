/**
 * `switchboard playground`'s web server: one page, the LiveKit client it runs, and a token route.
 *
 * The page is served from this process, with `livekit-client` from our own node_modules (no CDN:
 * it works offline against the local stack). Each press of "Call" asks `/token` for a new room's
 * token, minted by the same code as `switchboard token`, so the agent is dispatched exactly as it
 * is for the hosted Agents Playground. The browser then talks to LiveKit directly; nothing of the
 * call passes through here.
 *
 * The token route hands out join tokens to whoever can reach it, so it listens on loopback unless
 * told otherwise.
 */
import { readFileSync } from 'node:fs';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { mintJoinToken } from '../livekit/joinToken.js';
import { PLAYGROUND_PAGE } from './page.js';

export interface PlaygroundOptions {
  /** What the browser connects to (LIVEKIT_URL, or a LiveKit Cloud wss:// URL). */
  livekitUrl: string;
  apiKey: string;
  apiSecret: string;
  agentName: string;
  roomPrefix: string;
  host?: string;
  /** 0: any free port. */
  port?: number;
  /** Token lifetime; a test call is short. */
  ttlSeconds?: number;
}

export interface Playground {
  url: string;
  close(): Promise<void>;
}

/** The browser build of livekit-client, read once (the package's `require` entry is its UMD). */
function clientBundle(): Buffer {
  const path = createRequire(import.meta.url).resolve('livekit-client');
  return readFileSync(path);
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(body);
}

export async function startPlayground(opts: PlaygroundOptions): Promise<Playground> {
  const bundle = clientBundle();
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://playground').pathname;
    if (req.method === 'GET' && path === '/') return send(res, 200, 'text/html; charset=utf-8', PLAYGROUND_PAGE);
    if (req.method === 'GET' && path === '/livekit-client.js') return send(res, 200, 'text/javascript; charset=utf-8', bundle);
    if (req.method === 'POST' && path === '/token') {
      const t = await mintJoinToken({
        apiKey: opts.apiKey,
        apiSecret: opts.apiSecret,
        agentName: opts.agentName,
        roomPrefix: opts.roomPrefix,
        ttlSeconds: opts.ttlSeconds ?? 15 * 60,
      });
      return send(res, 200, 'application/json', JSON.stringify({ url: opts.livekitUrl, token: t.token, room: t.room, identity: t.identity }));
    }
    send(res, 404, 'text/plain', 'not found');
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => send(res, 500, 'application/json', JSON.stringify({ error: err.message })));
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
