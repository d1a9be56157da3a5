/**
 * How calls end when the caller, or the worker, goes away: through the real stack, asserting what
 * the phone heard, whether it was hung up (a BYE it did not send), what LiveKit still holds and
 * what the store recorded.
 *
 * One stack, one worker name (WORKER_ID): each test that stops the worker starts it again, so the
 * next one (and a restarted worker's sweep of the calls its killed run left open) has a worker.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { shippedBusiness } from '../../src/config.js';
import { ORPHAN_REASON } from '../../src/call/orphanSweep.js';
import type { BaresipPhone } from '../../src/stack/baresipPhone.js';
import type { LiveStack } from '../../src/stack/stack.js';
import type { CallRecord } from '../../src/store/types.js';
import { agentSaid, dialAgent, heardOut, roomsGone, scriptCaller, scriptModel, sleep, speechSegments, startPhone, startStack, store, voice } from './helpers.js';

let stack: LiveStack;
const WORKER = { WORKER_ID: 'e2e-lifecycle', DRAIN_SECONDS: '3' };

before(async () => {
  stack = await startStack({ workerEnv: WORKER });
});
after(async () => {
  await stack?.close();
});

/** The finished records of the calls from these numbers, once every one of them has finished. */
async function finishedFrom(numbers: (string | null)[], since: number, timeoutMs = 20_000): Promise<CallRecord[]> {
  const s = await store(stack);
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const recent = (await s.calls.list({ limit: 20 })).filter((r) => Date.parse(r.startedAt) >= since - 1000);
      const found = numbers.map((n) => recent.find((r) => r.callerNumber === n));
      if (found.every((r) => r?.finished)) return found as CallRecord[];
      if (Date.now() > deadline) throw new Error(`calls from ${JSON.stringify(numbers)} not all finished within ${timeoutMs} ms: ${JSON.stringify(recent.map((r) => [r.callerNumber, r.finished, r.outcome]))}`);
      await sleep(200);
    }
  } finally {
    await s.close();
  }
}

/** The worker's gauge of calls in progress, read from its /metrics. */
async function callsActive(): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${stack.ports.worker}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('switchboard_calls_active{'))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

/** Did the phone hear the shutdown goodbye out, after `since` ms into its recording? */
function heardGoodbyeAfter(phone: BaresipPhone, sinceMs: number, minMs: number): { heardMs: number; segments: number[][] } {
  const heard = phone.heard();
  const segments = speechSegments(heard.pcm, heard.sampleRate);
  const late = segments.filter((s) => s.startMs >= sinceMs - 300);
  const heardMs = late.reduce((sum, s) => sum + (s.endMs - s.startMs), 0);
  assert.ok(heardMs >= minMs, `after ${Math.round(sinceMs)} ms the phone heard ${Math.round(heardMs)} ms of speech, the goodbye is ${minMs} ms: ${JSON.stringify(segments)}`);
  return { heardMs, segments: segments.map((s) => [Math.round(s.startMs), Math.round(s.endMs)]) };
}

/** The worker's call processes (the framework forks them; ours host up to CALLS_PER_PROCESS calls). */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

