/**
 * The desk's appointment tools against a real (in-memory) store, without a session: who may see
 * and change which booking, and how much one caller or one call may book.
 */
import './helpers/logger.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { llm } from '@livekit/agents';
import { CLINIC_POLICY } from '../agents/policy.js';
import { type CallUserdata, newUserdata } from '../tools/callContext.js';
import { openStore } from '../src/store/index.js';
import { defaultRules } from '../tools/appointmentBook.js';
import { appointmentTools } from '../tools/appointments.js';

const NOW = new Date('2026-11-23T13:00:00Z'); // Monday 08:00 in New York
const rules = defaultRules('America/New_York');
const { readBack, readBackWithBirthDate } = CLINIC_POLICY.lines;

function caller(callId: string, callerNumber: string | null): CallUserdata {
  return newUserdata({ callId, direction: 'inbound', callerNumber, businessName: 'Riverside Clinic', timezone: rules.timezone });
}

type Tools = ReturnType<typeof appointmentTools>;
/** The caller's side of each call's conversation, as much of a session as the tools read. */
const sessions = new WeakMap<CallUserdata, { history: { items: { type: string; role: string }[] }; say: () => void }>();
function sessionOf(u: CallUserdata) {
  let s = sessions.get(u);
  if (!s) sessions.set(u, (s = { history: { items: [] }, say: () => undefined }));
  return s;
}
async function run(tools: Tools, name: keyof Tools, args: Record<string, unknown>, u: CallUserdata): Promise<string> {
  const tool = tools[name] as unknown as { execute: (a: unknown, o: unknown) => Promise<string> };
  const ctx = { userData: u, session: sessionOf(u), waitForPlayout: async () => undefined };
  return tool.execute(args, { ctx, toolCallId: 't', abortSignal: new AbortController().signal });
}
/** A tool call; book_appointment as on a call: read back first, the caller says yes, then booked. */
async function call(tools: Tools, name: keyof Tools, args: Record<string, unknown>, u: CallUserdata): Promise<string> {
  if (name !== 'book_appointment') return run(tools, name, args, u);
  await run(tools, name, args, u);
  sessionOf(u).history.items.push({ type: 'message', role: 'user' });
  return run(tools, name, args, u);
}
async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof llm.ToolError, String(err));
    return err.message;
  }
  assert.fail('expected the tool to refuse');
}

describe('who owns a booking', () => {
  it('two callers without caller ID see and change nothing of each other', async () => {
    const store = await openStore(':memory:');
    const tools = appointmentTools({ store: store.appointments, rules, now: () => NOW, readBack, readBackWithBirthDate });
    const first = caller('call-a', null);
    const booked = await call(tools, 'book_appointment', { start: '2026-11-24T10:00', name: 'Ana' }, first);
    const id = /Booked (\S+)/.exec(booked)![1]!;
    const second = caller('call-b', null);
    assert.equal(await call(tools, 'find_appointments', {}, second), 'No upcoming appointments for this caller.');
    assert.match(await refusal(call(tools, 'cancel_appointment', { appointmentId: id }, second)), /no active appointment/);
    assert.match(await refusal(call(tools, 'reschedule_appointment', { appointmentId: id, newStart: '2026-11-24T11:00' }, second)), /no active appointment/);
    assert.equal((await store.appointments.get(id))!.status, 'booked');
    await store.close();
  });

  it('bookings stored under a shared non-number (the old "+" for withheld caller ID) belong to nobody by number', async () => {
    const store = await openStore(':memory:');
    const old = await store.appointments.book({ name: 'Bo', phone: '+', start: '2026-11-24T14:00:00Z', durationMin: 30, reason: null, callId: 'old-call' });
    assert.ok(old.ok);
    const tools = appointmentTools({ store: store.appointments, rules, now: () => NOW, readBack, readBackWithBirthDate });
    const u = caller('call-c', '+');
    assert.equal(await call(tools, 'find_appointments', {}, u), 'No upcoming appointments for this caller.');
    assert.match(await refusal(call(tools, 'cancel_appointment', { appointmentId: old.appointment.id }, u)), /no active appointment/);
    await store.close();
  });
});

