/**
 * Conversations through the real AgentSession (no room, no audio): our agents, tools and SQLite
 * store, with the real openai plugin talking to the local OpenAI emulator. The emulator plays the
 * model's decisions from a script; everything downstream of those decisions is real.
 */
import './helpers/logger.js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { voice } from '@livekit/agents';
import * as openai from '@livekit/agents-plugin-openai';
import { type AgentDeps, openLineGate } from '../agents/deps.js';
import { introAgent } from '../agents/intro.js';
import { CLINIC_POLICY } from '../agents/policy.js';
import { OpenAIEmulator } from '../src/sandbox/openaiEmulator.js';
import { type Store, openStore } from '../src/store/index.js';
import { defaultRules } from '../tools/appointmentBook.js';
import { type CallUserdata, type EndCallRequest, newUserdata } from '../tools/callContext.js';

const NOW = new Date('2026-11-23T13:00:00Z'); // Monday 08:00 in New York
let emu: OpenAIEmulator;

before(async () => {
  emu = await new OpenAIEmulator().start();
});
after(async () => {
  await emu.close();
});

async function harness(key: string, init: Partial<Parameters<typeof newUserdata>[0]> = {}) {
  const store = await openStore(':memory:');
  const ended: EndCallRequest[] = [];
  const userdata = newUserdata({
    callId: `call-${key}`,
    direction: 'inbound',
    callerNumber: '+15550001111',
    businessName: 'Riverside Clinic',
    timezone: 'America/New_York',
    ...init,
  });
  const deps: AgentDeps = {
    control: { endCall: (r) => void ended.push(r) },
    appointments: store.appointments,
    messages: store.messages,
    policy: CLINIC_POLICY,
    rules: defaultRules('America/New_York'),
    now: () => NOW,
    line: openLineGate(),
  };
  const llm = new openai.LLM({ model: 'gpt-4.1-mini', baseURL: emu.baseURL, apiKey: key });
  const session = new voice.AgentSession<CallUserdata>({ llm, userData: userdata });
  return { store, ended, userdata, deps, session };
}

async function closeAll(h: { session: voice.AgentSession<CallUserdata>; store: Store }) {
  await h.session.close();
  await h.store.close();
}

