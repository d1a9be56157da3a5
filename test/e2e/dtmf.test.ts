/**
 * Keypad tones through the real stack: the phone's RFC 4733 telephone-events become LiveKit's
 * DtmfReceived in the worker (a code for collect_digits, and a key pressed unprompted as the
 * caller's input), and the tones the agent sends with send_dtmf reach the phone as telephone-events.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { BaresipPhone } from '../../src/stack/baresipPhone.js';
import { modelScript } from '../../src/simulate/modelScript.js';
import type { LiveStack } from '../../src/stack/stack.js';
import { KEY, agentSaid, dialAgent, finishedCall, heardOut, roomsGone, scriptCaller, scriptModel, sleep, startPhone, startStack, voice } from './helpers.js';

let stack: LiveStack;

before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.close();
});

/** Presses keys one at a time, as a person does (each a telephone-event of its own). */
async function press(phone: BaresipPhone, keys: string): Promise<void> {
  for (const k of keys) {
    await phone.sendDigit(k);
    await sleep(250);
  }
}

/** The user messages the model was sent (what reached the agent as the caller's input). */
function userInputs(): string[] {
  return stack.providers.openai
    .requestsFor(KEY)
    .flatMap((r) => r.messages)
    .filter((m) => m.role === 'user')
    .map((m) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content)));
}

