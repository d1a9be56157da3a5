/**
 * The LLM's connection across a caller's turns (src/session/llmConnection.ts): a turn's request
 * goes out on an open connection, not after a new handshake, because the connection is warmed
 * while the caller speaks. Checked on the OpenAI emulator, which records whether each request
 * opened its connection.
 */
import { initializeLogger } from '@livekit/agents';
import { dispose } from '@livekit/rtc-node';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../src/config.js';
import { OpenAIEmulator } from '../src/sandbox/openaiEmulator.js';
import { Sandbox } from '../src/sandbox/sandbox.js';
import { LlmConnection } from '../src/session/llmConnection.js';
import { loadVad } from '../src/session/sessionFactory.js';
import { loadScenario } from '../src/simulate/scenario.js';
import { simulateCall } from '../src/simulate/simulatedCall.js';
import { openStore } from '../src/store/index.js';

initializeLogger({ pretty: false, level: 'fatal' });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function chat(conn: LlmConnection): Promise<void> {
  const stream = await conn.client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], stream: true });
  for await (const _ of stream) void _;
}

describe('LLM connection', { timeout: 90_000 }, () => {
  after(async () => dispose());

  it('warm() reopens a connection that went idle, and only when it may have', async () => {
    // Node's fetch drops a connection after ~4 s idle (the emulator, like Node, hints 5 s).
    const emu = await new OpenAIEmulator().start();
    const conn = new LlmConnection({ apiKey: 'test-not-a-key', baseURL: `${emu.url}/v1` });
    try {
      await chat(conn);
      await sleep(4500);
      await chat(conn); // idle too long, no warm-up: a new connection
      await sleep(4500);
      conn.warm();
      await sleep(100);
      await chat(conn); // warmed: the request finds the connection open
      conn.warm(); // just used: nothing to do
      assert.deepEqual(
        emu.requests.map((r) => r.newConnection),
        [true, true, false],
      );
      assert.equal(conn.warmups, 1);
    } finally {
      conn.close();
      await emu.close();
    }
  });

  it('in a real-time call, every turn after the first reaches the LLM on an open connection', async () => {
    // Turns here are 4–6 s apart, longer than fetch keeps an idle connection (~4 s).
    const sandbox = await Sandbox.start({ msPerChar: 65 });
    const store = await openStore(':memory:');
    try {
      const config = loadConfig(sandbox.env());
      const scenario = loadScenario(join(import.meta.dirname, '..', '..', 'scenarios', 'bench', 'plain-3-turns.yaml'));
      const r = await simulateCall(scenario, { sandbox, config, store, vad: await loadVad() }, { speed: 1 });
      assert.ok(r.passed, JSON.stringify(r.checks.filter((c) => !c.ok)));
      const chats = sandbox.openai.requests.filter((q) => q.outcome === 'ok');
      assert.equal(chats.length, 3);
      assert.deepEqual(
        chats.slice(1).map((q) => q.newConnection),
        [false, false],
        'turns 2 and 3 opened a new connection',
      );
    } finally {
      await sandbox.close();
      await store.close();
    }
  });
});
