/**
 * Dialling through the real SipClient against the LiveKit API emulator: each way a line can
 * answer becomes the outcome a campaign acts on.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SipClient } from 'livekit-server-sdk';
import { dial, dialRequest, outcomeForSipStatus } from '../src/call/outboundDial.js';
import { LiveKitApiEmulator } from '../src/sandbox/livekitApi.js';

let lk: LiveKitApiEmulator;
let sip: SipClient;
let trunkId: string;

before(async () => {
  lk = new LiveKitApiEmulator();
  await lk.start();
  const env = lk.env();
  sip = new SipClient(env.LIVEKIT_URL, env.LIVEKIT_API_KEY, env.LIVEKIT_API_SECRET);
  trunkId = (await sip.createSipOutboundTrunk('out', 'sip.example.invalid', ['+15550000000'])).sipTrunkId;
});
after(async () => {
  await lk.close();
});

const config = (trunk?: string, allowedCountries: string[] = []) => ({
  SIP_OUTBOUND_TRUNK_ID: trunk, CALLER_ID: '+15550000000', RING_TIMEOUT_SECONDS: 20, MAX_CALL_SECONDS: 600,
  DEFAULT_REGION: 'US', ALLOWED_COUNTRIES: allowedCountries,
});
const job = (phoneNumber: string) => ({ kind: 'outbound' as const, phoneNumber, contact: { name: 'X', fields: {} }, attempt: 1 });

describe('outbound dial', () => {
  const cases = [
    ['+15550100001', 'answer', { answered: true }],
    ['+15550100002', 'busy', { answered: false, outcome: { kind: 'busy', sipStatus: 486 } }],
    ['+15550100003', 'no_answer', { answered: false, outcome: { kind: 'no_answer', sipStatus: 480 } }],
    ['+15550100004', 'rejected', { answered: false, outcome: { kind: 'rejected', sipStatus: 603 } }],
    ['+15550100005', 'invalid', { answered: false, outcome: { kind: 'invalid_number', sipStatus: 404 } }],
  ] as const;
  for (const [number, play, expected] of cases) {
    it(`a line that plays "${play}" is ${JSON.stringify(expected)}`, async () => {
      lk.setOutcome(number, play);
      const result = await dial(sip, dialRequest(job(number), `room-${play}`, config(trunkId)));
      assert.deepEqual(result, expected);
      const req = lk.requests().filter((r) => r.method === 'CreateSIPParticipant').at(-1)!;
      const body = req.body as Record<string, unknown>;
      assert.equal(body.sipCallTo ?? body.sip_call_to, number);
      assert.equal(body.waitUntilAnswered ?? body.wait_until_answered, true);
      assert.equal(body.sipNumber ?? body.sip_number, '+15550000000');
    });
  }

  it('a server error is a failed call that keeps the status and message', async () => {
    lk.setOutcome('+15550100006', 'error');
    const result = await dial(sip, dialRequest(job('+15550100006'), 'room-error', config(trunkId)));
    assert.equal(result.answered, false);
    if (!result.answered) {
      assert.equal(result.outcome.kind, 'failed');
      assert.ok(result.outcome.kind === 'failed' && result.outcome.error.length > 0);
    }
  });

  it('maps the SIP codes the issue names', () => {
    assert.equal(outcomeForSipStatus(600, '').kind, 'busy');
    assert.equal(outcomeForSipStatus(408, '').kind, 'no_answer');
    assert.equal(outcomeForSipStatus(484, '').kind, 'invalid_number');
    assert.deepEqual(outcomeForSipStatus(undefined, 'socket hang up'), { kind: 'failed', error: 'socket hang up' });
  });

  it('never dials a premium-rate number, nor another country when ALLOWED_COUNTRIES says so, whoever dispatched it', async () => {
    const before = lk.count('CreateSIPParticipant');
    assert.throws(() => dialRequest(job('+19005550123'), 'r', config(trunkId)), (e: Error) => e.name === 'DialRefused' && /premium-rate/.test(e.message));
    assert.throws(() => dialRequest(job('+442079460001'), 'r', config(trunkId, ['US'])), /outside ALLOWED_COUNTRIES=US/);
    // Unset here, the country is the queueing side's decision (campaign import, `switchboard call`).
    assert.equal(dialRequest(job('+442079460001'), 'r', config(trunkId)).number, '+442079460001');
    assert.equal(lk.count('CreateSIPParticipant'), before);
  });

  it('without an outbound trunk, says which setting to set', () => {
    assert.throws(() => dialRequest(job('+15550100001'), 'r', config(undefined)), /SIP_OUTBOUND_TRUNK_ID is not set/);
  });
});

describe('dial against the real server\'s answers', () => {
  it('a dial our ringing timeout cut short (Twirp canceled, no SIP status) is no answer, not a failure', async () => {
    const sip = {
      createSipParticipant: async () => {
        throw Object.assign(new Error('twirp error unknown: canceled'), { code: 'canceled', status: 408 });
      },
    };
    const r = await dial(sip, { trunkId: 'ST_x', number: '+12025550123', room: 'r', participantIdentity: 'sip_x', ringTimeoutSeconds: 6, maxCallSeconds: 60 });
    assert.deepEqual(r, { answered: false, outcome: { kind: 'no_answer' } });
  });
});
