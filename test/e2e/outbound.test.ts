/**
 * Outbound calls through the real stack, placed with our own `switchboard call`: the worker dials
 * on the outbound trunk `setup sip` made, LiveKit SIP sends the INVITE to a callee on loopback
 * (sipp for lines that never answer, baresip for the ones that do), and the outcome comes from the
 * real server's errors.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { concatPcm, silence } from '../../src/sandbox/speechSignal.js';
import { type ChatRequestRecord, contentText } from '../../src/sandbox/openaiEmulator.js';
import { SippCallee, type SippOutcome } from '../../src/stack/sippCallee.js';
import type { LiveStack } from '../../src/stack/stack.js';
import { KEY, agentSaid, finishedCall, heardOut, roomsGone, scriptCaller, scriptModel, segmentsText, speechSegments, startPhone, startStack, utterances, voice } from './helpers.js';

let stack: LiveStack;
const CALLEE = '+12025550123';

before(async () => {
  // A short ring so "no answer" is quick; the callee is on the outbound trunk's address.
  stack = await startStack({ workerEnv: { RING_TIMEOUT_SECONDS: '6' } });
});
after(async () => {
  await stack?.close();
});

interface CallResult {
  ok: boolean;
  outcome?: { kind: string; sipStatus?: number };
}

/** The caller's line a chat request asks the model to answer. */
function lastUserLine(r: ChatRequestRecord): string {
  const m = [...r.messages].reverse().find((x) => x.role === 'user');
  return m ? contentText(m.content) : '';
}

function call(name: string): Promise<CallResult> {
  return stack.cli(['call', CALLEE, '--name', name, '--timeout', '90', '--json']) as Promise<CallResult>;
}

