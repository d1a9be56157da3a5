/**
 * `switchboard simulate --live` through the real CLI. Without keys it stops before anything starts,
 * naming each missing variable. With (obviously fake) keys and the *_BASE_URLs pointed at
 * emulators this test runs, it plays a whole call with the production provider construction: the
 * caller's lines are voiced by the TTS in the caller's own voice, the agent's STT, LLM and TTS
 * traffic reaches the configured URLs with the configured keys, and the report says the providers
 * were live. The emulators stand in for the real providers here the way they would for a proxy:
 * told, through their ordinary API, what the caller will say and what the model answers.
 */
import './helpers/logger.js';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dispose } from '@livekit/rtc-node';
import { CartesiaEmulator } from '../src/sandbox/cartesiaEmulator.js';
import { DeepgramEmulator } from '../src/sandbox/deepgramEmulator.js';
import { keyHash } from '../src/sandbox/emulatorServer.js';
import { OpenAIEmulator } from '../src/sandbox/openaiEmulator.js';
import { speechDurationMs } from '../src/sandbox/speechSignal.js';
import { CallerVoice } from '../src/simulate/callerVoice.js';
import { modelScript } from '../src/simulate/modelScript.js';

const CLI = join(import.meta.dirname, '..', 'src', 'cli', 'main.js');
const KEYS = {
  DEEPGRAM_API_KEY: 'test-not-a-key-deepgram',
  OPENAI_API_KEY: 'test-not-a-key-openai',
  CARTESIA_API_KEY: 'test-not-a-key-cartesia',
};
const CALLER_VOICE = 'test-caller-voice';
const AGENT_VOICE = 'test-agent-voice';
const LINES = ['Hi, this is Ana Diaz. I need a checkup.', "No, that's all. Thanks!"];

/**
 * A scenario whose scripted model (offline) says something the live "model" below never says, and
 * expects it: live, that expectation and the unused script must be reported as not checked.
 */
