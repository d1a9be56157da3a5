// The LiveKit API emulator, driven by the real livekit-server-sdk clients.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import { ListUpdate, ParticipantInfo_Kind, RoomAgentDispatch, SIPDispatchRule, SIPDispatchRuleDirect, SIPDispatchRuleInfo } from '@livekit/protocol';
import {
  AccessToken,
  AgentDispatchClient,
  RoomServiceClient,
  type CreateSipOutboundTrunkOptions,
  ServerError,
  SipCallError,
  SipClient,
} from 'livekit-server-sdk';
import {
  LiveKitApiEmulator,
  type DispatchEvent,
  type RecordedRequest,
  type SipParticipantEvent,
} from '../src/sandbox/livekitApi.js';

const JWT_PATTERN = /eyJ[\w-]+\.[\w-]+\.[\w-]+/;
const FAST = { dialingMs: 5, ringMs: 20, hangupLingerMs: 60, transferMs: 10 };

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until check() is truthy, failing after timeoutMs. */
async function waitFor<T>(check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 2000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

/** Rejection matcher for the SDK's ServerError. */
function serverError(expected: { status: number; code?: string | undefined; message?: RegExp }) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof ServerError, `expected a ServerError, got ${String(err)}`);
    assert.equal(err.status, expected.status, `status (${err.message})`);
    assert.equal(err.code, expected.code, `code (${err.message})`);
    if (expected.message) assert.match(err.message, expected.message);
    return true;
  };
}

async function token(grants: { video?: Record<string, unknown>; sip?: { admin?: boolean; call?: boolean } }, secret = 'secret'): Promise<string> {
  const at = new AccessToken('devkey', secret, { ttl: '5m' });
  if (grants.video) at.addGrant(grants.video);
  if (grants.sip) at.addSIPGrant(grants.sip);
  return at.toJwt();
}

