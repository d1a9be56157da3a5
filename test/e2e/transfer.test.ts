/**
 * Transfers through the real stack: LiveKit SIP sends the REFER to the caller's phone (cold), or
 * the framework's WarmTransferTask dials a person on the outbound trunk, briefs them and moves them
 * into the caller's room (warm). The front desk is a second baresip phone that answers by itself.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { canMoveParticipants } from '../../src/livekit/serverFeatures.js';
import { freePort } from '../../src/stack/processes.js';
import type { LiveStack } from '../../src/stack/stack.js';
import { KEY, agentSaid, dialAgent, finishedCall, heardOut, roomsGone, scriptCaller, scriptModel, segmentsText, sleep, speechSegments, startPhone, startStack, utterances, voice } from './helpers.js';

let stack: LiveStack;
/** Where the front desk's phone listens: an allow-listed SIP URI the caller's phone is referred to. */
let deskPort: number;
const deskUri = () => `sip:frontdesk@127.0.0.1:${deskPort}`;
const REFUSED = '+15550199000';

before(async () => {
  deskPort = await freePort();
  stack = await startStack({ workerEnv: { TRANSFER_ALLOWLIST: `sip:frontdesk@127.0.0.1:${deskPort}` } });
});
after(async () => {
  await stack?.close();
});

/** LiveKit SIP's log (it logs each transfer request with its target). */
function sipLog(): string {
  return readFileSync(join(stack.dir, 'logs', 'livekit-sip.log'), 'utf8');
}

/** The LiveKit server's log (one line per API request). */
function serverLog(): string {
  return readFileSync(join(stack.dir, 'logs', 'livekit-server.log'), 'utf8');
}

