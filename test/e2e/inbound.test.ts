/**
 * Inbound calls through the real stack: a baresip phone dials LiveKit SIP, the dispatch rule that
 * `switchboard setup sip` made sends the production worker (call hosts, `entry()`), and the test
 * listens to what the phone heard.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GREETING_NOTE } from './notes.js';
import {
  KEY,
  agentSaid,
  finishedCall,
  heardOut,
  nextWeekday,
  roomsGone,
  scriptCaller,
  scriptModel,
  segmentsText,
  speechSegments,
  startPhone,
  startStack,
  store,
  utterances,
  voice,
} from './helpers.js';
import type { LiveStack } from '../../src/stack/stack.js';

let stack: LiveStack;

before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.close();
});

describe('inbound call on the real stack', () => {
  it('books through the desk, says goodbye in full, hangs up and deletes the room', async () => {
    const slot = nextWeekday(9);
    const goodbye = 'Thanks Ana, you are booked. See you then, goodbye!';
    scriptCaller(stack, 'Hi, this is Ana Diaz. I need a checkup.', 'Nine thirty please.', "Yes, that's right.", "No, that's all. Thanks!");
    scriptModel(stack, [
      { toolCalls: [{ name: 'transfer_to_desk', arguments: { name: 'Ana Diaz', reason: 'a checkup' } }] },
      { toolCalls: [{ name: 'check_availability', arguments: { date: slot.date } }] },
      { text: 'I have nine thirty or ten. Which works for you?' },
      // The first call reads the name and time back (the tool says it); the second books.
      { toolCalls: [{ name: 'book_appointment', arguments: { start: slot.start, name: 'Ana Diaz' } }] },
      { toolCalls: [{ name: 'book_appointment', arguments: { start: slot.start, name: 'Ana Diaz' } }] },
      { text: "You're booked at nine thirty. Anything else?" },
      { toolCalls: [{ name: 'end_call', arguments: { goodbye, summary: 'booked a checkup' } }] },
    ]);
    const phone = await startPhone(stack, '+14155550123');
    try {
      const since = Date.now();
      await phone.dial(stack.sipUri);
      const established = await phone.waitForEvent('CALL_ESTABLISHED', 20_000);
      const greeting = await agentSaid(stack, 'Thanks for calling', 20_000, since);
      await heardOut(greeting);
      await phone.play(voice('Hi, this is Ana Diaz. I need a checkup.'), 'line1');
      await heardOut(await agentSaid(stack, 'Which works for you', 20_000, since));
      await phone.play(voice('Nine thirty please.'), 'line2');
      await heardOut(await agentSaid(stack, 'Shall I book it?', 20_000, since));
      await phone.play(voice("Yes, that's right."), 'line3');
      await heardOut(await agentSaid(stack, 'Anything else', 20_000, since));
      await phone.play(voice("No, that's all. Thanks!"), 'line4');
      const bye = await agentSaid(stack, goodbye, 20_000, since);
      // The agent hangs up: the phone gets a BYE it did not send.
      const closed = await phone.waitForEvent('CALL_CLOSED', 20_000, established.at);

      const heard = phone.heard();
      const segments = speechSegments(heard.pcm, heard.sampleRate);
      assert.ok(segments.length >= 5, `the phone heard ${segments.length} stretches of speech: ${JSON.stringify(segments)}`);
      const firstAudioMs = segments[0]!.startMs;
      process.stderr.write(`${GREETING_NOTE}: ${Math.round(firstAudioMs)} ms after the phone's audio began; call lasted ${closed.at - established.at} ms\n`);
      assert.ok(firstAudioMs < 3000, `greeting began ${firstAudioMs} ms into the call`);
      const heardGoodbyeMs = utterances(segments).at(-1)!.speechMs;
      process.stderr.write(`e2e figure: goodbye ${Math.round(bye.audioMs)} ms synthesised, ${Math.round(heardGoodbyeMs)} ms heard; segments ${segmentsText(segments)}\n`);
      assert.ok(
        heardGoodbyeMs >= bye.audioMs - 200,
        `the goodbye is ${Math.round(bye.audioMs)} ms long, the phone heard ${Math.round(heardGoodbyeMs)} ms of it before the line closed`,
      );

      const dg = stack.providers.deepgram.segmentsFor(KEY).filter((s) => (s.speechStartedAt ?? 0) >= since);
      assert.deepEqual(
        dg.map((s) => s.transcript).filter(Boolean),
        ['Hi, this is Ana Diaz. I need a checkup.', 'Nine thirty please.', "Yes, that's right.", "No, that's all. Thanks!"],
        'each caller line reached the STT from the phone, through LiveKit',
      );

      const record = await finishedCall(stack);
      assert.equal(record.direction, 'inbound');
      assert.equal(record.callerNumber, '+14155550123');
      assert.deepEqual(record.outcome, { kind: 'completed', summary: 'booked a checkup' });
      assert.deepEqual(record.agents, ['intro', 'desk']);
      const s = await store(stack);
      try {
        const booked = await s.appointments.findByPhone('+14155550123');
        assert.equal(booked.length, 1);
        assert.equal(booked[0]!.name, 'Ana Diaz');
      } finally {
        await s.close();
      }
      await roomsGone(stack);
    } finally {
      await phone.close();
    }
  });
});

