import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, envExample, loadConfig, readEnv, redactedConfig, requireProviderKeys } from '../src/config.js';

const WORKER = join(import.meta.dirname, '..', 'src', 'worker.js');

describe('config', () => {
  it('defaults to a local dev LiveKit server and the switchboard agent name', () => {
    const c = loadConfig({});
    assert.equal(c.LIVEKIT_URL, 'ws://localhost:7880');
    assert.equal(c.LIVEKIT_API_KEY, 'devkey');
    assert.equal(c.LIVEKIT_API_SECRET, 'secret');
    assert.equal(c.AGENT_NAME, 'switchboard');
    assert.equal(c.OPENAI_MODEL, 'gpt-4.1-mini');
    assert.deepEqual(c.STT_PROVIDERS, ['deepgram']);
  });

  it('reports every invalid setting at once, by name and purpose', () => {
    let err: unknown;
    try {
      loadConfig({ LIVEKIT_URL: 'localhost:7880', MAX_CALL_SECONDS: '-5', STT_PROVIDERS: 'deepgram,whisper', CALLER_ID: '555-1234' });
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof ConfigError);
    assert.equal(err.problems.length, 4);
    assert.match(err.message, /LIVEKIT_URL: .*ws:\/\/.*LiveKit server URL/);
    assert.match(err.message, /MAX_CALL_SECONDS: .*longest a call may last/);
    assert.match(err.message, /STT_PROVIDERS:/);
    assert.match(err.message, /CALLER_ID: must be an E\.164 number/);
  });

  it('never echoes a secret value, even an invalid one', () => {
    const secret = 'not-a-real-secret-value-123';
    try {
      loadConfig({ LIVEKIT_API_SECRET: '   ', OPENAI_API_KEY: secret, DEEPGRAM_BASE_URL: 'nope' });
    } catch (e) {
      assert.ok(!(e as Error).message.includes(secret));
    }
    const shown = JSON.stringify(redactedConfig(loadConfig({ OPENAI_API_KEY: secret })));
    assert.ok(!shown.includes(secret));
    assert.match(shown, /"OPENAI_API_KEY":"\[set\]"/);
  });

  it('names each missing provider key with the reason it is needed', () => {
    const c = loadConfig({ TTS_PROVIDERS: 'cartesia,deepgram' });
    assert.throws(() => requireProviderKeys(c), (e: ConfigError) => {
      assert.deepEqual(e.problems.map((p) => p.split(':')[0]).sort(), ['CARTESIA_API_KEY', 'DEEPGRAM_API_KEY', 'OPENAI_API_KEY']);
      return true;
    });
    requireProviderKeys(loadConfig({ DEEPGRAM_API_KEY: 'k', OPENAI_API_KEY: 'k', CARTESIA_API_KEY: 'k' }));
  });

  it('reads .env under the real environment, which wins', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-env-'));
    writeFileSync(join(dir, '.env'), 'AGENT_NAME=from-file\nBUSINESS_NAME=File Clinic\n');
    const env = readEnv(join(dir, '.env'), { AGENT_NAME: 'from-env' });
    const c = loadConfig(env);
    assert.equal(c.AGENT_NAME, 'from-env');
    assert.equal(c.BUSINESS_NAME, 'File Clinic');
  });

  it('the committed .env.example documents every variable the schema knows', () => {
    const committed = readFileSync(join(import.meta.dirname, '..', '..', '.env.example'), 'utf8');
    assert.equal(committed, envExample());
  });

  it('the worker exits with code 2 and lists the problems, without printing secrets', () => {
    const r = spawnSync(process.execPath, [WORKER, 'start'], {
      env: { PATH: process.env.PATH, LIVEKIT_URL: 'nope', OPENAI_API_KEY: 'sk-test-should-not-print', HOME: tmpdir() },
      cwd: tmpdir(),
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /LIVEKIT_URL/);
    assert.match(r.stderr, /DEEPGRAM_API_KEY: not set/);
    assert.ok(!r.stderr.includes('sk-test-should-not-print'));
    assert.ok(!r.stdout.includes('sk-test-should-not-print'));
  });
});