const SCENARIO = `
name: Live smoke call
steps:
  - caller: "${LINES[0]}"
    model:
      - say: This reply is scripted for offline runs only.
  - caller: "${LINES[1]}"
expect:
  outcome: completed
  agents: [intro, desk]
  heard: ["This reply is scripted for offline runs only."]
`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI in a directory with no .env, with only the variables given (and PATH). */
function cli(args: string[], vars: Record<string, string>, cwd: string): Promise<Run> {
  const env = { PATH: process.env.PATH ?? '', HOME: cwd, LOG_LEVEL: 'error', ...vars };
  const child = spawn(process.execPath, [CLI, 'simulate', ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

function assertNoSecrets(r: Run, secrets: string[]): void {
  for (const s of secrets) assert.ok(!r.stdout.includes(s) && !r.stderr.includes(s), `printed ${s}`);
}

describe('simulate --live', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-live-'));
  const scenarioFile = join(dir, 'live-smoke.yaml');
  writeFileSync(scenarioFile, SCENARIO);

  it('without keys: exits 2 before anything starts, naming each missing variable, printing no secret', async () => {
    const none = await cli(['--live', scenarioFile], {}, dir);
    assert.equal(none.code, 2, none.stderr);
    for (const key of Object.keys(KEYS)) assert.match(none.stderr, new RegExp(`${key}: not set`));
    assert.doesNotMatch(none.stdout, /▶/, 'no call was started');

    // A key that is set is neither reported nor echoed; the caller's voice needs Cartesia's even
    // when the agent speaks with Deepgram.
    const some = await cli(['--live', '--json', scenarioFile], { OPENAI_API_KEY: KEYS.OPENAI_API_KEY, DEEPGRAM_API_KEY: KEYS.DEEPGRAM_API_KEY, TTS_PROVIDERS: 'deepgram' }, dir);
    assert.equal(some.code, 2, some.stderr);
    const err = JSON.parse(some.stdout.trim().split('\n').at(-1)!) as { ok: boolean; error: string };
    assert.equal(err.ok, false);
    assert.match(err.error, /CARTESIA_API_KEY: not set .*simulate --live voices the caller with Cartesia/);
    assert.doesNotMatch(err.error, /OPENAI_API_KEY|DEEPGRAM_API_KEY/);
    assertNoSecrets(some, Object.values(KEYS));
  });

  it('an offline-only scenario is not played live (exit 2, with why)', async () => {
    const file = join(import.meta.dirname, '..', '..', 'scenarios', 'llm-failure.yaml');
    const r = await cli(['--live', file], KEYS, dir);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /offline-only: "LLM provider fails twice": the provider failures are scripted/);
  });

  describe('with keys, against stand-ins at the configured URLs', () => {
    const openai = new OpenAIEmulator();
    const deepgram = new DeepgramEmulator();
    const cartesia = new CartesiaEmulator({ msPerChar: 40, realtimeFactor: 8 });
    before(async () => {
      await Promise.all([openai.start(), deepgram.start(), cartesia.start()]);
    });
    after(async () => {
      await Promise.all([openai.close(), deepgram.close(), cartesia.close()]);
      await dispose();
    });

    it('voices each caller line once per run in the caller voice, and caches it', async () => {
      const voice = new CallerVoice({ apiKey: 'test-not-a-key-voice', voice: CALLER_VOICE, model: 'sonic-2', baseUrl: cartesia.url });
      try {
        const a = await voice.speak('Nine thirty please.', 8000);
        const again = await voice.speak('Nine thirty please.', 8000);
        const wide = await voice.speak('Nine thirty please.', 24000);
        assert.equal(again, a, 'the second ask is served from the cache');
        assert.equal(a.length, (speechDurationMs('Nine thirty please.', 40) * 8000) / 1000);
        assert.equal(wide.length, a.length * 3);
        const gens = cartesia.generationsFor('test-not-a-key-voice');
        assert.deepEqual(gens.map((g) => [g.text, g.sampleRate, (g.voice as { id: string }).id]), [
          ['Nine thirty please.', 8000, CALLER_VOICE],
          ['Nine thirty please.', 24000, CALLER_VOICE],
        ]);
      } finally {
        await voice.close();
      }
    });

    it('plays a whole call: caller lines through the TTS, agent traffic to the configured URLs, a live report', async () => {
      // The stand-ins' side of the call: what the STT "hears" (the caller's lines, in order) and
      // what the "model" answers, each under the key the CLI was given.
      deepgram.expect(KEYS.DEEPGRAM_API_KEY, ...LINES);
      const script = modelScript([
        { toolCalls: [{ name: 'transfer_to_desk', arguments: { name: 'Ana Diaz', reason: 'a checkup' } }] },
        { text: 'Sure Ana. Anything else?' },
        { toolCalls: [{ name: 'end_call', arguments: { goodbye: 'Thanks Ana, goodbye!', summary: 'live smoke' } }] },
      ]);
      openai.setBrain(KEYS.OPENAI_API_KEY, script.brain);

      const r = await cli(['--live', '--json', '--speed', '4', '--recordings', '', scenarioFile], {
        ...KEYS,
        DEEPGRAM_BASE_URL: deepgram.url,
        OPENAI_BASE_URL: openai.baseURL,
        CARTESIA_BASE_URL: cartesia.url,
        CARTESIA_VOICE: AGENT_VOICE,
        SIMULATE_CALLER_VOICE: CALLER_VOICE,
      }, dir);
      assert.equal(r.code, 0, `${r.stderr}\n${r.stdout}`);
      assertNoSecrets(r, Object.values(KEYS));
      const report = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, any>;

      // The report: the same shape as offline, saying the providers were live.
      for (const field of ['scenario', 'callId', 'passed', 'providers', 'emulatedLatencyMs', 'agents', 'outcome', 'roomDeleted', 'turns', 'latency', 'cost', 'userdata', 'recordingPath', 'checks', 'notChecked']) {
        assert.ok(field in report, `report has ${field}`);
      }
      assert.equal(report.providers, 'live');
      assert.equal(report.emulatedLatencyMs, null, 'live, the providers\' share of a turn is not claimed');
      assert.equal(report.passed, true, JSON.stringify(report.checks));
      assert.equal(report.roomDeleted, true);
      assert.deepEqual(report.outcome, { kind: 'completed', summary: 'live smoke' });
      assert.deepEqual(report.agents, ['intro', 'desk']);
      assert.deepEqual(report.notChecked, [
        'every scripted model reply was used',
        'agent said "This reply is scripted for offline runs only."',
        'every promise the agent made follows the tool call that kept it',
      ]);
      assert.ok(report.turns.length >= 2, JSON.stringify(report.turns));
      for (const t of report.turns) assert.ok(t.firstAudioMs > 0 && t.firstAudioMs < 10_000, JSON.stringify(t));
      assert.ok(report.latency.p50 <= report.latency.p95);
      // Priced from the usage the providers reported. (Deepgram's plugin reports STT audio in 5 s
      // batches and drops the last partial one when the stream closes, so a call this short may
      // show none.)
      for (const part of ['llm', 'tts']) assert.ok(report.cost.breakdown[part] > 0, `${part} cost from the usage the providers reported`);
      assert.ok(report.cost.breakdown.stt >= 0);

      // The caller's lines went through the TTS, once each, in the caller's voice; the agent spoke
      // in its own voice through the same configured endpoint.
      const gens = cartesia.generationsFor(KEYS.CARTESIA_API_KEY);
      const voiceOf = (g: { voice?: unknown }) => (g.voice as { id?: string } | undefined)?.id;
      assert.deepEqual(gens.filter((g) => voiceOf(g) === CALLER_VOICE).map((g) => g.text), LINES);
      const agentSaid = gens.filter((g) => voiceOf(g) === AGENT_VOICE && g.outcome === 'done').map((g) => g.text);
      assert.ok(agentSaid.some((t) => t.startsWith('Thanks for calling')), JSON.stringify(agentSaid));
      assert.ok(agentSaid.includes('Sure Ana. Anything else?'), JSON.stringify(agentSaid));
      assert.ok(agentSaid.includes('Thanks Ana, goodbye!'), JSON.stringify(agentSaid));

      // The STT heard the caller's lines (the audio from the TTS, down the phone line) and nothing else.
      const segments = deepgram.segmentsFor(KEYS.DEEPGRAM_API_KEY);
      assert.deepEqual(segments.filter((s) => s.scripted).map((s) => s.transcript), LINES);
      // What it heard is the TTS's audio (40 ms a character here), not the sandbox's own synthetic
      // speech (65 ms a character).
      segments.filter((s) => s.scripted).forEach((s, i) => {
        const heardMs = (s.endSec - s.startSec) * 1000;
        const voicedMs = speechDurationMs(LINES[i]!, 40);
        assert.ok(Math.abs(heardMs - voicedMs) < 250, `line ${i + 1}: heard ${heardMs} ms, voiced ${voicedMs} ms`);
      });
      assert.equal(deepgram.connectionsFor(KEYS.DEEPGRAM_API_KEY)[0]?.sampleRate, 8000);
      // The LLM got every request, under the configured key.
      assert.equal(script.remaining, 0);
      const llm = openai.requests.filter((q) => q.keyHash === keyHash(KEYS.OPENAI_API_KEY));
      assert.ok(llm.length >= 3);
      assert.equal(openai.requests.length, llm.length, 'no other key reached the LLM');
    });
  });
});