describe('inbound conversation', () => {
  it('greets, hands off to the desk with history and userdata, books in the store, and ends with a goodbye', async () => {
    const key = 'sandbox-conv-book';
    const brain = emu.script(key, [
      { toolCalls: [{ name: 'transfer_to_desk', arguments: { name: 'Ana Diaz', reason: 'a checkup' } }] },
      { toolCalls: [{ name: 'check_availability', arguments: { date: '2026-11-24' } }] },
      { text: 'I have Tuesday at 9 or 9:30. Which works for you?' },
      { toolCalls: [{ name: 'book_appointment', arguments: { start: '2026-11-24T09:30', name: 'Ana Diaz' } }] },
      { toolCalls: [{ name: 'book_appointment', arguments: { start: '2026-11-24T09:30', name: 'Ana Diaz' } }] },
      { text: "You're booked for Tuesday at 9:30." },
      { toolCalls: [{ name: 'end_call', arguments: { goodbye: 'Thanks Ana, see you Tuesday. Goodbye!', summary: 'booked checkup' } }] },
    ]);
    const h = await harness(key);
    await h.session.start({ agent: introAgent(h.deps, h.userdata) });

    const r1 = await h.session.run({ userInput: "Hi, I'm Ana Diaz and I need a checkup." }).wait();
    r1.expect.nextEvent().isFunctionCall({ name: 'transfer_to_desk', args: { name: 'Ana Diaz', reason: 'a checkup' } });
    r1.expect.nextEvent().isFunctionCallOutput();
    r1.expect.nextEvent().isAgentHandoff();
    // Only the desk answers: the intro does not speak again after handing off. The desk looks at
    // the real calendar before offering times.
    r1.expect.nextEvent().isFunctionCall({ name: 'check_availability', args: { date: '2026-11-24' } });
    const free = r1.expect.nextEvent().isFunctionCallOutput().event().item;
    assert.match(free.output, /Free on Tuesday, November 24: 9:00 AM \(start=2026-11-24T09:00\), 9:30 AM/);
    r1.expect.nextEvent().isMessage({ role: 'assistant' });
    r1.expect.noMoreEvents();
    assert.equal(h.session.currentAgent.id, 'desk');
    assert.equal(h.userdata.callerName, 'Ana Diaz');
    assert.equal(h.userdata.reason, 'a checkup');

    // The desk saw the caller's words (history carried) but not the intro's instructions.
    const deskFirst = emu.requestsFor(key)[1]!;
    const texts = deskFirst.messages.map((m) => `${m.role}:${JSON.stringify(m.content)}`);
    assert.ok(texts.some((t) => t.startsWith('user:') && t.includes('I need a checkup')), texts.join('\n'));
    assert.ok(!texts.some((t) => t.includes('call transfer_to_desk')), 'intro instructions leaked into the desk');
    assert.ok(deskFirst.toolNames.includes('book_appointment'));
    assert.ok(!deskFirst.toolNames.includes('transfer_to_desk'));

    // The first call only reads the name and time back (the tool says it; nothing is booked yet).
    const r2 = await h.session.run({ userInput: '9:30 please.' }).wait();
    r2.expect.nextEvent().isFunctionCall({ name: 'book_appointment' });
    r2.expect.nextEvent().isFunctionCallOutput();
    r2.expect.noMoreEvents();
    assert.equal((await h.store.appointments.findByPhone('+15550001111')).length, 0);
    assert.deepEqual(h.userdata.pendingBooking, { start: '2026-11-24T14:30:00Z', name: 'Ana Diaz', callerTurns: 2 });
    const yes = await h.session.run({ userInput: 'Yes, book it.' }).wait();
    yes.expect.nextEvent().isFunctionCall({ name: 'book_appointment' });
    yes.expect.nextEvent().isFunctionCallOutput();
    yes.expect.nextEvent().isMessage({ role: 'assistant' });
    const booked = await h.store.appointments.findByPhone('+15550001111');
    assert.equal(booked.length, 1);
    assert.equal(booked[0]!.start, '2026-11-24T14:30:00Z');
    assert.equal(booked[0]!.name, 'Ana Diaz');
    assert.equal(booked[0]!.reason, 'a checkup');
    assert.deepEqual(h.userdata.appointment, { id: booked[0]!.id, start: '2026-11-24T14:30:00Z', status: 'booked' });

    const r3 = await h.session.run({ userInput: "That's all, thanks." }).wait();
    r3.expect.nextEvent().isFunctionCall({ name: 'end_call' });
    assert.equal(h.ended.length, 1);
    assert.equal(h.ended[0]!.goodbye, 'Thanks Ana, see you Tuesday. Goodbye!');
    assert.deepEqual(h.ended[0]!.outcome, { kind: 'completed', summary: 'booked checkup' });
    assert.equal(brain.remaining, 0);
    await closeAll(h);
  });

  it('a tool failure becomes a speakable error and the conversation goes on', async () => {
    const key = 'sandbox-conv-toolfail';
    emu.script(key, [
      { toolCalls: [{ name: 'transfer_to_desk', arguments: { name: 'Bo', reason: 'book' } }] },
      { text: 'Sure, which day?' },
      { toolCalls: [{ name: 'check_availability', arguments: { date: '2026-11-24' } }] },
      { text: "Sorry, I can't reach the calendar right now. Can I take a message?" },
    ]);
    const h = await harness(key);
    await h.session.start({ agent: introAgent(h.deps, h.userdata) });
    await h.session.run({ userInput: "I'm Bo, I want to book." }).wait();
    // Break the store under the tool: the database is closed mid-call.
    await h.store.close();
    const r = await h.session.run({ userInput: 'Tuesday please.' }).wait();
    r.expect.nextEvent().isFunctionCall({ name: 'check_availability' });
    const out = r.expect.nextEvent().isFunctionCallOutput().event().item;
    assert.equal(out.isError, true);
    assert.match(out.output, /couldn't check the calendar just now/);
    r.expect.nextEvent().isMessage({ role: 'assistant' });
    // The model was told the sentence, not the internal error.
    const last = emu.requestsFor(key).at(-1)!;
    assert.ok(!JSON.stringify(last.messages).includes('database connection is not open'));
    await h.session.close();
  });

  it('a tool called with bad arguments gets a clear error back, and nothing is stored', async () => {
    const key = 'sandbox-conv-badargs';
    emu.script(key, [
      { toolCalls: [{ name: 'transfer_to_desk', arguments: { name: 'Cy', reason: 'book' } }] },
      { text: 'Which time?' },
      { toolCalls: [{ name: 'book_appointment', arguments: { start: '2026-11-28T10:00', name: 'Cy' } }] },
      { text: "We're closed that day. How about Monday?" },
      { toolCalls: [{ name: 'book_appointment', arguments: { when: 'tomorrow' } }] },
      { text: 'Sorry, which time exactly?' },
    ]);
    const h = await harness(key);
    await h.session.start({ agent: introAgent(h.deps, h.userdata) });
    await h.session.run({ userInput: "I'm Cy, I'd like to book." }).wait();
    const weekend = await h.session.run({ userInput: 'Saturday at ten.' }).wait();
    weekend.expect.nextEvent().isFunctionCall({ name: 'book_appointment' });
    const refused = weekend.expect.nextEvent().isFunctionCallOutput().event().item;
    assert.equal(refused.isError, true);
    assert.match(refused.output, /closed at weekends/);
    const bad = await h.session.run({ userInput: 'Tomorrow.' }).wait();
    bad.expect.nextEvent().isFunctionCall({ name: 'book_appointment' });
    const invalid = bad.expect.nextEvent().isFunctionCallOutput().event().item;
    assert.equal(invalid.isError, true);
    assert.match(invalid.output, /start|name|invalid|required/i);
    assert.equal((await h.store.appointments.findByPhone('+15550001111')).length, 0);
    await closeAll(h);
  });
});

describe('outbound conversation', () => {
  it('shares nothing until the person confirms, then the desk confirms the appointment', async () => {
    const key = 'sandbox-conv-outbound';
    const h = await harness(key, {
      direction: 'outbound',
      contact: { name: 'Dana Lee', appointmentId: 'PLACEHOLDER', fields: {} },
    });
    const apt = await h.store.appointments.book({ name: 'Dana Lee', phone: '+15550002222', start: '2026-11-24T15:00:00Z', durationMin: 30, reason: 'cleaning', callId: null });
    assert.ok(apt.ok);
    h.userdata.contact!.appointmentId = apt.appointment.id;
    emu.script(key, [
      { toolCalls: [{ name: 'confirm_identity', arguments: {} }] },
      { toolCalls: [{ name: 'find_appointments', arguments: {} }] },
      { text: 'You have a cleaning on Tuesday at 10. Will you make it?' },
      { toolCalls: [{ name: 'confirm_appointment', arguments: { appointmentId: apt.appointment.id } }] },
      { text: "Great, you're confirmed." },
    ]);
    await h.session.start({ agent: introAgent(h.deps, h.userdata) });
    // The intro offered only identity and end tools, and its prompt withholds the reason.
    const r1 = await h.session.run({ userInput: 'Yes, this is Dana.' }).wait();
    const introReq = emu.requestsFor(key)[0]!;
    assert.deepEqual([...introReq.toolNames].sort(), ['confirm_identity', 'emergency', 'end_call', 'take_message']);
    assert.ok(!JSON.stringify(introReq.messages).includes('cleaning'));
    r1.expect.nextEvent().isFunctionCall({ name: 'confirm_identity' });
    r1.expect.containsAgentHandoff();
    r1.expect.containsMessage({ role: 'assistant' });
    // Only after the handoff did the model see the appointment.
    assert.match(JSON.stringify(emu.requestsFor(key)[2]!.messages), /Tuesday, November 24 at 10:00 AM/);
    assert.equal(h.userdata.identityConfirmed, true);
    const r2 = await h.session.run({ userInput: 'Yes, I will be there.' }).wait();
    r2.expect.nextEvent().isFunctionCall({ name: 'confirm_appointment' });
    assert.equal((await h.store.appointments.get(apt.appointment.id))?.status, 'confirmed');
    assert.deepEqual(h.userdata.result, { action: 'confirmed', appointmentId: apt.appointment.id });
    await closeAll(h);
  });
});