describe('calendar abuse', () => {
  it('one call books at most maxPerCall appointments, then hears why', async () => {
    const store = await openStore(':memory:');
    const tools = appointmentTools({ store: store.appointments, rules: { ...rules, maxPerCall: 2 }, now: () => NOW, readBack, readBackWithBirthDate });
    const u = caller('call-d', null);
    await call(tools, 'book_appointment', { start: '2026-11-24T10:00', name: 'Cy' }, u);
    await call(tools, 'book_appointment', { start: '2026-11-24T10:30', name: 'Cy' }, u);
    const why = await refusal(call(tools, 'book_appointment', { start: '2026-11-24T11:00', name: 'Cy' }, u));
    assert.match(why, /at most 2 appointments in one call/);
    assert.equal((await store.appointments.activeBetween('2026-11-24T00:00:00Z', '2026-11-25T00:00:00Z')).length, 2);
    await store.close();
  });

  it('one number holds at most maxPerCaller upcoming appointments, across calls', async () => {
    const store = await openStore(':memory:');
    const tools = appointmentTools({ store: store.appointments, rules: { ...rules, maxPerCaller: 2, maxPerCall: 5 }, now: () => NOW, readBack, readBackWithBirthDate });
    await call(tools, 'book_appointment', { start: '2026-11-24T10:00', name: 'Di' }, caller('call-e1', '+12125550101'));
    await call(tools, 'book_appointment', { start: '2026-11-25T10:00', name: 'Di' }, caller('call-e2', '+12125550101'));
    const why = await refusal(call(tools, 'book_appointment', { start: '2026-11-26T10:00', name: 'Di' }, caller('call-e3', '+12125550101')));
    assert.match(why, /already has 2 upcoming appointments/);
    // Someone else still can.
    assert.match(await call(tools, 'book_appointment', { start: '2026-11-26T10:00', name: 'Ed' }, caller('call-f', '+12125550102')), /^Booked/);
    await store.close();
  });

  it('nothing is booked, moved or offered beyond the horizon (year 2999 included)', async () => {
    const store = await openStore(':memory:');
    const tools = appointmentTools({ store: store.appointments, rules: { ...rules, horizonDays: 30 }, now: () => NOW, readBack, readBackWithBirthDate });
    const u = caller('call-g', '+12125550103');
    assert.match(await refusal(call(tools, 'book_appointment', { start: '2999-01-05T10:00', name: 'Flo' }, u)), /up to 30 days ahead/);
    assert.match(await refusal(call(tools, 'book_appointment', { start: '2027-01-05T10:00', name: 'Flo' }, u)), /up to 30 days ahead/);
    assert.match(await refusal(call(tools, 'check_availability', { date: '2027-01-05' }, u)), /up to 30 days ahead/);
    const booked = await call(tools, 'book_appointment', { start: '2026-12-01T10:00', name: 'Flo' }, u);
    const id = /Booked (\S+)/.exec(booked)![1]!;
    assert.match(await refusal(call(tools, 'reschedule_appointment', { appointmentId: id, newStart: '2027-03-01T10:00' }, u)), /up to 30 days ahead/);
    await store.close();
  });
});

