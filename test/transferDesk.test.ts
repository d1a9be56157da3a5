/**
 * The transfer desk against what the real stack answers (test/e2e/transfer.test.ts): a server that
 * cannot merge calls gets the cold transfer straight away (nobody is rung and briefed for nothing),
 * and LiveKit SIP's status-less "call transfer failed" becomes a reason the model can pass on.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { initializeLogger } from '@livekit/agents';
import { canMoveParticipants, warmTransferUnavailable } from '../src/livekit/serverFeatures.js';
import { LiveKitApiEmulator } from '../src/sandbox/livekitApi.js';
import { TransferDesk, type TransferLine, type WarmTransferRequest } from '../src/call/transfer.js';
import { TransferAllowList } from '../src/call/transferAllowList.js';

initializeLogger({ pretty: false, level: 'fatal' });

function line(over: Partial<TransferLine> = {}): { line: TransferLine; calls: string[]; notes: string[] } {
  const calls: string[] = [];
  const notes: string[] = [];
  return {
    calls,
    notes,
    line: {
      callId: 'call_1',
      allow: new TransferAllowList(['+15557770003']),
      mode: 'warm',
      fallback: 'callback',
      ringSeconds: 5,
      fallbackLine: "I couldn't reach anyone yet, so I'll put your call straight through.",
      coldTransfer: async (uri) => void calls.push(`cold ${uri}`),
      warmTransfer: async (r: WarmTransferRequest) => void calls.push(`warm ${r.number}`),
      say: async (text) => void calls.push(`say ${text}`),
      note: (text) => void notes.push(text),
      callerGone: () => false,
      now: () => new Date('2026-12-02T12:00:00Z'),
      ...over,
    },
  };
}

describe('transfer desk', () => {
  it('transfers cold without dialling the person when the server cannot merge a warm transfer', async () => {
    const t = line({ warmUnavailable: async () => 'no MoveParticipant' });
    const desk = new TransferDesk(t.line);
    const result = await desk.transfer({ handoff: 'Putting you through.' });
    assert.deepEqual(result, { status: 'transferred', to: '+15557770003', mode: 'cold' });
    assert.deepEqual(t.calls, ['say Putting you through.', 'cold tel:+15557770003']);
    assert.deepEqual(t.notes, [
      'warm transfer to +15557770003 not possible (no MoveParticipant); transferring cold',
      'cold transfer to tel:+15557770003: transferred',
    ]);
    assert.deepEqual(desk.attempts.map((a) => [a.mode, a.result]), [['cold', 'transferred']]);
  });

  it('runs the warm transfer when the server can merge', async () => {
    const t = line({ warmUnavailable: async () => undefined });
    const result = await new TransferDesk(t.line).transfer({ handoff: 'One moment.' });
    assert.deepEqual(result, { status: 'transferred', to: '+15557770003', mode: 'warm' });
    assert.deepEqual(t.calls, ['say One moment.', 'warm +15557770003']);
  });

  it("reports LiveKit SIP's failed REFER (Canceled, no SIP status) as the destination not taking the call", async () => {
    const refused = Object.assign(new Error('twirp error unknown: call transfer failed'), { code: 'canceled', status: 408 });
    const t = line({ mode: 'cold', coldTransfer: async () => Promise.reject(refused) });
    const result = await new TransferDesk(t.line).transfer({ handoff: 'Putting you through.' });
    assert.deepEqual(result, {
      status: 'failed',
      to: '+15557770003',
      mode: 'cold',
      error: 'the destination did not take the call',
      timedOut: false,
      callbackPromised: false,
    });
  });
});

describe('server features', () => {
  const lk = new LiveKitApiEmulator();
  before(() => lk.start());
  after(() => lk.close());

  it('finds no MoveParticipant on a server without it (the emulator answers bad_route, as livekit-server 1.8.4 does)', async () => {
    const config = { LIVEKIT_URL: lk.url.replace(/^http/, 'ws'), LIVEKIT_API_KEY: lk.apiKey, LIVEKIT_API_SECRET: lk.apiSecret };
    assert.equal(await canMoveParticipants(config), false);
    assert.match((await warmTransferUnavailable(config)) ?? '', /no MoveParticipant/);
    // Asked once per server: the second question is answered from memory.
    await canMoveParticipants(config);
    assert.equal(lk.requests({ method: 'MoveParticipant' }).length, 1);
  });
});