/** An HS256 token signed with the right secret but expired an hour ago. */
function expiredToken(): string {
  const now = Math.floor(Date.now() / 1000);
  const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc({ iss: 'devkey', nbf: now - 7200, exp: now - 3600, video: { roomList: true } })}`;
  return `${head}.${createHmac('sha256', 'secret').update(head).digest('base64url')}`;
}

describe('LiveKit API emulator', () => {
  const lk = new LiveKitApiEmulator({ timing: FAST });
  let rooms: RoomServiceClient;
  let sip: SipClient;
  let agents: AgentDispatchClient;

  before(async () => {
    await lk.start();
    rooms = new RoomServiceClient(lk.url, lk.apiKey, lk.apiSecret);
    sip = new SipClient(lk.url, lk.apiKey, lk.apiSecret);
    agents = new AgentDispatchClient(lk.url, lk.apiKey, lk.apiSecret);
  });

  after(async () => {
    await lk.close();
  });

  beforeEach(() => {
    lk.reset();
  });

  async function outboundTrunk(): Promise<string> {
    const trunk = await sip.createSipOutboundTrunk('carrier', 'sip.carrier.example', ['+15550000000']);
    return trunk.sipTrunkId;
  }

  test('defaults match livekit-server --dev and start() gives an http URL', () => {
    assert.equal(lk.apiKey, 'devkey');
    assert.equal(lk.apiSecret, 'secret');
    assert.match(lk.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.deepEqual(lk.env(), { LIVEKIT_URL: lk.url, LIVEKIT_API_KEY: 'devkey', LIVEKIT_API_SECRET: 'secret' });
  });

  test('rooms: create, list, delete through RoomServiceClient, recorded in order without the token', async () => {
    const created = await rooms.createRoom({ name: 'lobby', metadata: '{"campaign":"c1"}', emptyTimeout: 60 });
    assert.match(created.sid, /^RM_/);
    assert.equal(created.name, 'lobby');
    assert.equal(created.emptyTimeout, 60);

    const listed = await rooms.listRooms();
    assert.deepEqual(listed.map((r) => [r.name, r.metadata]), [['lobby', '{"campaign":"c1"}']]);
    assert.deepEqual((await rooms.listRooms(['other'])).length, 0);

    await rooms.updateRoomMetadata('lobby', 'v2');
    assert.equal((await rooms.listRooms(['lobby']))[0]?.metadata, 'v2');

    await rooms.deleteRoom('lobby');
    assert.deepEqual(await rooms.listRooms(), []);

    const log = lk.requests();
    assert.deepEqual(
      log.map((r) => [r.service, r.method, r.status]),
      [
        ['RoomService', 'CreateRoom', 200],
        ['RoomService', 'ListRooms', 200],
        ['RoomService', 'ListRooms', 200],
        ['RoomService', 'UpdateRoomMetadata', 200],
        ['RoomService', 'ListRooms', 200],
        ['RoomService', 'DeleteRoom', 200],
        ['RoomService', 'ListRooms', 200],
      ],
    );
    assert.deepEqual(log.map((r) => r.seq), [1, 2, 3, 4, 5, 6, 7]);
    for (let i = 1; i < log.length; i++) assert.ok(log[i]!.t >= log[i - 1]!.t, 't is monotonic');
    // The SDK sends proto3 JSON with camelCase names.
    assert.deepEqual(log[0]?.body, { name: 'lobby', emptyTimeout: 60, metadata: '{"campaign":"c1"}' });
    assert.equal(log[0]?.auth?.apiKey, 'devkey');
    assert.equal(log[0]?.auth?.video?.roomCreate, true);
    assert.equal(log[5]?.auth?.video?.roomCreate, true);
    assert.equal(log[3]?.auth?.video?.roomAdmin, true);
    assert.equal(log[3]?.auth?.video?.room, 'lobby');
    assert.equal(lk.count('DeleteRoom', { room: 'lobby' }), 1);
    assert.equal(lk.count('DeleteRoom', { room: 'elsewhere' }), 0);
    assert.equal(lk.requests({ method: 'ListRooms' }).length, 4);
    assert.doesNotMatch(JSON.stringify(log), JWT_PATTERN);
  });

  test('DeleteRoom of a room that does not exist is not_found, as livekit-server answers', async () => {
    await assert.rejects(rooms.deleteRoom('ghost'), serverError({ status: 404, code: 'not_found', message: /requested room does not exist/ }));
    assert.equal(lk.count('DeleteRoom', { room: 'ghost' }), 1);
    assert.equal(lk.requests({ method: 'DeleteRoom' })[0]?.code, 'not_found');
  });

  test('bad credentials get 401: wrong secret, unknown key, expired token', async () => {
    const wrongSecret = new RoomServiceClient(lk.url, 'devkey', 'not-the-secret');
    await assert.rejects(wrongSecret.listRooms(), serverError({ status: 401, code: undefined, message: /invalid token/ }));

    const wrongKey = new RoomServiceClient(lk.url, 'otherkey', 'secret');
    await assert.rejects(wrongKey.listRooms(), serverError({ status: 401, code: undefined, message: /invalid API key: otherkey/ }));

    const expired = new RoomServiceClient(lk.url, undefined, undefined, { token: expiredToken() });
    await assert.rejects(expired.listRooms(), serverError({ status: 401, code: undefined, message: /"exp" claim/ }));

    const log = lk.requests();
    assert.equal(log.length, 3);
    for (const r of log) {
      assert.equal(r.status, 401);
      assert.equal(r.auth, null);
      assert.ok(r.authError);
    }
    assert.doesNotMatch(JSON.stringify(log), JWT_PATTERN);
  });

  test('a valid token without the needed grant is refused (livekit-server: unauthenticated "permissions denied")', async () => {
    const listOnly = new RoomServiceClient(lk.url, undefined, undefined, { token: await token({ video: { roomList: true } }) });
    assert.deepEqual(await listOnly.listRooms(), []);
    await assert.rejects(listOnly.createRoom({ name: 'x' }), serverError({ status: 401, code: 'unauthenticated', message: /permissions denied/ }));
    await assert.rejects(listOnly.deleteRoom('x'), serverError({ status: 401, code: 'unauthenticated' }));

    // roomAdmin is scoped to one room.
    const adminA = new RoomServiceClient(lk.url, undefined, undefined, { token: await token({ video: { roomAdmin: true, room: 'a' } }) });
    assert.deepEqual(await adminA.listParticipants('a'), []);
    await assert.rejects(adminA.listParticipants('b'), serverError({ status: 401, code: 'unauthenticated' }));
    const dispatchB = new AgentDispatchClient(lk.url, undefined, undefined, { token: await token({ video: { roomAdmin: true, room: 'a' } }) });
    await assert.rejects(dispatchB.createDispatch('b', 'agent'), serverError({ status: 401, code: 'unauthenticated' }));

    // SIP management needs sip.admin; dialling needs sip.call.
    const callOnly = new SipClient(lk.url, undefined, undefined, { token: await token({ sip: { call: true } }) });
    await assert.rejects(callOnly.listSipInboundTrunk(), serverError({ status: 401, code: 'unauthenticated' }));
    const adminOnly = new SipClient(lk.url, undefined, undefined, { token: await token({ sip: { admin: true } }) });
    const trunkId = (await adminOnly.createSipOutboundTrunk('t', 'sip.example.com', ['+15550000001'])).sipTrunkId;
    await assert.rejects(adminOnly.createSipParticipant(trunkId, '+15551112222', 'r'), serverError({ status: 401, code: 'unauthenticated' }));
    // Transfer needs sip.call and roomAdmin for the room.
    await assert.rejects(callOnly.transferSipParticipant('r', 'p', 'tel:+1555'), serverError({ status: 401, code: 'unauthenticated' }));

    assert.equal(lk.requests({ code: 'unauthenticated' }).length, 7);
    assert.equal(lk.requests({ ok: true }).length, 3);
  });

  test("authErrors: 'twirp' answers permission_denied (403) and JSON unauthenticated", async () => {
    const strict = new LiveKitApiEmulator({ authErrors: 'twirp' });
    await strict.start();
    try {
      const listOnly = new RoomServiceClient(strict.url, undefined, undefined, { token: await token({ video: { roomList: true } }) });
      await assert.rejects(listOnly.createRoom({ name: 'x' }), serverError({ status: 403, code: 'permission_denied' }));
      const wrong = new RoomServiceClient(strict.url, 'devkey', 'nope');
      await assert.rejects(wrong.listRooms(), serverError({ status: 401, code: 'unauthenticated', message: /invalid token/ }));
    } finally {
      await strict.close();
    }
  });

  test('Twirp routing and decoding errors: bad_route, malformed, no token, unknown service', async () => {
    const bearer = `Bearer ${await token({ video: { roomCreate: true, roomList: true } })}`;
    const post = (path: string, body: string, headers: Record<string, string> = {}) =>
      fetch(`${lk.url}${path}`, { method: 'POST', body, headers: { 'Content-Type': 'application/json', Authorization: bearer, ...headers } });

    let res = await post('/twirp/livekit.RoomService/Explode', '{}');
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.deepEqual(await res.json(), {
      code: 'bad_route',
      msg: 'no handler for path "/twirp/livekit.RoomService/Explode"',
      meta: { twirp_invalid_route: 'POST /twirp/livekit.RoomService/Explode' },
    });

    res = await post('/twirp/livekit.RoomService/CreateRoom', '{"name": ');
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { code: string }).code, 'malformed');

    res = await post('/twirp/livekit.RoomService/CreateRoom', '{"name": 42}');
    assert.equal(res.status, 400);
    const typeErr = (await res.json()) as { code: string; msg: string };
    assert.equal(typeErr.code, 'malformed');
    assert.match(typeErr.msg, /name/);

    // snake_case (proto names) is accepted as well as the SDK's camelCase.
    res = await post('/twirp/livekit.RoomService/CreateRoom', '{"name":"snake","empty_timeout":42}');
    assert.equal(res.status, 200);
    const room = (await res.json()) as Record<string, unknown>;
    assert.equal(room.empty_timeout, 42, 'responses use proto field names');
    assert.equal(room.num_participants, 0, 'responses emit default values');

    res = await fetch(`${lk.url}/twirp/livekit.RoomService/ListRooms`, { method: 'POST', body: '{}', headers: { 'Content-Type': 'application/json' } });
    assert.equal(res.status, 401);
    assert.deepEqual(await res.json(), { code: 'unauthenticated', msg: 'permissions denied' });

    res = await post('/twirp/livekit.Nope/Thing', '{}');
    assert.equal(res.status, 404);

    res = await post('/twirp/livekit.RoomService/ListRooms', '{}', { 'Content-Type': 'text/plain' });
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { code: string }).code, 'bad_route');

    res = await post('/twirp/livekit.RoomService/MutePublishedTrack', '{}');
    assert.equal(res.status, 501);
    assert.equal(((await res.json()) as { code: string }).code, 'unimplemented');

    // What livekit-server 1.8.4 says for a method it does not have (the warm transfer's merge).
    res = await post('/twirp/livekit.RoomService/MoveParticipant', '{}');
    assert.equal(res.status, 404);
    assert.deepEqual(await res.json(), {
      code: 'bad_route',
      msg: 'no handler for path "/twirp/livekit.RoomService/MoveParticipant"',
      meta: { twirp_invalid_route: 'POST /twirp/livekit.RoomService/MoveParticipant' },
    });
  });

  test('CreateSIPParticipant waitUntilAnswered: each failing outcome surfaces its SIP status through SipCallError', async () => {
    const trunkId = await outboundTrunk();
    const cases = [
      { number: '+15550000486', outcome: 'busy', sip: 486, reason: 'Busy Here', code: 'unavailable', status: 503 },
      { number: '+15550000480', outcome: 'no_answer', sip: 480, reason: 'Temporarily Unavailable', code: 'unavailable', status: 503 },
      { number: '+15550000603', outcome: 'rejected', sip: 603, reason: 'Decline', code: 'unavailable', status: 503 },
      { number: '+15550000404', outcome: 'invalid', sip: 404, reason: 'Not Found', code: 'invalid_argument', status: 400 },
      { number: '+15550000500', outcome: 'error', sip: 500, reason: 'Server Internal Error', code: 'internal', status: 500 },
      { number: '+15550000408', outcome: 'timeout', sip: 408, reason: 'Request Timeout', code: 'deadline_exceeded', status: 408 },
    ] as const;
    for (const c of cases) lk.setOutcome(c.number, c.outcome);
    lk.setOutcome('+1 (555) 000-0503', { kind: 'error', sipStatus: 503 });

    const events: SipParticipantEvent[] = [];
    const off = lk.onSipParticipant((e) => void events.push(e));
    for (const c of cases) {
      await assert.rejects(
        sip.createSipParticipant(trunkId, c.number, `call-${c.sip}`, { waitUntilAnswered: true, participantIdentity: 'callee' }),
        (err: unknown) => {
          assert.ok(err instanceof SipCallError, `${c.outcome}: expected SipCallError, got ${String(err)}`);
          assert.equal(err.sipStatusCode, c.sip, c.outcome);
          assert.equal(err.sipStatus, c.reason, c.outcome);
          assert.equal(err.code, c.code, c.outcome);
          assert.equal(err.status, c.status, c.outcome);
          assert.match(err.message, new RegExp(`SIP call failed: ${c.sip}`));
          return true;
        },
      );
    }
    // The outcome table matches numbers after normalisation.
    await assert.rejects(sip.createSipParticipant(trunkId, '+15550000503', 'call-503', { waitUntilAnswered: true }), (err: unknown) => {
      assert.ok(err instanceof SipCallError);
      assert.equal(err.sipStatusCode, 503);
      assert.equal(err.code, 'unavailable');
      return true;
    });
    off();

    assert.deepEqual(
      events.map((e) => [e.number, e.result, e.outcome.sipStatusCode]),
      [...cases.map((c) => [c.number, 'failed', c.sip]), ['+15550000503', 'failed', 503]],
    );
    assert.deepEqual(
      lk.requests({ method: 'CreateSIPParticipant' }).map((r) => r.sipStatusCode),
      [486, 480, 603, 404, 500, 408, 503],
    );
    // The callee leaves the room once the call failed.
    await waitFor(async () => (await rooms.listParticipants('call-486')).length === 0);
  });

  test('a ring longer than the ringing timeout ends as the real server ends it: Twirp canceled, no SIP status', async () => {
    const trunkId = await outboundTrunk();
    lk.setOutcome('+15550001000', { kind: 'answer', ringMs: 5000 });
    const started = Date.now();
    await assert.rejects(
      sip.createSipParticipant(trunkId, '+15550001000', 'slow', { waitUntilAnswered: true, ringingTimeout: 1 }),
      (err: unknown) => !(err instanceof SipCallError) && (err as { code?: string }).code === 'canceled' && (err as { status?: number }).status === 408,
    );
    const took = Date.now() - started;
    assert.ok(took >= 900 && took < 4000, `gave up after the 1 s ringing timeout (took ${took} ms)`);
  });

  test('answered call: the SIP participant is listed with kind SIP and sip.* attributes', async () => {
    const trunkId = await outboundTrunk();
    const answered: SipParticipantEvent[] = [];
    lk.onSipParticipant((e) => void answered.push(e));

    const info = await sip.createSipParticipant(trunkId, '+15551230000', 'call-ok', {
      waitUntilAnswered: true,
      participantIdentity: 'customer',
      participantAttributes: { campaign: 'c1' },
      participantMetadata: '{"lead":7}',
    });
    assert.match(info.participantId, /^PA_/);
    assert.equal(info.participantIdentity, 'customer');
    assert.equal(info.roomName, 'call-ok');
    assert.match(info.sipCallId, /^SCL_/);

    const [p, ...rest] = await rooms.listParticipants('call-ok');
    assert.equal(rest.length, 0);
    assert.ok(p);
    assert.equal(p.identity, 'customer');
    assert.equal(p.kind, ParticipantInfo_Kind.SIP);
    assert.equal(p.metadata, '{"lead":7}');
    assert.equal(p.attributes['sip.phoneNumber'], '+15551230000');
    assert.equal(p.attributes['sip.trunkPhoneNumber'], '+15550000000');
    assert.equal(p.attributes['sip.callStatus'], 'active');
    assert.equal(p.attributes['sip.callID'], info.sipCallId);
    assert.equal(p.attributes['sip.trunkID'], trunkId);
    assert.equal(p.attributes.campaign, 'c1');
    assert.equal((await rooms.getParticipant('call-ok', 'customer')).sid, info.participantId);

    assert.equal(answered.length, 1);
    assert.equal(answered[0]?.result, 'answered');
    assert.equal(answered[0]?.answeringMachine, false);
    assert.equal(answered[0]?.sipCallId, info.sipCallId);

    // The room exists because the call created it.
    assert.deepEqual((await rooms.listRooms()).map((r) => [r.name, r.numParticipants]), [['call-ok', 1]]);

    // Hanging up from the harness ends the call; the participant goes away.
    assert.equal(lk.hangup('call-ok', 'customer'), true);
    assert.equal((await rooms.getParticipant('call-ok', 'customer')).attributes['sip.callStatus'], 'hangup');
    await waitFor(async () => (await rooms.listParticipants('call-ok')).length === 0);
  });

  test('voicemail answers (200) and tells the harness to play an answering machine', async () => {
    const trunkId = await outboundTrunk();
    lk.setOutcome('+15559990000', 'voicemail');
    const seen: SipParticipantEvent[] = [];
    lk.onSipParticipant((e) => void seen.push(e));
    const info = await sip.createSipParticipant(trunkId, '+15559990000', 'vm', { waitUntilAnswered: true });
    assert.equal(info.participantIdentity, 'sip-participant', "the SDK's default identity");
    assert.equal(seen[0]?.result, 'answered');
    assert.equal(seen[0]?.answeringMachine, true);
    assert.equal(seen[0]?.outcome.kind, 'voicemail');
    const p = await rooms.getParticipant('vm', 'sip-participant');
    assert.equal(p.attributes['sip.callStatus'], 'active');
    assert.equal(Object.keys(p.attributes).some((k) => /voicemail|machine/i.test(k)), false, 'no invented attributes');
    assert.equal(lk.calls()[0]?.answeringMachine, true);
  });

  test('without waitUntilAnswered the call returns at once and sip.callStatus moves dialing → ringing → active / hangup', async () => {
    const trunkId = await outboundTrunk();
    lk.setOutcome('+15553330000', { kind: 'answer', ringMs: 300 });
    lk.setOutcome('+15554440000', 'busy');
    const statuses: Array<[string, string]> = [];
    lk.onCallStatus((e) => void statuses.push([e.number, e.status]));

    const ok = await sip.createSipParticipant(trunkId, '+15553330000', 'async-ok', { participantIdentity: 'a' });
    const busy = await sip.createSipParticipant(trunkId, '+15554440000', 'async-busy', { participantIdentity: 'b' });
    assert.match(ok.sipCallId, /^SCL_/);
    assert.match(busy.sipCallId, /^SCL_/);
    assert.notEqual((await rooms.getParticipant('async-ok', 'a')).attributes['sip.callStatus'], 'active', 'returned before the answer');

    await waitFor(async () => (await rooms.getParticipant('async-ok', 'a')).attributes['sip.callStatus'] === 'active');
    await waitFor(() => statuses.some(([n, s]) => n === '+15554440000' && s === 'hangup'));
    assert.deepEqual(statuses.filter(([n]) => n === '+15553330000').map(([, s]) => s), ['dialing', 'ringing', 'active']);
    assert.deepEqual(statuses.filter(([n]) => n === '+15554440000').map(([, s]) => s), ['dialing', 'ringing', 'hangup']);
    await waitFor(async () => (await rooms.listParticipants('async-busy')).length === 0);
  });

  test('CreateSIPParticipant argument errors name the field', async () => {
    await assert.rejects(
      sip.createSipParticipant('', '+15550000001', 'r'),
      serverError({ status: 400, code: 'invalid_argument', message: /sip_trunk_id is required/ }),
    );
    await assert.rejects(
      sip.createSipParticipant('ST_missing', '+15550000001', 'r'),
      serverError({ status: 404, code: 'not_found', message: /sip trunk does not exist/ }),
    );
    const trunkId = await outboundTrunk();
    await assert.rejects(
      sip.createSipParticipant(trunkId, '', 'r'),
      serverError({ status: 400, code: 'invalid_argument', message: /sip_call_to is required/ }),
    );
    await assert.rejects(
      sip.createSipParticipant(trunkId, '+15550000001', ''),
      serverError({ status: 400, code: 'invalid_argument', message: /room_name is required/ }),
    );
  });

  test('trunks: create, list, update and delete round trip with validation', async () => {
    const inbound = await sip.createSipInboundTrunk('front desk', ['+15557770000'], { allowedAddresses: ['203.0.113.0/24'] });
    const outbound = await sip.createSipOutboundTrunk('carrier', 'sip.carrier.example', ['+15557770001'], {
      transport: 0 as CreateSipOutboundTrunkOptions['transport'], // SIP_TRANSPORT_AUTO
      authUsername: 'u',
      authPassword: 'p',
    });
    assert.match(inbound.sipTrunkId, /^ST_/);
    assert.match(outbound.sipTrunkId, /^ST_/);
    assert.notEqual(inbound.sipTrunkId, outbound.sipTrunkId);

    assert.deepEqual((await sip.listSipInboundTrunk()).map((t) => [t.sipTrunkId, t.name, t.numbers]), [
      [inbound.sipTrunkId, 'front desk', ['+15557770000']],
    ]);
    assert.deepEqual((await sip.listSipOutboundTrunk()).map((t) => [t.sipTrunkId, t.address, t.authUsername]), [
      [outbound.sipTrunkId, 'sip.carrier.example', 'u'],
    ]);
    assert.equal((await sip.listSipInboundTrunk({ numbers: ['+15550000000'] })).length, 0);

    // Same number, no AllowedNumbers: livekit-server refuses the conflict.
    await assert.rejects(
      sip.createSipInboundTrunk('dup', ['+15557770000'], { allowedAddresses: ['198.51.100.1'] }),
      serverError({ status: 400, code: 'invalid_argument', message: /Conflicting inbound SIP Trunks/ }),
    );
    await assert.rejects(
      sip.createSipOutboundTrunk('bad', 'sip:carrier@example', ['+15557770002']),
      serverError({ status: 400, code: 'invalid_argument', message: /not SIP URI/ }),
    );

    const updatedIn = await sip.updateSipInboundTrunkFields(inbound.sipTrunkId, {
      name: 'front desk v2',
      numbers: new ListUpdate({ add: ['+15557770009'] }),
    });
    assert.equal(updatedIn.name, 'front desk v2');
    assert.deepEqual(updatedIn.numbers, ['+15557770000', '+15557770009']);
    assert.deepEqual(updatedIn.allowedAddresses, ['203.0.113.0/24']);

    const updatedOut = await sip.updateSipOutboundTrunkFields(outbound.sipTrunkId, { name: 'carrier v2', numbers: new ListUpdate({ set: ['+15557770005'] }) });
    assert.deepEqual([updatedOut.name, updatedOut.numbers, updatedOut.address], ['carrier v2', ['+15557770005'], 'sip.carrier.example']);
    assert.deepEqual((await sip.listSipOutboundTrunk()).map((t) => t.name), ['carrier v2']);

    const body = lk.requests({ method: 'UpdateSIPInboundTrunk' })[0]?.body as Record<string, unknown>;
    assert.equal(body.sipTrunkId, inbound.sipTrunkId);
    assert.ok(body.update, 'the SDK sends the update action');

    await sip.deleteSipTrunk(inbound.sipTrunkId);
    assert.deepEqual(await sip.listSipInboundTrunk(), []);
    await assert.rejects(
      sip.updateSipInboundTrunkFields(inbound.sipTrunkId, { name: 'gone' }),
      serverError({ status: 404, code: 'not_found' }),
    );
  });

  test('dispatch rules: create, list, update (fields and replace), conflicts, delete', async () => {
    const inbound = await sip.createSipInboundTrunk('in', ['+15558880000'], { authUsername: 'a', authPassword: 'b' });
    const rule = await sip.createSipDispatchRule(
      { type: 'individual', roomPrefix: 'call-' },
      { trunkIds: [inbound.sipTrunkId], name: 'inbound calls', metadata: '{"agent":"desk"}' },
    );
    assert.match(rule.sipDispatchRuleId, /^SDR_/);
    assert.equal(rule.rule?.rule.case, 'dispatchRuleIndividual');

    const listed = await sip.listSipDispatchRule();
    assert.deepEqual(listed.map((r) => [r.sipDispatchRuleId, r.name, r.trunkIds]), [[rule.sipDispatchRuleId, 'inbound calls', [inbound.sipTrunkId]]]);

    await assert.rejects(
      sip.createSipDispatchRule({ type: 'direct', roomName: 'x' }, { trunkIds: [inbound.sipTrunkId] }),
      serverError({ status: 400, code: 'invalid_argument', message: /Conflicting SIP Dispatch Rules/ }),
    );

    const renamed = await sip.updateSipDispatchRuleFields(rule.sipDispatchRuleId, { name: 'renamed', attributes: { tier: 'gold' } });
    assert.equal(renamed.name, 'renamed');
    assert.equal(renamed.metadata, '{"agent":"desk"}');
    assert.deepEqual(renamed.attributes, { tier: 'gold' });

    const replaced = await sip.updateSipDispatchRule(
      rule.sipDispatchRuleId,
      new SIPDispatchRuleInfo({
        name: 'direct',
        rule: new SIPDispatchRule({ rule: { case: 'dispatchRuleDirect', value: new SIPDispatchRuleDirect({ roomName: 'hotline' }) } }),
      }),
    );
    assert.equal(replaced.sipDispatchRuleId, rule.sipDispatchRuleId);
    assert.equal(replaced.rule?.rule.case, 'dispatchRuleDirect');
    assert.deepEqual(replaced.trunkIds, []);
    assert.deepEqual((await sip.listSipDispatchRule()).map((r) => r.name), ['direct']);

    await sip.deleteSipDispatchRule(rule.sipDispatchRuleId);
    assert.deepEqual(await sip.listSipDispatchRule(), []);
    await assert.rejects(sip.deleteSipDispatchRule(rule.sipDispatchRuleId), serverError({ status: 404, code: 'not_found' }));
  });

  test('CreateDispatch fires onDispatch with the metadata, creates the room, and can be listed and deleted', async () => {
    const seen: DispatchEvent[] = [];
    lk.onDispatch((e) => void seen.push(e));
    const dispatch = await agents.createDispatch('outbound-42', 'switchboard', { metadata: '{"phone":"+15551234567"}' });
    assert.match(dispatch.id, /^AD_/);
    assert.equal(seen.length, 1, 'the hook ran before the response arrived');
    assert.deepEqual(seen[0], {
      room: 'outbound-42',
      agentName: 'switchboard',
      metadata: '{"phone":"+15551234567"}',
      dispatchId: dispatch.id,
      attributes: {},
      source: 'CreateDispatch',
    });
    assert.deepEqual((await rooms.listRooms()).map((r) => r.name), ['outbound-42']);
    assert.deepEqual((await agents.listDispatch('outbound-42')).map((d) => [d.id, d.agentName]), [[dispatch.id, 'switchboard']]);
    assert.equal((await agents.getDispatch(dispatch.id, 'outbound-42'))?.metadata, '{"phone":"+15551234567"}');
    await agents.deleteDispatch(dispatch.id, 'outbound-42');
    assert.deepEqual(await agents.listDispatch('outbound-42'), []);
    await assert.rejects(agents.deleteDispatch(dispatch.id, 'outbound-42'), serverError({ status: 404, code: 'not_found' }));
    await assert.rejects(agents.listDispatch('no-such-room'), serverError({ status: 404, code: 'not_found' }));

    // CreateRoom with agents dispatches them too.
    await rooms.createRoom({ name: 'with-agent', agents: [new RoomAgentDispatch({ agentName: 'desk', metadata: 'inbound' })] });
    assert.deepEqual(
      seen.slice(1).map((e) => [e.room, e.agentName, e.metadata, e.source]),
      [['with-agent', 'desk', 'inbound', 'CreateRoom']],
    );
    assert.equal((await agents.listDispatch('with-agent')).length, 1);

    const deleted: string[] = [];
    lk.onRoomDeleted((e) => void deleted.push(e.room));
    await rooms.deleteRoom('outbound-42');
    assert.deepEqual(deleted, ['outbound-42']);
  });

  test('TransferSIPParticipant: succeeds by default; a configured failure comes back as the real server says it, without a SIP status', async () => {
    const trunkId = await outboundTrunk();
    await sip.createSipParticipant(trunkId, '+15552220000', 'xfer', { waitUntilAnswered: true, participantIdentity: 'caller' });
    lk.setTransferOutcome('tel:+15552229999', 'busy');
    // LiveKit SIP 1.0 turns a failing NOTIFY into psrpc Canceled: HTTP 408, no sip_status_code.
    await assert.rejects(sip.transferSipParticipant('xfer', 'caller', 'tel:+15552229999'), (err: unknown) => {
      assert.ok(err instanceof ServerError && !(err instanceof SipCallError), 'no SIP status, so not a SipCallError');
      assert.equal(err.status, 408);
      assert.equal(err.code, 'canceled');
      assert.match(err.message, /call transfer failed/);
      return true;
    });
    assert.equal((await rooms.getParticipant('xfer', 'caller')).attributes['sip.callStatus'], 'active', 'a failed transfer keeps the call');

    await sip.transferSipParticipant('xfer', 'caller', 'tel:+15552228888');
    assert.deepEqual(
      lk.transfers().map((t) => [t.transferTo, t.result, t.sipStatusCode]),
      [
        ['tel:+15552229999', 'failed', 486],
        ['tel:+15552228888', 'transferred', 200],
      ],
    );
    assert.equal(lk.calls()[0]?.transferTo, 'tel:+15552228888');
    assert.equal((await rooms.getParticipant('xfer', 'caller')).attributes['sip.callStatus'], 'hangup');
    const body = lk.requests({ method: 'TransferSIPParticipant' })[1]?.body;
    assert.deepEqual(body, { participantIdentity: 'caller', roomName: 'xfer', transferTo: 'tel:+15552228888', ringingTimeout: '30s' });
    assert.equal(lk.requests({ method: 'TransferSIPParticipant' })[0]?.auth?.sip?.call, true);

    await assert.rejects(
      sip.transferSipParticipant('xfer', 'nobody', 'tel:+1555'),
      serverError({ status: 404, code: 'not_found' }),
    );
  });

  test('GET /_emulator/requests returns the log without auth, and never the token', async () => {
    await rooms.createRoom({ name: 'a' });
    await assert.rejects(rooms.deleteRoom('b'));
    const res = await fetch(`${lk.url}/_emulator/requests`);
    assert.equal(res.status, 200);
    const log = (await res.json()) as RecordedRequest[];
    assert.deepEqual(log.map((r) => [r.method, r.status, r.body]), [
      ['CreateRoom', 200, { name: 'a' }],
      ['DeleteRoom', 404, { room: 'b' }],
    ]);
    assert.equal(log[1]?.code, 'not_found');
    assert.doesNotMatch(JSON.stringify(log), JWT_PATTERN);

    const filtered = (await (await fetch(`${lk.url}/_emulator/requests?method=DeleteRoom`)).json()) as RecordedRequest[];
    assert.equal(filtered.length, 1);

    const state = (await (await fetch(`${lk.url}/_emulator/state`)).json()) as { rooms: Array<{ name: string }> };
    assert.deepEqual(state.rooms.map((r) => r.name), ['a']);

    assert.equal((await fetch(`${lk.url}/_emulator/reset`, { method: 'POST' })).status, 204);
    assert.deepEqual(lk.requests(), []);
    assert.deepEqual(await rooms.listRooms(), []);
  });
});