describe('how calls end on the real stack', () => {
  it('a caller who hangs up while the agent talks: the room goes, the record says hung_up, nothing stays active', async () => {
    scriptCaller(stack, 'Tell me everything about your clinic.');
    scriptModel(stack, [
      { text: 'Of course. We are a family clinic on Main Street, open weekdays from eight to six, with three doctors, a nurse practitioner, and a lab on site for blood work and vaccinations.' },
    ]);
    const phone = await startPhone(stack, '+14155550161');
    try {
      const { since, established } = await dialAgent(stack, phone);
      await phone.play(voice('Tell me everything about your clinic.'), 'line1');
      const reply = await agentSaid(stack, 'family clinic', 20_000, since);
      // Mid-reply: the synthesis is done (paced at 2×), the phone is still hearing it.
      await sleep(Math.max(0, (reply.firstByteAt ?? Date.now()) + 1500 - Date.now()));
      await phone.hangup();
      await phone.waitForEvent('CALL_CLOSED', 10_000, established.at);
      await roomsGone(stack);
      const [record] = await finishedFrom(['+14155550161'], since);
      assert.deepEqual(record!.outcome, { kind: 'hung_up' });
      assert.equal(record!.direction, 'inbound');
      assert.ok(record!.transcript!.some((l) => l.role === 'caller' && l.text.includes('everything about your clinic')));
      assert.equal(await callsActive(), 0);
    } finally {
      await phone.close();
    }
  });

  it('withheld caller ID is recorded as no number, and a caller who hangs up before the agent joins leaves no room and no crash', async () => {
    scriptCaller(stack);
    scriptModel(stack, [{ toolCalls: [{ name: 'end_call', arguments: { goodbye: 'Thanks for calling, goodbye!', summary: 'no request' } }] }]);
    const anon = await startPhone(stack, 'anonymous');
    try {
      const { since, established } = await dialAgent(stack, anon);
      await anon.hangup();
      await anon.waitForEvent('CALL_CLOSED', 10_000, established.at);
      await roomsGone(stack);
      const [record] = await finishedFrom([null], since);
      assert.equal(record!.callerNumber, null);
      assert.deepEqual(record!.outcome, { kind: 'hung_up' });
    } finally {
      await anon.close();
    }

    const quick = await startPhone(stack, '+14155550162');
    try {
      const since = Date.now();
      await quick.dial(stack.sipUri);
      // Gone before LiveKit SIP has even answered: the agent never gets to join a call in progress.
      await sleep(150);
      await quick.hangup();
      await quick.waitForEvent('CALL_CLOSED', 10_000, since);
      await roomsGone(stack, 30_000);
      // Whatever the worker saw of it, it is still taking calls.
      const s = await store(stack);
      try {
        const records = (await s.calls.list({ limit: 10 })).filter((r) => r.callerNumber === '+14155550162');
        for (const r of records) assert.ok(r.finished, `an early hang-up left an open record: ${JSON.stringify(r)}`);
      } finally {
        await s.close();
      }
      assert.equal(stack.worker!.child.exitCode, null, 'the worker is still running');
    } finally {
      await quick.close();
    }
    const next = await startPhone(stack, '+14155550163');
    try {
      const { established } = await dialAgent(stack, next);
      await next.hangup();
      await next.waitForEvent('CALL_CLOSED', 10_000, established.at);
      await roomsGone(stack);
    } finally {
      await next.close();
    }
  });

  it('SIGTERM with two calls in progress: each caller hears the goodbye and is hung up, both rooms go, both records say shutdown', async () => {
    scriptCaller(stack);
    scriptModel(stack, []);
    const numbers = ['+14155550171', '+14155550172'];
    const phones = await Promise.all(numbers.map((n) => startPhone(stack, n)));
    try {
      const since = Date.now();
      const calls: Awaited<ReturnType<typeof dialAgent>>[] = [];
      for (const p of phones) calls.push(await dialAgent(stack, p));
      const termAt = Date.now();
      const worker = stack.worker!;
      worker.signal('SIGTERM');
      // The drain (DRAIN_SECONDS=3) lets the calls go on; then each is ended with a goodbye.
      const closed = await Promise.all(phones.map((p, i) => p.waitForEvent('CALL_CLOSED', 40_000, calls[i]!.established.at)));
      const bye = await agentSaid(stack, shippedBusiness().business.lines.goodbyes.shutdown, 1000, termAt);
      for (const [i, p] of phones.entries()) {
        const intoCall = termAt - calls[i]!.established.at;
        const heard = heardGoodbyeAfter(p, intoCall, bye.audioMs - 400);
        process.stderr.write(`e2e figure: SIGTERM, phone ${i + 1} hung up ${closed[i]!.at - termAt} ms after it, heard ${Math.round(heard.heardMs)} ms of a ${Math.round(bye.audioMs)} ms goodbye\n`);
      }
      await roomsGone(stack);
      const exit = await worker.exited;
      assert.notEqual(exit.signal, 'SIGKILL');
      const records = await finishedFrom(numbers, since);
      for (const r of records) assert.deepEqual(r.outcome, { kind: 'shutdown' }, `${r.callerNumber}: ${JSON.stringify(r.outcome)}`);
    } finally {
      for (const p of phones) await p.close();
      await stack.startWorker();
    }
  });

  it('SIGKILL of the worker alone: its call process says goodbye, hangs up and closes the record', async () => {
    scriptCaller(stack);
    scriptModel(stack, []);
    const phone = await startPhone(stack, '+14155550181');
    try {
      const { since, established } = await dialAgent(stack, phone);
      const worker = stack.worker!;
      const killAt = Date.now();
      worker.signal('SIGKILL');
      await worker.exited;
      const closed = await phone.waitForEvent('CALL_CLOSED', 30_000, established.at);
      const bye = await agentSaid(stack, shippedBusiness().business.lines.goodbyes.shutdown, 1000, killAt);
      const heard = heardGoodbyeAfter(phone, killAt - established.at, bye.audioMs - 400);
      process.stderr.write(`e2e figure: SIGKILL of the worker, the call host hung up ${closed.at - killAt} ms later after ${Math.round(heard.heardMs)} ms of goodbye\n`);
      await roomsGone(stack);
      const [record] = await finishedFrom(['+14155550181'], since);
      assert.deepEqual(record!.outcome, { kind: 'shutdown' });
    } finally {
      await phone.close();
      await stack.startWorker();
    }
  });

  it('SIGKILL of the worker and its call processes: the restarted worker deletes the room, hangs the caller up and closes the record as an error', async () => {
    scriptCaller(stack);
    scriptModel(stack, []);
    const phone = await startPhone(stack, '+14155550191');
    try {
      const { since, established } = await dialAgent(stack, phone);
      const worker = stack.worker!;
      const pid = worker.child.pid!;
      const family = [pid, ...childrenOf(pid)];
      for (const p of family) process.kill(p, 'SIGKILL');
      await worker.exited;
      // Nobody runs the call now: the caller hears silence and stays on the line.
      await sleep(2000);
      assert.equal(phone.events.some((e) => e.type === 'CALL_CLOSED' && e.at >= established.at), false, 'the call ended before the restart');
      assert.equal((await stack.rooms().listRooms()).length, 1);

      const restartAt = Date.now();
      await stack.startWorker();
      const closed = await phone.waitForEvent('CALL_CLOSED', 20_000, established.at);
      process.stderr.write(`e2e figure: SIGKILL of the worker and its call processes, the restart hung the caller up ${closed.at - restartAt} ms after it began\n`);
      await roomsGone(stack);
      const [record] = await finishedFrom(['+14155550191'], since);
      assert.deepEqual(record!.outcome, { kind: 'error', error: ORPHAN_REASON });
    } finally {
      await phone.close();
    }
  });
});
