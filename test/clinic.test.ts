/**
 * The clinic safeguards' pieces on their own (the scenarios play them in whole calls): retention
 * purges exactly what it should, redaction, the name check, the phantom-promise detector, the
 * transfer summary header, the interruption rule per channel, and the messages CLI.
 */
import './helpers/logger.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { summaryHeaders } from '../src/call/transfer.js';
import { loadConfig } from '../src/config.js';
import { REDACTED, redactDeep, redactText } from '../src/privacy/redact.js';
import { interruptionRule, sttKeyterms } from '../src/session/turnTaking.js';
import { phantomPromises } from '../src/simulate/promiseCheck.js';
import { type Store, openStore } from '../src/store/index.js';
import { identityMatches } from '../tools/identity.js';
import { callbackNumber } from '../tools/messages.js';

const CLI = join(import.meta.dirname, '..', 'src', 'cli', 'main.js');
const DAY = 86_400_000;

async function finishedCall(store: Store, id: string, startedAt: Date, recordingPath: string | null): Promise<void> {
  await store.calls.start({ id, room: `room-${id}`, direction: 'inbound', callerNumber: '+15550001111', startedAt: startedAt.toISOString() });
  await store.calls.finish(id, {
    endedAt: new Date(startedAt.getTime() + 60_000).toISOString(),
    outcome: { kind: 'completed' },
    agents: ['intro', 'desk'],
    toolCalls: [{ name: 'book_appointment', args: { name: 'Ana Diaz' }, output: 'Booked', isError: false, at: startedAt.toISOString() }],
    userdata: { callerName: 'Ana Diaz' },
    transcript: [{ role: 'caller', text: "I'm Ana Diaz", at: startedAt.toISOString() }],
    result: { action: 'booked' },
    recordingPath,
    cost: { totalUsd: 0.01 },
  });
}

