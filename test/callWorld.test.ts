/**
 * The world a simulated call is set up in is taken down with it: a shared sandbox (the `sandbox`
 * command, a campaign of simulated calls) keeps no listener of a call that is over, nor of one
 * that never started.
 */
import './helpers/logger.js';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { dispose } from '@livekit/rtc-node';
import { loadConfig } from '../src/config.js';
import { Sandbox } from '../src/sandbox/sandbox.js';
import { loadVad } from '../src/session/sessionFactory.js';
import { loadScenario } from '../src/simulate/scenario.js';
import { simulateCall } from '../src/simulate/simulatedCall.js';
import { openStore } from '../src/store/index.js';

after(async () => {
  await dispose();
});

/** Wraps a sandbox subscription so the test can count the listeners a call still holds. */
function listenerCount() {
  const count = { listening: 0 };
  const counted = <F extends (cb: never) => () => void>(subscribe: F): F =>
    ((cb: never) => {
      count.listening++;
      const off = subscribe(cb);
      let done = false;
      return () => {
        if (!done) count.listening--;
        done = true;
        off();
      };
    }) as F;
  return { count, counted };
}

describe('simulated call world', () => {
  it('an outbound call nobody answered leaves no call-status listener on the sandbox', async () => {
    const sandbox = await Sandbox.start({ msPerChar: 40 });
    const store = await openStore(':memory:');
    // Counts the call-status listeners the call holds on the shared LiveKit emulator.
    const livekit = sandbox.livekit;
    const { count, counted } = listenerCount();
    livekit.onCallStatus = counted(livekit.onCallStatus.bind(livekit));
    try {
      const config = loadConfig(sandbox.env());
      const scenario = loadScenario(join(import.meta.dirname, '..', '..', 'scenarios', 'outbound-busy.yaml'));
      const r = await simulateCall(scenario, { sandbox, config, store, vad: await loadVad() }, { speed: 4 });
      assert.ok(r.passed, JSON.stringify(r.checks.filter((c) => !c.ok)));
      assert.equal(count.listening, 0, 'the call still listens for an answer that will never come');
    } finally {
      await sandbox.close();
      await store.close();
    }
  });

  it('an outbound call whose setup is refused (no trunk) ends as the worker ends it, and leaves no room, model script or room listener on the sandbox', async () => {
    const sandbox = await Sandbox.start({ msPerChar: 40 });
    const store = await openStore(':memory:');
    // What the call leaves on the shared sandbox: its model script (by key) and its listeners.
    const brains = new Set<string>();
    const { openai, livekit } = sandbox;
    const setBrain = openai.setBrain.bind(openai);
    const removeBrain = openai.removeBrain.bind(openai);
    openai.setBrain = (key, brain) => (brains.add(key), setBrain(key, brain));
    openai.removeBrain = (key) => (brains.delete(key), removeBrain(key));
    const { count, counted } = listenerCount();
    livekit.onRoomDeleted = counted(livekit.onRoomDeleted.bind(livekit));
    livekit.onCallStatus = counted(livekit.onCallStatus.bind(livekit));
    try {
      const config = { ...loadConfig(sandbox.env()), SIP_OUTBOUND_TRUNK_ID: undefined };
      const scenario = loadScenario(join(import.meta.dirname, '..', '..', 'scenarios', 'outbound-busy.yaml'));
      await assert.rejects(simulateCall(scenario, { sandbox, config, store, vad: await loadVad() }, { speed: 4, callId: 'sim_refused' }), /SIP_OUTBOUND_TRUNK_ID is not set/);
      // As the worker's refused dispatch: nothing dialled, the room deleted once, an errored record.
      const room = 'sim-sim_refused';
      assert.equal(livekit.count('CreateSIPParticipant'), 0, 'a refused call was dialled');
      assert.equal(livekit.count('DeleteRoom', { room }), 1);
      assert.deepEqual(livekit.snapshot().rooms.map((r) => r.name), [], 'the room (and the agent in it) is still on the sandbox');
      const record = await store.calls.findByRoom(room);
      assert.equal(record?.direction, 'outbound');
      assert.equal(record?.outcome?.kind, 'error');
      assert.match(String(record?.outcome && 'error' in record.outcome ? record.outcome.error : ''), /SIP_OUTBOUND_TRUNK_ID is not set/);
      assert.deepEqual([...brains], [], "the call's model script is still on the sandbox");
      assert.equal(count.listening, 0, "the call's room listeners are still on the sandbox");
    } finally {
      await sandbox.close();
      await store.close();
    }
  });
});