describe('keypad tones on the real stack', () => {
  it('routes the keys the phone presses to collect_digits and to the agent, and sends tones back', async () => {
    const goodbye = 'Thanks Flo, see you soon. Goodbye!';
    scriptCaller(stack, "Hi, I'm Flo and I want to check my booking.", 'Great, thanks.');
    scriptModel(stack, [
      { toolCalls: [{ name: 'transfer_to_desk', arguments: { name: 'Flo', reason: 'check a booking' } }] },
      { toolCalls: [{ name: 'collect_digits', arguments: { prompt: 'Sure Flo. Please key in your booking code, then press pound.' } }] },
      { text: 'Thanks, I have code 4821. Press 1 to hear it again, or 2 if that is all.' },
      { toolCalls: [{ name: 'send_dtmf', arguments: { keys: '3w7#' } }] },
      { toolCalls: [{ name: 'end_call', arguments: { goodbye, summary: 'checked a booking by keypad' } }] },
    ]);
    const phone = await startPhone(stack, '+14155550125');
    try {
      const { since, established } = await dialAgent(stack, phone);
      await phone.play(voice("Hi, I'm Flo and I want to check my booking."), 'line1');
      await heardOut(await agentSaid(stack, 'key in your booking code', 20_000, since));
      const keysAt = Date.now();
      await press(phone, '4821#');
      await heardOut(await agentSaid(stack, 'Press 1 to hear it again', 20_000, keysAt));
      // Unprompted: the key reaches the agent as the caller's input once the burst ends.
      const menuKeyAt = Date.now();
      await press(phone, '2');

      // The agent presses 3, pauses, 7 and #: each reaches the phone as a telephone-event.
      const tonesAfter = (t: number) => phone.events.filter((e) => e.type === 'CALL_DTMF_START' && e.at >= t);
      for (const deadline = Date.now() + 20_000; tonesAfter(menuKeyAt).length < 3 && Date.now() < deadline; ) await sleep(100);
      // send_dtmf says nothing after the keys (a menu would answer them): the caller speaks next.
      await sleep(1000);
      await phone.play(voice('Great, thanks.'), 'line2');
      await agentSaid(stack, goodbye, 20_000, menuKeyAt);
      await phone.waitForEvent('CALL_CLOSED', 20_000, established.at);

      const tonesIn = tonesAfter(menuKeyAt);
      process.stderr.write(`e2e figure: the agent's tones reached the phone ${tonesIn.map((e) => e.at - menuKeyAt).join(', ')} ms after the caller's menu key; events ${JSON.stringify(phone.events.filter((e) => /DTMF/.test(e.type)).map((e) => [e.type, e.param, e.at - menuKeyAt]))}\n`);
      assert.deepEqual(tonesIn.map((e) => e.param), ['3', '7', '#'], 'the phone received exactly the tones the agent sent, in order');

      const record = await finishedCall(stack);
      assert.deepEqual(record.outcome, { kind: 'completed', summary: 'checked a booking by keypad' });
      const collect = record.toolCalls?.find((t) => t.name === 'collect_digits');
      assert.equal(collect?.output, JSON.stringify('The caller keyed in 4821.'), 'the code reached collect_digits, without the pound key');
      const transcript = (record.transcript ?? []).map((l) => `${l.role}: ${l.text}`);
      assert.ok(transcript.includes('caller: [keypad] 4821#'), `transcript: ${JSON.stringify(transcript)}`);
      assert.ok(transcript.includes('system: keypad tones sent: 37#'), `transcript: ${JSON.stringify(transcript)}`);
      assert.ok(userInputs().includes('[keypad] 2'), `the menu key reached the agent as input: ${JSON.stringify(userInputs())}`);
      // Keys never went through the STT: its only transcripts are the caller's spoken lines.
      const heardBySTT = stack.providers.deepgram.segmentsFor(KEY).filter((s) => (s.speechStartedAt ?? 0) >= since && s.transcript);
      assert.deepEqual(heardBySTT.map((s) => s.transcript), ["Hi, I'm Flo and I want to check my booking.", 'Great, thanks.']);
      await roomsGone(stack);
    } finally {
      await phone.close();
    }
  });
  it('outbound: the agent presses 2 on a phone menu it called, and the menu hears it as a telephone-event', async () => {
    const MENU = '+12025550177';
    const goodbye = "Hi Gus, this is Riverside Clinic. We'll fax the prescription over instead. Goodbye!";
    // The STT hears each line as the menu plays it: a repeat of the menu is expected before it plays.
    scriptCaller(stack, 'Thanks for calling Acme Pharmacy.');
    // The model answers what the menu last said, not the next line of a list: a preemptive request
    // the framework throws away (the callee's words changed under it) must not use up the key.
    const amd = modelScript([], { amdLabel: 'human' }).brain;
    stack.providers.openai.setBrain(KEY, (req) => {
      if (req.tools.some((t) => t.function?.name === 'save_prediction')) return amd(req);
      const heard = JSON.stringify([...req.messages].reverse().find((m) => m.role === 'user')?.content ?? '');
      if (heard.includes('this is Gus')) return { toolCalls: [{ name: 'end_call', arguments: { goodbye, summary: 'reached the pharmacy' } }] };
      if (heard.includes('press 2')) return { toolCalls: [{ name: 'send_dtmf', arguments: { keys: '2' } }] };
      return { text: 'Hello?' };
    });
    // A fresh worker. livekit-server 1.8.4 gives a job to a worker only while the load it reports
    // is under 0.65, and drops the dispatch otherwise (no retry); the worker reports the machine's
    // CPU, which a busy shared machine passes just after a call ends. Not a keypad matter: left to
    // the dispatch work, and the reason this call does not follow the previous one on one worker.
    await stack.worker?.stop(15_000);
    await stack.startWorker();
    // The outbound trunk points at this phone: it answers, and plays the menu.
    const menu = await startPhone(stack, MENU, { autoAnswer: true, port: stack.ports.callee });
    try {
      const since = Date.now();
      const outcome = stack.cli(['call', MENU, '--name', 'Acme Pharmacy', '--json']).then(
        (r) => ({ r }),
        (error: Error) => ({ error }),
      );
      const answered = await menu.waitForEvent('CALL_ESTABLISHED', 30_000, since);
      const say = async (text: string, name: string) => {
        const pcm = voice(text);
        await menu.play(pcm, name);
        await sleep((pcm.length / 8000) * 1000 + 1500);
      };
      await say('Thanks for calling Acme Pharmacy.', 'menu1');
      // A menu repeats itself until a key is pressed, as real ones do. Whether the first "press 2"
      // is answered depends on when answering-machine detection said "human": a line the callee
      // began while it was still listening gets the greeting, not a reply (agents/intro.ts), and
      // under load its verdict can come after both menu lines.
      let key: Awaited<ReturnType<typeof menu.waitForEvent>> | undefined;
      for (let round = 1; !key; round++) {
        stack.providers.deepgram.expect(KEY, 'For prescriptions, press 2.');
        await say('For prescriptions, press 2.', `menu2-${round}`);
        key = await menu.waitForEvent('CALL_DTMF_START', round < 3 ? 8_000 : 20_000, answered.at).catch((err: Error) => {
          if (round >= 3) throw err;
          return undefined;
        });
      }
      assert.equal(key.param, '2');
      process.stderr.write(`e2e figure: the agent's key reached the menu ${key.at - answered.at} ms after it answered\n`);
      stack.providers.deepgram.expect(KEY, 'Pharmacy desk, this is Gus.');
      await say('Pharmacy desk, this is Gus.', 'menu3');
      await agentSaid(stack, 'Hi Gus', 20_000, key.at);
      await menu.waitForEvent('CALL_CLOSED', 30_000, answered.at);

      const done = await outcome;
      if ('error' in done) throw done.error;
      assert.deepEqual((done.r as { outcome?: unknown }).outcome, { kind: 'completed', summary: 'reached the pharmacy' });
      assert.deepEqual(menu.events.filter((e) => e.type === 'CALL_DTMF_START').map((e) => e.param), ['2'], 'exactly one key, after the menu asked');
      const record = await finishedCall(stack);
      const transcript = (record.transcript ?? []).map((l) => `${l.role}: ${l.text}`);
      assert.ok(transcript.includes('system: keypad tones sent: 2'), `transcript: ${JSON.stringify(transcript)}`);
      await roomsGone(stack);
    } finally {
      await menu.close();
    }
  });
});
