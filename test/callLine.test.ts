/**
 * The line gate and the callee's first words: a turn the caller began while the line was shut
 * (an outbound "Hello?" during answering-machine detection) is answered by the greeting alone,
 * even when its transcript commits after the line opened.
 */
import './helpers/logger.js';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { llm, voice } from '@livekit/agents';
import type { AgentDeps } from '../agents/deps.js';
import { introAgent } from '../agents/intro.js';
import { CLINIC_POLICY } from '../agents/policy.js';
import { CallLine } from '../src/call/callLine.js';
import { openStore } from '../src/store/index.js';
import { defaultRules } from '../tools/appointmentBook.js';
import { newUserdata } from '../tools/callContext.js';

/** The one event CallLine follows, emitted the way AgentSession emits it. */
function fakeSession() {
  const emitter = new EventEmitter();
  const say = (newState: 'speaking' | 'listening') =>
    emitter.emit(voice.AgentSessionEventTypes.UserStateChanged, { type: 'user_state_changed', oldState: 'listening', newState, createdAt: Date.now() });
  return { session: emitter as unknown as voice.AgentSession<unknown>, say };
}

describe('CallLine', () => {
  it('marks a turn begun before the line opened, and only that one', async () => {
    const line = new CallLine();
    const { session, say } = fakeSession();
    line.watch(session);
    say('speaking'); // "Hello?" while AMD listens
    assert.equal(line.open, false);
    await sleep(2);
    line.openNow();
    assert.equal(await line.ready, true);
    assert.equal(line.turnBeganClosed, true, 'the "Hello?" began while the line was shut');
    await sleep(2);
    say('listening');
    say('speaking'); // "Yes, this is Dana."
    assert.equal(line.turnBeganClosed, false, 'a turn begun on the open line gets its reply');
  });

  it('a caller who has not spoken yet when the line opens is not held', () => {
    const line = new CallLine();
    line.watch(fakeSession().session);
    line.openNow();
    assert.equal(line.turnBeganClosed, false);
  });

  it('a call that ends before the line opens never opens it', async () => {
    const line = new CallLine();
    line.neverOpen();
    line.openNow(); // too late: ready already settled
    assert.equal(await line.ready, false);
  });
});

describe('intro agent on an outbound call', () => {
  async function outboundIntro(line: CallLine) {
    const store = await openStore(':memory:');
    const u = newUserdata({
      callId: 'call-line',
      direction: 'outbound',
      callerNumber: '+15550002223',
      businessName: 'Riverside Clinic',
      timezone: 'UTC',
      contact: { name: 'Dana Lee', fields: {} },
    });
    const deps: AgentDeps = {
      control: { endCall: () => undefined },
      appointments: store.appointments,
      messages: store.messages,
      policy: CLINIC_POLICY,
      rules: defaultRules('UTC'),
      now: () => new Date('2026-11-23T13:00:00Z'),
      line,
    };
    return { agent: introAgent(deps, u), store };
  }
  const turn = (text: string) => {
    const ctx = llm.ChatContext.empty();
    return { ctx, msg: ctx.addMessage({ role: 'user', content: text }) };
  };

  it('gives the "Hello?" begun during AMD no reply of its own, and answers the next turn', async () => {
    const line = new CallLine();
    const { session, say } = fakeSession();
    line.watch(session);
    const { agent, store } = await outboundIntro(line);
    try {
      say('speaking');
      await sleep(2);
      line.openNow(); // AMD said "human"; the transcript of "Hello?" commits only now
      const hello = turn('Hello?');
      await assert.rejects(agent.onUserTurnCompleted(hello.ctx, hello.msg), voice.StopResponse);
      say('speaking');
      const yes = turn('Yes, this is Dana.');
      await agent.onUserTurnCompleted(yes.ctx, yes.msg); // no StopResponse: it gets a reply
    } finally {
      await store.close();
    }
  });
});