describe('retention: switchboard purge', () => {
  it('clears personal data of calls older than the retention, keeps newer calls, call outcomes and every booking', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-purge-'));
    const dbPath = join(dir, 'calls.db');
    const oldWav = join(dir, 'old.wav');
    const newWav = join(dir, 'new.wav');
    writeFileSync(oldWav, 'RIFF');
    writeFileSync(newWav, 'RIFF');
    const store = await openStore(`sqlite:${dbPath}`);
    const now = Date.now();
    await finishedCall(store, 'old', new Date(now - 40 * DAY), oldWav);
    await finishedCall(store, 'new', new Date(now - 5 * DAY), newWav);
    // In progress (never finished), however old: left alone.
    await store.calls.start({ id: 'live', room: 'room-live', direction: 'inbound', callerNumber: null, startedAt: new Date(now - 50 * DAY).toISOString() });
    await store.messages.take({ callId: 'old', callerName: 'Ana', callbackNumber: '+15550001111', text: 'old message', reason: null, callback: true, at: new Date(now - 40 * DAY).toISOString() });
    await store.messages.take({ callId: 'new', callerName: 'Bo', callbackNumber: null, text: 'new message', reason: null, callback: false, at: new Date(now - 5 * DAY).toISOString() });
    const booked = await store.appointments.book({ name: 'Ana Diaz', phone: '+15550001111', start: '2020-01-06T15:00:00Z', durationMin: 30, reason: null, callId: 'old', dateOfBirth: '1980-03-04' });
    assert.ok(booked.ok);
    const upcoming = await store.appointments.book({ name: 'Ana Diaz', phone: '+15550001111', start: new Date(now + 3 * DAY).toISOString(), durationMin: 30, reason: null, callId: 'new', dateOfBirth: '1980-03-04' });
    assert.ok(upcoming.ok);
    await store.close();

    const env = { ...process.env, STORE_URL: `sqlite:${dbPath}`, RETENTION_DAYS: '30', LOG_LEVEL: 'error' };
    const dry = spawnSync(process.execPath, [CLI, 'purge', '--dry-run', '--json'], { env, encoding: 'utf8' });
    assert.equal(dry.status, 0, dry.stderr);
    assert.deepEqual(
      { ...JSON.parse(dry.stdout.trim().split('\n').at(-1)!), cutoff: undefined },
      { ok: true, dryRun: true, cutoff: undefined, days: 30, calls: 1, messages: 1, recordings: 1, recordingsAlreadyGone: 0, datesOfBirth: 1 },
    );
    assert.ok(existsSync(oldWav), 'a dry run deletes nothing');

    const run = spawnSync(process.execPath, [CLI, 'purge', '--json'], { env, encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const out = JSON.parse(run.stdout.trim().split('\n').at(-1)!);
    assert.equal(out.calls, 1);
    assert.equal(out.messages, 1);
    assert.equal(existsSync(oldWav), false, 'the old recording file is deleted');
    assert.equal(existsSync(newWav), true, 'the new recording is kept');

    const after = await openStore(`sqlite:${dbPath}`);
    const old = (await after.calls.get('old'))!;
    assert.equal(old.transcript, undefined);
    assert.equal(old.toolCalls, undefined);
    assert.equal(old.userdata, undefined);
    assert.equal(old.result, null);
    assert.equal(old.recordingPath, null);
    assert.deepEqual(old.outcome, { kind: 'completed' }, 'the outcome stays for statistics');
    assert.deepEqual(old.cost, { totalUsd: 0.01 });
    const recent = (await after.calls.get('new'))!;
    assert.equal(recent.transcript?.[0]?.text, "I'm Ana Diaz");
    assert.equal(recent.recordingPath, newWav);
    assert.equal((await after.calls.get('live'))!.finished, false);
    assert.deepEqual((await after.messages.list()).map((m) => m.text), ['new message']);
    const past = await after.appointments.get(booked.appointment.id);
    assert.equal(past?.name, 'Ana Diaz', 'bookings are kept');
    assert.equal(past?.dateOfBirth, null, "a past appointment's date of birth is cleared");
    assert.equal((await after.appointments.get(upcoming.appointment.id))?.dateOfBirth, '1980-03-04', 'an upcoming one keeps it, to check the caller');
    // Purging again finds nothing more.
    assert.deepEqual(await after.retention.purge(new Date(now - 30 * DAY).toISOString()), { calls: 0, messages: 0, recordings: [], datesOfBirth: 0 });
    await after.close();
  });

  it('refuses to purge without a retention, naming RETENTION_DAYS', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-purge0-'));
    const r = spawnSync(process.execPath, [CLI, 'purge', '--json'], { env: { ...process.env, STORE_URL: `sqlite:${join(dir, "c.db")}`, RETENTION_DAYS: '0' }, encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /RETENTION_DAYS/);
  });
});

describe('switchboard messages', () => {
  it('lists pending callbacks and marks one returned', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-msg-'));
    const dbPath = join(dir, 'calls.db');
    const store = await openStore(`sqlite:${dbPath}`);
    const cb = await store.messages.take({ callId: 'c1', callerName: 'Ana', callbackNumber: '+15550001111', text: 'test results', reason: 'asked for a person', callback: true, at: '2026-11-23T13:00:00Z' });
    await store.messages.take({ callId: 'c2', callerName: 'Bo', callbackNumber: null, text: 'thanks to the nurse', reason: null, callback: false, at: '2026-11-23T14:00:00Z' });
    await store.close();
    const env = { ...process.env, STORE_URL: `sqlite:${dbPath}`, LOG_LEVEL: 'error' };
    const last = (args: string[]) => {
      const r = spawnSync(process.execPath, [CLI, 'messages', ...args, '--json'], { env, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    };
    assert.deepEqual(last([]).messages.map((m: { text: string }) => m.text), ['thanks to the nurse', 'test results']);
    assert.deepEqual(last(['--callbacks']).messages.map((m: { id: string }) => m.id), [cb.id]);
    assert.equal(last(['--done', cb.id]).message.callback, 'done');
    assert.equal(last(['--callbacks']).count, 0);
  });
});

describe('REDACT_PII', () => {
  const now = new Date('2026-11-23T13:00:00Z');
  it('masks card numbers (Luhn-valid only), SSNs, past dates (birth dates) and emails', () => {
    assert.equal(redactText('card 4111 1111 1111 1111 please', now), `card ${REDACTED.card} please`);
    assert.equal(redactText('order 1234 5678 9012 3456', now), 'order 1234 5678 9012 3456', 'not a card: fails Luhn');
    assert.equal(redactText('my SSN is 123-45-6789', now), `my SSN is ${REDACTED.ssn}`);
    assert.equal(redactText('born 03/14/1985, or March 14, 1985', now), `born ${REDACTED.dob}, or ${REDACTED.dob}`);
    assert.equal(redactText('book 2026-11-24T09:30 for Tuesday, November 24, 2026', now), 'book 2026-11-24T09:30 for Tuesday, November 24, 2026');
    assert.equal(redactText('write to ana.diaz@example.org', now), `write to ${REDACTED.email}`);
    assert.equal(redactText('call me on +1 555 000 1111', now), 'call me on +1 555 000 1111', 'callback numbers are kept');
  });
  it('redacts every string in a record, keeping its shape', () => {
    assert.deepEqual(redactDeep({ a: ['x@y.io', 3], b: { c: '123-45-6789' } }, now), { a: [REDACTED.email, 3], b: { c: REDACTED.ssn } });
  });
});

describe('identity and messages', () => {
  it('the name on the booking must be in what the caller said; case, accents and a middle name do not matter', () => {
    assert.ok(identityMatches('gil moss', 'Gil Moss'));
    assert.ok(identityMatches('José María Núñez', 'Jose Nunez'));
    assert.ok(identityMatches('Gil A. Moss', 'Gil Moss'));
    assert.ok(!identityMatches('John Moss', 'Gil Moss'));
    assert.ok(!identityMatches('Moss', 'Gil Moss'));
    assert.ok(!identityMatches('', 'Gil Moss'));
  });
  it('a dictated callback number becomes E.164, or is refused when incomplete', () => {
    assert.equal(callbackNumber('(212) 555-0123', 'US'), '+12125550123');
    assert.equal(callbackNumber('555 01', 'US'), undefined);
  });
});

describe('no phantom promises', () => {
  const at = (s: number) => new Date(Date.UTC(2026, 10, 23, 13, 0, s)).toISOString();
  it('flags a "booked" line with no successful booking before it, and accepts one after it', () => {
    const said = [{ role: 'agent' as const, text: "You're booked for Tuesday.", at: at(10) }];
    assert.equal(phantomPromises(said, []).length, 1);
    // The read-back call succeeds but books nothing: still a phantom.
    assert.equal(phantomPromises(said, [{ name: 'book_appointment', args: {}, output: '', isError: false, at: at(5) }]).length, 1);
    assert.equal(phantomPromises(said, [{ name: 'book_appointment', args: {}, output: '"Booked apt_1 for Ana on Tuesday."', isError: false, at: at(12) }]).length, 1, 'after the line is too late');
    assert.equal(phantomPromises(said, [{ name: 'book_appointment', args: {}, output: '"Booked apt_1 for Ana on Tuesday."', isError: false, at: at(5) }]).length, 0);
  });
  it('a callback promise needs a recorded callback; an offer of one is not a promise', () => {
    const promise = [{ role: 'agent' as const, text: 'Someone will call you back this afternoon.', at: at(10) }];
    assert.equal(phantomPromises(promise, [{ name: 'take_message', args: {}, output: 'The message is taken and will be passed on.', isError: false, at: at(5) }]).length, 1);
    assert.equal(phantomPromises(promise, [{ name: 'take_message', args: {}, output: 'A callback to the number ending 1111 is recorded.', isError: false, at: at(5) }]).length, 0);
    assert.equal(phantomPromises([{ role: 'agent', text: 'I can have someone call you back.', at: at(1) }], []).length, 0);
  });
});

describe('call control pieces', () => {
  it('the transfer summary is one printable line in the configured header, or no header', () => {
    assert.deepEqual(summaryHeaders('X-Switchboard-Summary', 'Wants a nurse:\nresults — urgent'), { 'X-Switchboard-Summary': 'Wants a nurse: results urgent' });
    assert.deepEqual(summaryHeaders('X-Switchboard-Summary', undefined), {});
    assert.equal(summaryHeaders('X-S', 'x'.repeat(500))['X-S']!.length, 200);
  });
  it('on the phone an interruption needs words; in a browser one word is enough', () => {
    const config = { MIN_INTERRUPTION_MS: 400, MIN_INTERRUPTION_WORDS: 2 };
    assert.deepEqual(interruptionRule(config, 'phone'), { minDuration: 400, minWords: 2 });
    assert.deepEqual(interruptionRule(config, 'phone-wideband'), { minDuration: 400, minWords: 2 }, 'a wideband trunk is still a phone line');
    assert.deepEqual(interruptionRule(config, 'browser'), { minDuration: 400, minWords: 1 });
  });
  it('the business name is always a keyterm, once', () => {
    assert.deepEqual(sttKeyterms({ BUSINESS_NAME: 'Riverside Clinic', STT_KEYTERMS: ['Dr Okafor', 'Riverside Clinic', ' '] }), ['Riverside Clinic', 'Dr Okafor']);
  });
});

describe('clinic config', () => {
  it('EMERGENCY_ACTION=transfer needs an allow-listed EMERGENCY_TRANSFER_TO, named in the error', () => {
    assert.throws(() => loadConfig({ EMERGENCY_ACTION: 'transfer' }), /EMERGENCY_TRANSFER_TO: not set/);
    assert.throws(() => loadConfig({ EMERGENCY_ACTION: 'transfer', EMERGENCY_TRANSFER_TO: '+15557770009' }), /not on TRANSFER_ALLOWLIST/);
    const ok = loadConfig({ EMERGENCY_ACTION: 'transfer', EMERGENCY_TRANSFER_TO: '+15557770009', TRANSFER_ALLOWLIST: '+15557770009' });
    assert.equal(ok.EMERGENCY_TRANSFER_TO, '+15557770009');
  });
  it('the clinic template is on by default: identity check, redaction, recording disclosure', () => {
    const c = loadConfig({});
    assert.equal(c.IDENTITY_CHECK, 'name');
    assert.equal(c.REDACT_PII, true);
    assert.equal(c.MIN_INTERRUPTION_WORDS, 2);
    assert.match(c.RECORDING_DISCLOSURE, /recorded/);
  });
});

describe('REDACT_PII in logs', () => {
  it("censors the framework's lk.pii.* fields in every log line, keeping the rest", () => {
    const script = [
      "import { initializeLogger, log } from '@livekit/agents';",
      `import { redactFrameworkLogs } from ${JSON.stringify(join(import.meta.dirname, '..', 'src', 'privacy', 'logRedaction.js'))};`,
      "initializeLogger({ pretty: false, level: 'info' });",
      'redactFrameworkLogs();',
      "log().child({ component: 'x' }).info({ 'lk.pii.user_input': 'my card is 4111 1111 1111 1111', wordCount: 1 }, 'skipping user input');",
    ].join('\n');
    const run = (env: NodeJS.ProcessEnv) =>
      spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, ...env }, encoding: 'utf8', cwd: join(import.meta.dirname, '..', '..') });
    const on = run({ REDACT_PII: 'true' });
    assert.equal(on.status, 0, on.stderr);
    const line = JSON.parse(on.stdout.trim().split('\n').at(-1)!);
    assert.equal(line['lk.pii.user_input'], '[redacted]');
    assert.equal(line.wordCount, 1);
    assert.equal(line.component, 'x');
    const off = run({ REDACT_PII: 'false' });
    assert.match(off.stdout, /4111 1111 1111 1111/);
  });
});
