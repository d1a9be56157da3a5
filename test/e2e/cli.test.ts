/**
 * Our CLI against the real LiveKit server: `setup sip` run twice changes nothing the second time,
 * `switchboard token` lets a browser-style participant reach the agent (the Agents Playground
 * path), and `campaign run` dials a contacts file through LiveKit SIP once per number — a run
 * again dials nobody twice.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dispose } from '@livekit/rtc-node';
import { synthesizeSpeech } from '../../src/sandbox/speechSignal.js';
import { RoomCaller } from '../../src/stack/roomCaller.js';
import { SippCallee } from '../../src/stack/sippCallee.js';
import type { LiveStack } from '../../src/stack/stack.js';
import { KEY, agentSaid, finishedCall, heardOut, roomsGone, scriptCaller, scriptModel, segmentsText, speechSegments, startStack, store, utterances } from './helpers.js';

let stack: LiveStack;

before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.close();
  await dispose();
});

describe('the CLI against the real server', () => {
  it('setup sip a second time finds everything in place and changes nothing', async () => {
    const again = (await stack.cli(['setup', 'sip', '--json'])) as { steps: { step: string; status: string; id?: string }[]; requests: unknown[]; outputs: Record<string, string> };
    assert.deepEqual(again.steps.map((s) => s.status), again.steps.map(() => 'unchanged'), JSON.stringify(again.steps));
    assert.equal(again.requests.length, 0, 'no changing request was sent');
    assert.equal(again.outputs.SIP_OUTBOUND_TRUNK_ID, stack.outboundTrunkId);
    const sip = stack.sip();
    assert.equal((await sip.listSipInboundTrunk()).length, 1);
    assert.equal((await sip.listSipOutboundTrunk()).length, 1);
    assert.equal((await sip.listSipDispatchRule()).length, 1);
  });

  it('a token from switchboard token joins a room the agent is dispatched to: greeting heard, caller answered, room deleted', async () => {
    const goodbye = 'Happy to help, goodbye!';
    scriptCaller(stack, 'Just testing from a browser.');
    scriptModel(stack, [{ toolCalls: [{ name: 'end_call', arguments: { goodbye, summary: 'browser test' } }] }]);
    const t = (await stack.cli(['token', '--identity', 'tester', '--json'])) as { url: string; token: string; room: string; agentName: string };
    assert.equal(t.agentName, 'switchboard');
    const since = Date.now();
    const caller = await RoomCaller.join(t.url, t.token);
    try {
      const agent = await caller.waitForAgent(20_000);
      process.stderr.write(`e2e figure: the agent joined the browser room ${Date.now() - since} ms after the caller\n`);
      assert.ok(agent.identity.length > 0);
      await heardOut(await agentSaid(stack, 'Thanks for calling', 20_000, since));
      caller.say(synthesizeSpeech('Just testing from a browser.', { sampleRate: 16_000 }));
      const bye = await agentSaid(stack, goodbye, 20_000, since);
      // The agent ends the call by deleting the room: the caller is disconnected, not left waiting.
      assert.ok(await caller.disconnected(20_000), 'the caller was not disconnected after the goodbye');
      process.stderr.write(`e2e figure: rtc-node AudioStream frames without frameSizeMs (as the framework's room input opens them): ${JSON.stringify([...caller.frameMs])} [ms, count]\n`);
      const heard = caller.heard();
      const segments = speechSegments(heard.pcm, heard.sampleRate);
      assert.ok(segments.length >= 2, `the caller heard ${segments.length} stretches of speech: ${JSON.stringify(segments)}`);
      const last = utterances(segments).at(-1)!;
      assert.ok(last.speechMs >= bye.audioMs - 200, `goodbye ${Math.round(bye.audioMs)} ms long, ${Math.round(last.speechMs)} ms heard: ${segmentsText(segments)}`);
      const dg = stack.providers.deepgram.segmentsFor(KEY).filter((s) => (s.speechStartedAt ?? 0) >= since);
      assert.deepEqual(dg.map((s) => s.transcript).filter(Boolean), ['Just testing from a browser.']);
    } finally {
      await caller.leave();
    }
    const record = await finishedCall(stack);
    assert.equal(record.room, t.room);
    assert.equal(record.direction, 'browser');
    assert.deepEqual(record.outcome, { kind: 'completed', summary: 'browser test' });
    await roomsGone(stack);
  });

  it('campaign run dials each good row once through LiveKit SIP, names the refused rows, and a second run dials nobody', async () => {
    const csv = join(stack.dir, 'contacts.csv');
    writeFileSync(csv, ['phone,name', '+12025550141,Lee Park', '+12025550142,Kim Ode', '911,Nobody', '+12025550141,Lee Again'].join('\n') + '\n');
    const flags = ['--campaign', 'e2e-busy', '--max-attempts', '1', '--window', '00:00-24:00', '--max-concurrent', '1', '--json'];
    const env = { CALLING_DAYS: 'mon,tue,wed,thu,fri,sat,sun' };
    // Both numbers are busy: sipp answers exactly two INVITEs 486 and exits.
    const callee = await SippCallee.start(stack.dir, stack.ports.callee, 'busy', 2);
    type Run = {
      complete: boolean;
      contacts: number;
      attempts: number;
      badRows: number;
      byOutcome: Record<string, number>;
      badRowSamples: { line: number; reason: string }[];
      import: { added: number; badRows: number; alreadyImported: number };
      thisRun: { dispatched: number; recovered: number };
    };
    try {
      const first = (await stack.cli(['campaign', 'run', csv, ...flags], env)) as Run;
      assert.equal(first.complete, true, JSON.stringify(first));
      assert.equal(first.thisRun.dispatched, 2);
      assert.equal(first.contacts, 2);
      assert.deepEqual(first.byOutcome, { busy: 2 });
      assert.equal(first.attempts, 2);
      const lines = first.badRowSamples.map((b) => b.line).sort();
      assert.deepEqual(lines, [4, 5], JSON.stringify(first.badRowSamples));
      assert.match(first.badRowSamples.find((b) => b.line === 4)!.reason, /emergency/);
      assert.match(first.badRowSamples.find((b) => b.line === 5)!.reason, /duplicate of line 2/);
      assert.equal(await callee.done(15_000), 0, `sipp did not see exactly two calls answered busy:\n${callee.process.tail()}`);
    } finally {
      await callee.close();
    }
    await roomsGone(stack);
    const s = await store(stack);
    try {
      const records = (await s.calls.list({ limit: 20 })).filter((r) => r.campaignId === 'e2e-busy');
      assert.deepEqual(records.map((r) => r.callerNumber).sort(), ['+12025550141', '+12025550142']);
      for (const r of records) assert.equal(r.outcome?.kind, 'busy');
    } finally {
      await s.close();
    }
    // Nobody listens on the callee's port now: a second dial would show as an attempt.
    const again = (await stack.cli(['campaign', 'run', csv, ...flags], env)) as Run;
    assert.equal(again.complete, true);
    assert.equal(again.thisRun.dispatched, 0);
    assert.equal(again.attempts, 2);
    assert.deepEqual((await stack.rooms().listRooms()).map((r) => r.name), []);
  });
});
