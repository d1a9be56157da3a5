// `switchboard token`: a short-lived, least-privilege join token that dispatches our agent.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { TokenVerifier } from 'livekit-server-sdk';
import { loadConfig } from '../src/config.js';
import { mintJoinToken, parseTtl } from '../src/livekit/joinToken.js';

const CLI = join(import.meta.dirname, '..', 'src', 'cli', 'main.js');

interface Claims {
  video?: Record<string, unknown>;
  sip?: unknown;
  roomConfig?: { agents?: { agentName: string; metadata?: string }[] };
  sub?: string;
  exp?: number;
  nbf?: number;
}

async function verify(token: string, key = 'devkey', secret = 'secret'): Promise<Claims> {
  return (await new TokenVerifier(key, secret).verify(token)) as Claims;
}

function cli(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [CLI, 'token', ...args], {
    env: { PATH: process.env.PATH, HOME: tmpdir(), ...env },
    cwd: tmpdir(),
    encoding: 'utf8',
    timeout: 20_000,
  });
}

describe('token', () => {
  test('grants only joining this room, publish, subscribe and data — no admin, no SIP', async () => {
    const t = await mintJoinToken({ apiKey: 'devkey', apiSecret: 'secret', agentName: 'switchboard', room: 'call_browser_test', identity: 'tester_1', ttlSeconds: 900 });
    const claims = await verify(t.token);
    assert.deepEqual(claims.video, { roomJoin: true, room: 'call_browser_test', canPublish: true, canSubscribe: true, canPublishData: true });
    assert.equal(claims.sip, undefined);
    assert.equal(claims.sub, 'tester_1');
  });

  test('its room config dispatches our agent by name', async () => {
    const t = await mintJoinToken({ apiKey: 'devkey', apiSecret: 'secret', agentName: 'frontdesk', ttlSeconds: 60 });
    const claims = await verify(t.token);
    // Exactly this: any field at its default (restartPolicy, deployment, emptyTimeout…) is one an
    // older server may not know, and it then refuses the token (livekit-server 1.8.4 does, 401).
    assert.deepEqual(claims.roomConfig, { agents: [{ agentName: 'frontdesk' }] });
    assert.match(t.room, /^call_browser_[0-9a-f]{8}$/);
    assert.match(t.identity, /^tester_[0-9a-f]{6}$/);
  });

  test('lives exactly as long as asked', async () => {
    const t = await mintJoinToken({ apiKey: 'devkey', apiSecret: 'secret', agentName: 'switchboard', ttlSeconds: 15 * 60 });
    const claims = await verify(t.token);
    assert.equal(claims.exp! - claims.nbf!, 900);
    assert.ok(Math.abs(claims.exp! * 1000 - Date.parse(t.expiresAt)) < 2000);
    await assert.rejects(verify(t.token, 'devkey', 'another-secret'), 'signed with the configured secret only');
  });

  test('ttl accepts 15m, 1h, 90s and seconds, between 10 s and 24 h', () => {
    assert.equal(parseTtl('15m'), 900);
    assert.equal(parseTtl('1h'), 3600);
    assert.equal(parseTtl('90s'), 90);
    assert.equal(parseTtl('600'), 600);
    assert.equal(parseTtl('24h'), 86_400);
    for (const bad of ['25h', '5s', '0', '-1m', '15 minutes', '1d', '']) assert.equal(parseTtl(bad), undefined, bad);
  });

  test('CLI --json: the URL, room and a token that verifies with the configured key; the playground hint', async () => {
    const r = cli(['--room', 'call_browser_cli', '--identity', 'me', '--ttl', '5m', '--json'], { LIVEKIT_URL: 'wss://example.livekit.cloud', AGENT_NAME: 'frontdesk', LIVEKIT_API_KEY: 'APIfixture', LIVEKIT_API_SECRET: 'fixture-secret-not-real' });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { url: string; room: string; identity: string; token: string; ttlSeconds: number; playground: string };
    assert.equal(out.url, 'wss://example.livekit.cloud');
    assert.equal(out.room, 'call_browser_cli');
    assert.equal(out.ttlSeconds, 300);
    assert.match(out.playground, /agents-playground\.livekit\.io/);
    const claims = await verify(out.token, 'APIfixture', 'fixture-secret-not-real');
    assert.equal(claims.video?.room, 'call_browser_cli');
    assert.equal(claims.roomConfig?.agents?.[0]?.agentName, 'frontdesk');
    assert.ok(!r.stdout.includes('fixture-secret-not-real'));

    const human = cli(['--room', 'call_browser_cli']);
    assert.equal(human.status, 0, human.stderr);
    assert.match(human.stdout, /LiveKit URL  ws:\/\/localhost:7880/);
    assert.match(human.stdout, /agents-playground\.livekit\.io/);
  });

  test('CLI: a bad --ttl or --room is a usage error (exit code 2) that says what to write', () => {
    const ttl = cli(['--ttl', '2d']);
    assert.equal(ttl.status, 2);
    assert.match(ttl.stderr, /--ttl: "2d" is not a duration between 10s and 24h — write e\.g\. 15m/);
    const room = cli(['--room', 'has space']);
    assert.equal(room.status, 2);
    assert.match(room.stderr, /--room: "has space"/);
  });

  test('defaults match the config: dev key pair and agent name', () => {
    const c = loadConfig({});
    assert.equal(c.AGENT_NAME, 'switchboard');
    assert.equal(c.ROOM_PREFIX, 'call');
  });
});