describe('transfers on the real stack', () => {
  it('refuses a destination off the allow-list without dialling it, then REFERs the phone to the front desk', async () => {
    scriptCaller(stack, 'Put me through to 555 0199 please.', 'Yes please.');
    scriptModel(stack, [
      { toolCalls: [{ name: 'transfer_to_person', arguments: { handoff: 'Putting you through.', destination: REFUSED } }] },
      { text: 'Sorry, I can only transfer you to our front desk. Shall I do that?' },
      { toolCalls: [{ name: 'transfer_to_person', arguments: { handoff: 'Connecting you to the front desk now.', reason: 'asked for a person' } }] },
    ]);
    const desk = await startPhone(stack, 'frontdesk', { autoAnswer: true, port: deskPort });
    const phone = await startPhone(stack, '+14155550124');
    try {
      const { since, established } = await dialAgent(stack, phone);
      await phone.play(voice('Put me through to 555 0199 please.'), 'line1');
      await heardOut(await agentSaid(stack, 'only transfer you to our front desk', 20_000, since));
      await phone.play(voice('Yes please.'), 'line2');
      const handoff = await agentSaid(stack, 'Connecting you to the front desk now.', 20_000, since);

      // The REFER reaches the phone, which calls the front desk; the desk answers.
      const deskCall = await desk.waitForEvent('CALL_ESTABLISHED', 30_000, since);
      const closed = await phone.waitForEvent('CALL_CLOSED', 20_000, established.at);
      process.stderr.write(`e2e figure: cold transfer, front desk answered ${deskCall.at - established.at} ms into the call, caller's first leg closed ${closed.at - deskCall.at} ms later\n`);

      const record = await finishedCall(stack);
      assert.deepEqual(record.outcome, { kind: 'transferred', to: deskUri() });
      const lines = (record.transcript ?? []).filter((l) => l.role === 'system').map((l) => l.text);
      assert.ok(lines.some((l) => l.includes('transfer refused')), `transcript: ${JSON.stringify(lines)}`);
      assert.ok(lines.some((l) => l.includes(`cold transfer to ${deskUri()}: transferred`)), `transcript: ${JSON.stringify(lines)}`);
      await roomsGone(stack);

      // The REFER reached the phone: baresip reports the transfer with its Refer-To target.
      const referred = phone.events.filter((e) => e.type === 'TRANSFER');
      assert.deepEqual(referred.map((e) => e.param), [deskUri()], `one REFER (${JSON.stringify(referred)}), to the allow-listed desk; events: ${phone.events.map((e) => e.type).join(', ')}`);
      // The handoff was heard in full on the caller's first leg before the REFER.
      const firstLeg = phone.heard(0);
      const firstLegSegments = speechSegments(firstLeg.pcm, firstLeg.sampleRate);
      const heardHandoff = utterances(firstLegSegments).at(-1)!;
      assert.ok(heardHandoff.speechMs >= handoff.audioMs - 200, `handoff ${Math.round(handoff.audioMs)} ms, heard ${Math.round(heardHandoff.speechMs)} ms: ${segmentsText(firstLegSegments)}`);
      // Nothing was dialled for the refused destination: LiveKit SIP was asked for one transfer only.
      const log = sipLog();
      assert.equal(log.match(/transfering SIP call/g)?.length, 1, 'LiveKit SIP saw one transfer request');
      assert.ok(!log.includes(REFUSED.slice(1)), 'the refused number never reached LiveKit SIP');
      assert.ok(!stack.providers.cartesia.generationsFor(KEY).some((g) => g.text.includes('Putting you through.')), 'no handoff line for a refused transfer');
    } finally {
      await phone.close();
      await desk.close();
    }
  });
  it('warm, on a server that cannot merge calls (no MoveParticipant): the nurse is never rung, the caller is transferred cold', async () => {
    const NURSE = '+15557770003';
    assert.equal(await canMoveParticipants(stack.env as Parameters<typeof canMoveParticipants>[0]), false, 'livekit-server 1.8.4 has no MoveParticipant');
    // One worker at a time: the new one takes the calls.
    await stack.worker?.stop(15_000);
    await stack.startWorker({ TRANSFER_MODE: 'warm', TRANSFER_ALLOWLIST: NURSE, TRANSFER_FALLBACK: 'callback' });
    scriptCaller(stack, 'Can I talk to a nurse?', 'Okay, thanks. Bye.');
    const sorry = "Sorry, I couldn't put you through. A nurse will call you back at this number.";
    scriptModel(stack, [
      { toolCalls: [{ name: 'transfer_to_person', arguments: { handoff: 'Let me put you through to a nurse.', reason: 'wants a nurse' } }] },
      { text: sorry },
      { toolCalls: [{ name: 'end_call', arguments: { goodbye: 'Goodbye!', summary: 'callback promised' } }] },
    ]);
    const nurse = await startPhone(stack, NURSE, { autoAnswer: true, port: stack.ports.callee });
    const phone = await startPhone(stack, '+14155550126');
    try {
      const { since, established } = await dialAgent(stack, phone);
      await phone.play(voice('Can I talk to a nurse?'), 'line1');
      await agentSaid(stack, 'put you through to a nurse', 20_000, since);

      // Straight to the cold transfer: the REFER reaches the phone with the nurse's number.
      const referred = await phone.waitForEvent('TRANSFER', 20_000, established.at);
      assert.equal(referred.param, `tel:${NURSE}`, 'the REFER names the nurse');
      process.stderr.write(`e2e figure: warm transfer on livekit-server 1.8.4 went cold: REFER ${referred.at - established.at} ms into the call\n`);
      // This phone cannot call a tel: URI, so it fails the REFER (NOTIFY 500): the caller is still
      // with the agent, who says so, and the call goes on.
      await heardOut(await agentSaid(stack, sorry, 20_000, referred.at));
      await phone.play(voice('Okay, thanks. Bye.'), 'line2');
      await agentSaid(stack, 'Goodbye!', 20_000, referred.at);
      await phone.waitForEvent('CALL_CLOSED', 20_000, established.at);

      const record = await finishedCall(stack);
      assert.deepEqual(record.outcome, { kind: 'completed', summary: 'callback promised' });
      const lines = (record.transcript ?? []).filter((l) => l.role === 'system').map((l) => l.text);
      assert.deepEqual(lines, [
        'warm transfer to +15557770003 not possible (the LiveKit server has no MoveParticipant (livekit-server 1.9 or later has), so a warm transfer could not join the person to the caller); transferring cold',
        'cold transfer to tel:+15557770003: failed (the destination did not take the call)',
      ]);
      const transferTool = record.toolCalls?.find((t) => t.name === 'transfer_to_person');
      assert.match(String(transferTool?.output), /did not go through \(the destination did not take the call\)/);
      // Nobody was dialled on the outbound trunk: the nurse's phone never rang.
      assert.deepEqual(nurse.events.filter((e) => e.type === 'CALL_INCOMING'), []);
      assert.ok(!serverLog().includes('API SIP.CreateSIPParticipant'), 'nobody asked LiveKit to dial');
      assert.ok(!/sip\/outbound\.go/.test(sipLog()), 'LiveKit SIP placed no outbound call');
      await roomsGone(stack);
    } finally {
      await phone.close();
      await nurse.close();
    }
  });
});
