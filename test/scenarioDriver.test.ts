/**
 * The caller's waits (for the agent to finish its turn, to start speaking, to press keys) end
 * with the call: none of them leaves a listener on the session or a 30 s timer behind.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { afterEach, describe, it, mock } from 'node:test';
import { voice } from '@livekit/agents';
import { EmulatedCaller } from '../src/simulate/caller.js';
import type { CallWorld } from '../src/simulate/callWorld.js';
import type { PacedAudioOutput } from '../src/simulate/localAudio.js';
import { parseScenario } from '../src/simulate/scenario.js';
import { RunningTools, type Stage, playScenario } from '../src/simulate/scenarioDriver.js';

const STATE = voice.AgentSessionEventTypes.AgentStateChanged;

/** A session that only reports its state; the agent in it never says anything. */
class QuietSession extends EventEmitter {
  agentState = 'listening';
}

function stageFor(steps: string, session: QuietSession, caller: EmulatedCaller, notes: string[]): Stage {
  const scenario = parseScenario(`name: wait\nsteps:\n${steps}\nexpect:\n  outcome: completed\n`, 'wait.yaml');
  return {
    scenario,
    world: { outbound: false, emulators: null, key: 'k', faults: { inject: () => undefined } } as unknown as CallWorld,
    caller,
    output: { playoutEndsAt: 0 } as PacedAudioOutput,
    tools: new RunningTools(),
    ready: Promise.resolve(),
    session: () => session as unknown as ReturnType<Stage['session']>,
    keypad: () => undefined,
    shutdown: new AbortController(),
    emit: (ev) => notes.push('text' in ev ? ev.text : ev.type),
  };
}

const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
const turn = () => new Promise((r) => setImmediate(r));

describe('scenario driver waits', () => {
  afterEach(() => mock.timers.reset());

  for (const [what, steps, waitsOnSession] of [
    ['the end of its turn', '  - caller: hello', true],
    ['its barge-in point', '  - caller: hello\n    bargeIn: 100', true],
    ['the end of its turn before hanging up', '  - hangup: true', true],
    ['the start of its reply before hanging up mid-reply', '  - hangup: true\n    midReply: true', true],
    ['its keys', '  - caller: hello\n    afterKeys: "1"', false],
  ] as const) {
    it(`a call that ends while the caller waits for ${what} leaves no listener or timer behind`, async () => {
      const session = new QuietSession();
      const caller = new EmulatedCaller({ send: () => undefined, rate: 8000, phone: false });
      const notes: string[] = [];
      let endCall!: () => void;
      const callDone = new Promise<void>((r) => (endCall = r));
      const before = timers();
      const played = playScenario(stageFor(steps, session, caller, notes), callDone);
      await turn();
      assert.equal(timers(), before + 1, 'the wait has its timeout');
      if (waitsOnSession) assert.equal(session.listenerCount(STATE), 1, 'the wait listens to the session');
      endCall();
      const { error } = await played;
      // A barge-in's own short delay (100 ms, 300 ms mid-reply) may still run out; the 30 s wait may not.
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(session.listenerCount(STATE), 0, 'a listener on the session outlived the call');
      assert.equal(timers(), before, "a wait's 30 s timer outlived the call");
      assert.equal(error, undefined);
      assert.deepEqual(notes, [], 'the caller acted after the call ended');
    });
  }

  it('an agent that never starts speaking fails the barge-in after 30 s, and its listener goes', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    const session = new QuietSession();
    const caller = new EmulatedCaller({ send: () => undefined, rate: 8000, phone: false });
    const played = playScenario(stageFor('  - caller: hello\n    bargeIn: 100', session, caller, []), new Promise(() => undefined));
    await turn();
    assert.equal(session.listenerCount(STATE), 1);
    mock.timers.tick(30_000);
    const { error } = await played;
    assert.match(String(error), /the agent never started speaking/);
    assert.equal(session.listenerCount(STATE), 0, 'the timed-out wait still listens to the session');
  });
});