describe('outbound calls on the real stack', () => {
  const lines: [SippOutcome, string, number | undefined][] = [
    ['busy', 'busy', 486],
    ['rejected', 'rejected', 603],
    ['invalid', 'invalid_number', 404],
    ['no_answer', 'no_answer', undefined],
  ];
  for (const [line, kind, sipStatus] of lines) {
    it(`a line that answers ${line} ends as ${kind}, with no session left and the room deleted`, async () => {
      const callee = await SippCallee.start(stack.dir, stack.ports.callee, line);
      try {
        const since = Date.now();
        const result = await call('Lee Park');
        assert.equal(result.outcome?.kind, kind, JSON.stringify(result));
        if (sipStatus) assert.equal(result.outcome?.sipStatus, sipStatus);
        assert.equal(await callee.done(15_000), 0, `sipp's scenario did not run as written:\n${callee.process.tail()}`);
        const record = await finishedCall(stack);
        assert.equal(record.direction, 'outbound');
        assert.equal(record.outcome?.kind, kind);
        // Nobody answered, so nobody was spoken to.
        assert.equal(stack.providers.cartesia.generationsFor(KEY).filter((g) => g.requestedAt >= since).length, 0);
        await roomsGone(stack);
      } finally {
        await callee.close();
      }
    });
  }

  it('hears the callee\'s first "Hello?", speaks only after they answered, and answers their next line, not the "Hello?" again', async () => {
    const reply = 'Thanks Dana. I am calling from the clinic about your visit.';
    scriptCaller(stack, 'Hello?', 'Yes, this is Dana.');
    scriptModel(stack, [{ text: reply }]);
    // The callee says "Hello?" as they lift the phone to their ear, half a second after it
    // connects. (Said in the very first 0.4 s, no audio at all reached the room on this stack.)
    const phone = await startPhone(stack, CALLEE, { port: stack.ports.callee, mic: concatPcm(silence(500, 8000), voice('Hello?')) });
    try {
      const since = Date.now();
      const pending = call('Dana Lee');
      // It rings a moment before the person picks up, as phones do.
      await phone.waitForEvent('CALL_INCOMING', 30_000);
      await new Promise((r) => setTimeout(r, 1500));
      await phone.command('accept');
      const answered = await phone.waitForEvent('CALL_ESTABLISHED', 30_000);
      // The session was listening before the callee answered: its STT stream was already open.
      const stt = stack.providers.deepgram.connectionsFor(KEY).filter((c) => c.connectedAt >= since);
      assert.ok(stt.length > 0 && stt[0]!.connectedAt <= answered.at, `the STT connected ${stt[0] ? stt[0].connectedAt - answered.at : 'never'} ms after the callee answered`);
      const greeting = await agentSaid(stack, 'Am I speaking with Dana Lee?', 20_000, since);
      assert.ok(greeting.requestedAt >= answered.at, `the agent started speaking ${answered.at - greeting.requestedAt} ms before the callee answered`);
      const hello = stack.providers.deepgram.segmentsFor(KEY).find((s) => (s.speechStartedAt ?? 0) >= since && s.transcript === 'Hello?');
      assert.ok(hello, `the callee's first "Hello?" never reached the STT: ${JSON.stringify(stack.providers.deepgram.segmentsFor(KEY).map((s) => s.transcript))}`);
      assert.ok(greeting.requestedAt >= (hello.lastSpeechAt ?? 0), 'the agent spoke over the callee\'s "Hello?"');
      await heardOut(greeting);
      // The greeting answered the "Hello?": nothing else was said, and the model was not asked.
      const saidSince = () => stack.providers.cartesia.generationsFor(KEY).filter((g) => g.requestedAt >= since).map((g) => g.text);
      // The agent's requests, not AMD's classifier (its own tool, save_prediction).
      const askedSince = () =>
        stack.providers.openai.requestsFor(KEY).filter((r) => r.receivedAt >= since && r.toolNames.length > 0 && !r.toolNames.includes('save_prediction'));
      assert.deepEqual(saidSince().length, 1, `after its greeting the agent also said: ${JSON.stringify(saidSince().slice(1))}`);
      assert.equal(askedSince().length, 0, `the model was asked to answer "Hello?": ${JSON.stringify(askedSince().map(lastUserLine))}`);

      await phone.play(voice('Yes, this is Dana.'), 'confirm');
      const answer = await agentSaid(stack, reply, 20_000, since);
      await heardOut(answer);
      assert.deepEqual(askedSince().map(lastUserLine), ['Yes, this is Dana.'], 'the model answered the callee\'s second line, once');
      await phone.hangup();
      await phone.waitForEvent('CALL_CLOSED', 10_000, answered.at);
      const heard = speechSegments(phone.heard().pcm, 8000);
      const lines = utterances(heard);
      assert.ok(lines.length >= 2 && lines[0]!.speechMs >= greeting.audioMs - 200, `the callee heard ${JSON.stringify(heard)} of a ${Math.round(greeting.audioMs)} ms greeting and a reply`);
      const result = await pending;
      assert.equal(result.outcome?.kind, 'hung_up', JSON.stringify(result));
      await roomsGone(stack);
    } finally {
      await phone.close();
    }
  });

  it('leaves a message on an answering machine after its greeting, then hangs up', async () => {
    const greetingText = "Hi, you've reached Sam Ortiz. I can't take your call right now, please leave a message after the tone.";
    scriptCaller(stack, greetingText);
    scriptModel(stack, [], 'machine-vm');
    const machine = await startPhone(stack, CALLEE, { autoAnswer: true, port: stack.ports.callee, mic: voice(greetingText) });
    try {
      const since = Date.now();
      const result = await call('Sam Ortiz');
      assert.deepEqual(result.outcome, { kind: 'voicemail', messageLeft: true }, JSON.stringify(result));
      const message = await agentSaid(stack, 'with a message for Sam Ortiz', 5000, since);
      await machine.waitForEvent('CALL_CLOSED', 20_000);
      const heard = speechSegments(machine.heard().pcm, 8000);
      const seen = segmentsText(heard);
      assert.ok(heard.length >= 1, 'the machine recorded no message');
      // The message was all the agent said: one line, after the greeting ended (nothing said over
      // it), and left in full.
      assert.deepEqual(stack.providers.cartesia.generationsFor(KEY).filter((g) => g.requestedAt >= since).map((g) => g.text), [message.text]);
      const lines = utterances(heard);
      const left = lines[0]!;
      process.stderr.write(`e2e figure: voicemail message ${Math.round(message.audioMs)} ms synthesised, ${Math.round(left.speechMs)} ms recorded; segments ${seen}\n`);
      assert.equal(lines.length, 1, `the machine recorded more than the message: ${seen}`);
      assert.ok(left.startMs >= voice(greetingText).length / 8, `the message began ${Math.round(left.startMs)} ms into the call, during the greeting: ${seen}`);
      assert.ok(left.speechMs >= message.audioMs - 200, `message ${Math.round(message.audioMs)} ms, recorded ${Math.round(left.speechMs)} ms: ${seen}`);
      await roomsGone(stack);
    } finally {
      await machine.close();
    }
  });
});

