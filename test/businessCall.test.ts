/**
 * The business file's lines on a call: a line is what the call says and what its policies
 * recognise, however the file writes it. YAML's block scalars (`>`, `|`), the natural way to write
 * a long line, end the value with a newline the line does not have.
 */
import './helpers/logger.js';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { dispose } from '@livekit/rtc-node';
import { loadConfig } from '../src/config.js';
import { Sandbox } from '../src/sandbox/sandbox.js';
import { loadVad } from '../src/session/sessionFactory.js';
import { parseScenario } from '../src/simulate/scenario.js';
import { simulateCall } from '../src/simulate/simulatedCall.js';
import { openStore } from '../src/store/index.js';

const ROOT = join(import.meta.dirname, '..', '..');

after(async () => {
  await dispose();
});

describe('business lines on a call', () => {
  it('an apology written as a folded YAML line is still the call\'s own line: two LLM failures in a row end the call', async () => {
    const clinic = readFileSync(join(ROOT, 'business.yaml'), 'utf8');
    const folded = clinic.replace(
      "llmRetryApology: Sorry, I'm having a little trouble on my end. Could you say that again?",
      "llmRetryApology: >\n    Sorry, I'm having a little trouble on my end.\n    Could you say that again?",
    );
    assert.notEqual(folded, clinic);
    const file = join(mkdtempSync(join(tmpdir(), 'sb-business-')), 'business.yaml');
    writeFileSync(file, folded);
    // scenarios/llm-failure.yaml, with a time limit that ends the call if the policy never does.
    const scenario = parseScenario(
      readFileSync(join(ROOT, 'scenarios', 'llm-failure.yaml'), 'utf8').replace('steps:', 'limits: { maxCallSeconds: 20 }\nsteps:'),
      'llm-failure.yaml',
    );
    const sandbox = await Sandbox.start({ msPerChar: 40 });
    const store = await openStore(':memory:');
    try {
      const config = loadConfig({ ...sandbox.env(), BUSINESS_FILE: file });
      const r = await simulateCall(scenario, { sandbox, config, store, vad: await loadVad() }, { speed: 4 });
      assert.equal(r.outcome?.kind, 'error', JSON.stringify(r.checks.filter((c) => !c.ok)));
      assert.ok(r.passed, JSON.stringify(r.checks.filter((c) => !c.ok)));
    } finally {
      await sandbox.close();
      await store.close();
    }
  });
});
