/**
 * A recorded simulated call: one stereo µ-law WAV, caller left, agent right, one timeline.
 * The caller's lines are synthetic speech of a known length, so the file can be checked for
 * where each side spoke, for how long, and in what order.
 */
import './helpers/logger.js';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { dispose } from '@livekit/rtc-node';
import { loadConfig } from '../src/config.js';
import { Sandbox } from '../src/sandbox/sandbox.js';
import { loadVad } from '../src/session/sessionFactory.js';
import { loadScenario } from '../src/simulate/scenario.js';
import { simulateCall } from '../src/simulate/simulatedCall.js';
import { openStore } from '../src/store/index.js';
import { speechRuns } from '../src/telephony/speechRuns.js';
import { readWav } from '../src/telephony/wav.js';

const MS_PER_CHAR = 40;

after(async () => {
  await dispose();
});

describe('call recording', () => {
  it('writes caller left, agent right, µ-law 8 kHz, each line where and as long as it was spoken', async () => {
    const sandbox = await Sandbox.start({ msPerChar: MS_PER_CHAR });
    const dir = mkdtempSync(join(tmpdir(), 'sb-rec-'));
    const store = await openStore(':memory:');
    try {
      const config = loadConfig({ ...sandbox.env(), RECORDING_DIR: dir });
      const scenario = loadScenario(join(import.meta.dirname, '..', '..', 'scenarios', 'inbound-booking.yaml'));
      const r = await simulateCall(scenario, { sandbox, config, store, vad: await loadVad() }, { speed: 1 });
      assert.ok(r.passed, JSON.stringify(r.checks.filter((c) => !c.ok)));
      assert.equal(r.recordingPath, join(dir, `${r.callId}.wav`));
      assert.equal((await store.calls.get(r.callId))?.recordingPath, r.recordingPath);

      const wav = readWav(readFileSync(r.recordingPath!));
      assert.equal(wav.encoding, 'mulaw');
      assert.equal(wav.channelCount, 2);
      assert.equal(wav.sampleRate, 8000);
      const [callerCh, agentCh] = wav.channels as [Int16Array, Int16Array];
      const caller = speechRuns(callerCh, 8000);
      const agent = speechRuns(agentCh, 8000);

      // Three caller lines, each as long as its synthetic speech (±120 ms).
      const lines = scenario.steps.flatMap((s) => ('caller' in s ? [s.caller] : []));
      assert.equal(caller.length, lines.length, JSON.stringify(caller));
      lines.forEach((text, i) => {
        const expected = text.replace(/\s+/g, ' ').trim().length * MS_PER_CHAR;
        assert.ok(Math.abs(caller[i]!.end - caller[i]!.start - expected) < 120, `line ${i}: ${JSON.stringify(caller[i])} vs ${expected} ms`);
      });
      // The agent speaks first (greeting), and each caller line sits between agent turns,
      // never on top of one: one timeline, two channels.
      assert.ok(agent.length >= 4, JSON.stringify(agent));
      assert.ok(agent[0]!.start < caller[0]!.start);
      for (const c of caller) {
        for (const a of agent) assert.ok(c.end <= a.start + 60 || c.start >= a.end - 60, `overlap ${JSON.stringify({ c, a })}`);
      }
      // The recording starts with the greeting, whose first sentence is the disclosure: nothing
      // precedes it. The greeting is as long as its text at the emulated voice's speed (±150 ms).
      assert.ok(agent[0]!.start < 100, `the first audio is at ${agent[0]!.start} ms`);
      const greeting = `${config.RECORDING_DISCLOSURE} Thanks for calling Riverside Clinic. Who am I speaking with, and how can I help today?`;
      // (Its two sentences are synthesised one after the other; a loaded machine may leave a gap
      // between them, so the greeting is everything the agent said before the caller's first line.)
      const greetingRuns = agent.filter((a) => a.end <= caller[0]!.start);
      const greetingMs = greetingRuns.at(-1)!.end - greetingRuns[0]!.start;
      assert.ok(Math.abs(greetingMs - greeting.length * MS_PER_CHAR) < 150 + 300 * (greetingRuns.length - 1), JSON.stringify(greetingRuns));
      // The file lasts as long as the call from the greeting on (the line opens within a second or two).
      const rec = (await store.calls.get(r.callId))!;
      const callMs = new Date(rec.endedAt!).getTime() - new Date(rec.startedAt).getTime();
      assert.ok(wav.durationMs <= callMs + 200 && wav.durationMs > callMs - 2500, `${wav.durationMs} vs ${callMs}`);
    } finally {
      await sandbox.close();
      await store.close();
    }
  });
});