describe('IDENTITY_CHECK=dob', () => {
  const dobTools = async () => {
    const store = await openStore(':memory:');
    return { store, tools: appointmentTools({ store: store.appointments, rules, now: () => NOW, identityCheck: 'dob', readBack, readBackWithBirthDate }) };
  };

  it('books only with a real date of birth, reads it back with the name and time, and stores it', async () => {
    const { store, tools } = await dobTools();
    const u = caller('call-dob', '+15550007777');
    assert.match(await refusal(run(tools, 'book_appointment', { start: '2026-11-24T10:00', name: 'Gil Moss' }, u)), /date of birth first/);
    assert.match(await refusal(run(tools, 'book_appointment', { start: '2026-11-24T10:00', name: 'Gil Moss', dateOfBirth: '1980-02-30' }, u)), /not a real date/);
    assert.match(await refusal(run(tools, 'book_appointment', { start: '2026-11-24T10:00', name: 'Gil Moss', dateOfBirth: '2080-03-04' }, u)), /in the future/);
    const said: string[] = [];
    sessionOf(u).say = ((line: string) => void said.push(line)) as () => void;
    const args = { start: '2026-11-24T10:00', name: 'Gil Moss', dateOfBirth: '1980-03-04' };
    assert.equal(await run(tools, 'book_appointment', args, u), undefined, 'the first call only reads back');
    assert.deepEqual(said, ["Just to check: that's Gil Moss, born March 4, 1980, on Tuesday, November 24 at 10:00 AM. Shall I book it?"]);
    sessionOf(u).history.items.push({ type: 'message', role: 'user' });
    // A corrected birth date is a new read-back, not a booking of what was read back before.
    assert.equal(await run(tools, 'book_appointment', { ...args, dateOfBirth: '1980-03-05' }, u), undefined);
    assert.equal(said.length, 2);
    assert.match(said[1]!, /born March 5, 1980/);
    sessionOf(u).history.items.push({ type: 'message', role: 'user' });
    const booked = await run(tools, 'book_appointment', { ...args, dateOfBirth: '1980-03-05' }, u);
    const id = /Booked (\S+)/.exec(booked)![1]!;
    assert.equal((await store.appointments.get(id))?.dateOfBirth, '1980-03-05');
    await store.close();
  });

  it("a booking with a birth date is proved only by it; a name does not do; one without falls back to its name", async () => {
    const { store, tools } = await dobTools();
    const withDob = await store.appointments.book({ name: 'Gil Moss', phone: '+15550007777', start: '2026-11-25T15:00:00Z', durationMin: 30, reason: null, callId: null, dateOfBirth: '1980-03-04' });
    assert.ok(withDob.ok);
    const u = caller('call-v', '+15550007777');
    assert.match(await call(tools, 'find_appointments', {}, u), /ask for the caller's date of birth and call verify_identity/);
    assert.match(await refusal(call(tools, 'cancel_appointment', { appointmentId: withDob.appointment.id }, u)), /date of birth/);
    assert.match(await call(tools, 'verify_identity', { name: 'Gil Moss' }, u), /does not match/, 'the name alone is not enough');
    assert.match(await call(tools, 'verify_identity', { dateOfBirth: '1980-03-04' }, u), /^Verified\./);
    assert.match(await call(tools, 'cancel_appointment', { appointmentId: withDob.appointment.id }, u), /^Cancelled/);

    const older = await store.appointments.book({ name: 'Ana Diaz', phone: '+15550001111', start: '2026-11-25T16:00:00Z', durationMin: 30, reason: null, callId: null });
    assert.ok(older.ok);
    const v = caller('call-w', '+15550001111');
    assert.match(await call(tools, 'verify_identity', { dateOfBirth: '1980-03-04' }, v), /no date of birth on file: ask for the full name/);
    // Asking for the name was not a wrong guess: two tries are still left.
    assert.match(await call(tools, 'verify_identity', { name: 'Bo Diaz' }, v), /does not match/);
    assert.match(await call(tools, 'verify_identity', { name: 'Ana Diaz' }, v), /^Verified\./);
    await store.close();
  });

  it('stops after two wrong birth dates', async () => {
    const { store, tools } = await dobTools();
    await store.appointments.book({ name: 'Gil Moss', phone: '+15550007777', start: '2026-11-25T15:00:00Z', durationMin: 30, reason: null, callId: null, dateOfBirth: '1980-03-04' });
    const u = caller('call-x', '+15550007777');
    assert.match(await call(tools, 'verify_identity', { dateOfBirth: '1980-03-05' }, u), /date of birth does not match/);
    assert.match(await call(tools, 'verify_identity', { dateOfBirth: '1981-03-04' }, u), /date of birth does not match/);
    assert.match(await refusal(call(tools, 'verify_identity', { dateOfBirth: '1980-03-04' }, u)), /Too many tries/);
    assert.notEqual(u.identityVerified, true);
    await store.close();
  });
});
