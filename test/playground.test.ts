// `switchboard playground`'s server: the page, the client bundle from our own node_modules, and a
// token route that gives each call a room of its own that dispatches the agent.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TokenVerifier } from 'livekit-server-sdk';
import { type Playground, startPlayground } from '../src/playground/server.js';

let pg: Playground;

before(async () => {
  pg = await startPlayground({ livekitUrl: 'wss://example.livekit.cloud', apiKey: 'devkey', apiSecret: 'secret', agentName: 'frontdesk', roomPrefix: 'call', port: 0 });
});
after(async () => {
  await pg.close();
});

describe('playground server', () => {
  test('listens on loopback and serves the page, which loads the client from this server only', async () => {
    assert.match(pg.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const res = await fetch(pg.url);
    assert.equal(res.status, 200);
    const html = await res.text();
    const scripts = [...html.matchAll(/<script src="([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(scripts, ['/livekit-client.js']);
    const client = await fetch(new URL('/livekit-client.js', pg.url));
    assert.equal(client.status, 200);
    assert.match(client.headers.get('content-type') ?? '', /javascript/);
    assert.match(await client.text(), /LivekitClient/);
  });

  test('each POST /token is a new room whose token dispatches the agent, for the configured LiveKit URL', async () => {
    const mint = async () => (await (await fetch(new URL('/token', pg.url), { method: 'POST' })).json()) as { url: string; token: string; room: string };
    const [a, b] = [await mint(), await mint()];
    assert.equal(a.url, 'wss://example.livekit.cloud');
    assert.notEqual(a.room, b.room);
    const claims = (await new TokenVerifier('devkey', 'secret').verify(a.token)) as { video?: { room?: string }; roomConfig?: unknown };
    assert.equal(claims.video?.room, a.room);
    assert.deepEqual(claims.roomConfig, { agents: [{ agentName: 'frontdesk' }] });
  });

  test('a GET of /token is not a way to mint one, and unknown paths are 404', async () => {
    assert.equal((await fetch(new URL('/token', pg.url))).status, 404);
    assert.equal((await fetch(new URL('/nothing', pg.url))).status, 404);
  });
});
