/**
 * The real @livekit/agents-plugin-openai LLM against the local OpenAI emulator.
 */
import { APIConnectionError, APIStatusError, initializeLogger, llm } from '@livekit/agents';
import * as openai from '@livekit/agents-plugin-openai';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import {
  OpenAIEmulator,
  cachedTokensFor,
  countTokens,
  promptText,
  scriptedBrain,
  splitTextPieces,
} from '../src/sandbox/openaiEmulator.js';

initializeLogger({ pretty: false, level: 'fatal' });

/** Shape of the LLM 'error' event payload (not exported by name from @livekit/agents). */
type LLMError = { error: Error; recoverable: boolean };

const NO_RETRY = { maxRetry: 0, retryIntervalMs: 0, timeoutMs: 5000 };

function chatCtx(user: string, system = 'You are a phone agent for Switchboard.'): llm.ChatContext {
  const ctx = llm.ChatContext.empty();
  ctx.addMessage({ role: 'system', content: system });
  ctx.addMessage({ role: 'user', content: user });
  return ctx;
}

async function collect(stream: AsyncIterable<llm.ChatChunk>): Promise<llm.ChatChunk[]> {
  const out: llm.ChatChunk[] = [];
  for await (const c of stream) out.push(c);
  return out;
}

function textOf(chunks: llm.ChatChunk[]): string {
  return chunks.map((c) => c.delta?.content ?? '').join('');
}

describe('OpenAI emulator + real openai.LLM plugin', { timeout: 30_000 }, () => {
  const emu = new OpenAIEmulator();
  const models: openai.LLM[] = [];
  const makeLLM = (apiKey: string) => {
    const m = new openai.LLM({ model: 'gpt-4.1-mini', baseURL: emu.url + '/v1', apiKey });
    models.push(m);
    return m;
  };

  before(async () => {
    await emu.start();
  });
  after(async () => {
    for (const m of models) await m.aclose();
    await emu.close();
  });

  it('streams scripted text in several chunks and records the request (key redacted)', async () => {
    const text = 'Sure, I can help you reschedule that appointment.';
    emu.script('sandbox-text', [{ text }]);
    const model = makeLLM('sandbox-text');
    const chunks = await collect(model.chat({ chatCtx: chatCtx('Can I move my appointment?'), connOptions: NO_RETRY }));
    assert.equal(textOf(chunks), text);
    const contentChunks = chunks.filter((c) => c.delta?.content);
    assert.equal(contentChunks.length, splitTextPieces(text).length);
    assert.ok(contentChunks.length >= 5, 'text should be streamed word by word');

    const [rec] = emu.requestsFor('sandbox-text');
    assert.ok(rec);
    assert.equal(rec.model, 'gpt-4.1-mini');
    assert.equal(rec.stream, true);
    assert.equal(rec.includeUsage, true);
    assert.equal(rec.outcome, 'ok');
    assert.deepEqual(
      rec.messages.map((m) => m.role),
      ['system', 'user'],
    );
    assert.match(JSON.stringify(rec.messages), /Can I move my appointment\?/);
    assert.ok(rec.keyHash && rec.keyHash !== 'sandbox-text');
    assert.doesNotMatch(JSON.stringify(emu.requests), /sandbox-text/, 'the key must not be stored');
  });

  it('delivers scripted tool calls as function calls with parsed arguments', async () => {
    emu.script('sandbox-tools', [
      {
        text: 'Let me check.',
        toolCalls: [
          { name: 'lookup_order', arguments: { order_id: 'A-123', include_items: true } },
          { name: 'transfer_call', arguments: { department: 'billing', reason: 'refund "quoted" & long reason text' } },
        ],
      },
    ]);
    const model = makeLLM('sandbox-tools');
    const toolCtx = {
      lookup_order: llm.tool({
        description: 'Look up an order',
        parameters: z.object({ order_id: z.string(), include_items: z.boolean() }),
        execute: async () => 'ok',
      }),
      transfer_call: llm.tool({
        description: 'Transfer the caller',
        parameters: z.object({ department: z.string(), reason: z.string() }),
        execute: async () => 'ok',
      }),
    };
    const chunks = await collect(model.chat({ chatCtx: chatCtx('Where is my order A-123?'), toolCtx, connOptions: NO_RETRY }));
    assert.equal(textOf(chunks), 'Let me check.');
    const calls = chunks.flatMap((c) => c.delta?.toolCalls ?? []);
    assert.deepEqual(
      calls.map((c) => c.name),
      ['lookup_order', 'transfer_call'],
    );
    assert.deepEqual(JSON.parse(calls[0]!.args), { order_id: 'A-123', include_items: true });
    assert.deepEqual(JSON.parse(calls[1]!.args), { department: 'billing', reason: 'refund "quoted" & long reason text' });
    assert.ok(calls.every((c) => c.callId.startsWith('call_')));
    assert.notEqual(calls[0]!.callId, calls[1]!.callId);

    const [rec] = emu.requestsFor('sandbox-tools');
    assert.deepEqual([...rec!.toolNames].sort(), ['lookup_order', 'transfer_call']);
    assert.equal(rec!.params.parallel_tool_calls, true);
  });

  it('surfaces an HTTP 500 as an APIStatusError via the llm error event', async () => {
    emu.script('sandbox-500', [{ error: { status: 500, message: 'emulated outage' } }]);
    const model = makeLLM('sandbox-500');
    const errors: LLMError[] = [];
    model.on('error', (e) => errors.push(e));
    const chunks = await collect(model.chat({ chatCtx: chatCtx('hello'), connOptions: NO_RETRY }));
    assert.equal(textOf(chunks), '');
    assert.equal(errors.length, 1);
    const err = errors[0]!.error;
    assert.ok(err instanceof APIStatusError, `expected APIStatusError, got ${err?.constructor?.name}`);
    assert.equal(err.statusCode, 500);
    assert.match(err.message, /emulated outage/);
    assert.equal(errors[0]!.recoverable, false);
    assert.equal(emu.requestsFor('sandbox-500')[0]!.status, 500);
  });

  it('lets the framework retry after a 503 and then succeed', async () => {
    emu.script('sandbox-retry', [{ error: { status: 503, message: 'overloaded' } }, { text: 'Back again.' }]);
    const model = makeLLM('sandbox-retry');
    const errors: LLMError[] = [];
    model.on('error', (e) => errors.push(e));
    const chunks = await collect(
      model.chat({ chatCtx: chatCtx('hi'), connOptions: { maxRetry: 1, retryIntervalMs: 10, timeoutMs: 5000 } }),
    );
    assert.equal(textOf(chunks), 'Back again.');
    assert.equal(emu.requestsFor('sandbox-retry').length, 2);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.recoverable, true);
  });

  it('can fail mid-stream: partial text, then a non-retryable connection error', async () => {
    emu.script('sandbox-midfail', [{ text: 'One two three four five six seven.', failAfterChunks: 3 }]);
    const model = makeLLM('sandbox-midfail');
    const errors: LLMError[] = [];
    model.on('error', (e) => errors.push(e));
    const chunks = await collect(model.chat({ chatCtx: chatCtx('count'), connOptions: { maxRetry: 2, retryIntervalMs: 10, timeoutMs: 5000 } }));
    assert.equal(textOf(chunks), 'One two three');
    assert.equal(errors.length, 1);
    assert.ok(errors[0]!.error instanceof APIConnectionError, `got ${errors[0]!.error?.constructor?.name}`);
    assert.equal(emu.requestsFor('sandbox-midfail').length, 1, 'content was delivered, so no retry');
    assert.equal(emu.requestsFor('sandbox-midfail')[0]!.outcome, 'failed-mid-stream');
  });

  it('can fail mid-stream with an SSE error event', async () => {
    emu.script('sandbox-midfail-sse', [{ text: 'Alpha beta gamma delta.', failAfterChunks: 2, failMode: 'error-event' }]);
    const model = makeLLM('sandbox-midfail-sse');
    const errors: LLMError[] = [];
    model.on('error', (e) => errors.push(e));
    const chunks = await collect(model.chat({ chatCtx: chatCtx('go'), connOptions: NO_RETRY }));
    assert.equal(textOf(chunks), 'Alpha beta');
    assert.equal(errors.length, 1);
    assert.ok(errors[0]!.error instanceof APIStatusError);
  });

  it('reports deterministic usage, including emulated cached tokens', async () => {
    const system = 'You are a careful phone agent. '.repeat(200); // ~6000 chars => >1024 tokens
    emu.script('sandbox-usage', [{ text: 'First answer.' }, { text: 'Second answer, a bit longer.' }]);
    const model = makeLLM('sandbox-usage');
    const metrics: { promptTokens: number; completionTokens: number; promptCachedTokens: number }[] = [];
    model.on('metrics_collected', (m) => metrics.push(m));

    const ctx = chatCtx('first question', system);
    const c1 = await collect(model.chat({ chatCtx: ctx, connOptions: NO_RETRY }));
    const u1 = c1.find((c) => c.usage)?.usage;
    ctx.addMessage({ role: 'assistant', content: 'First answer.' });
    ctx.addMessage({ role: 'user', content: 'second question' });
    const c2 = await collect(model.chat({ chatCtx: ctx, connOptions: NO_RETRY }));
    const u2 = c2.find((c) => c.usage)?.usage;

    const [r1, r2] = emu.requestsFor('sandbox-usage');
    assert.ok(u1 && u2 && r1 && r2);
    assert.equal(u1.promptTokens, countTokens(promptText(r1.messages, [])));
    assert.equal(u1.completionTokens, countTokens('First answer.'));
    assert.equal(u1.totalTokens, u1.promptTokens + u1.completionTokens);
    assert.equal(u1.promptCachedTokens, 0, 'nothing cached on the first request');
    assert.equal(u2.completionTokens, countTokens('Second answer, a bit longer.'));
    assert.ok(u2.promptCachedTokens >= 1024, `expected a cached prefix, got ${u2.promptCachedTokens}`);
    assert.equal(u2.promptCachedTokens % 128, 0);
    assert.ok(u2.promptCachedTokens < u2.promptTokens);
    assert.equal(u2.promptCachedTokens, cachedTokensFor(promptText(r2.messages, []), [promptText(r1.messages, [])]));
    // the framework's own metrics carry the same numbers
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(
      metrics.map((m) => [m.promptTokens, m.completionTokens, m.promptCachedTokens]),
      [
        [u1.promptTokens, u1.completionTokens, 0],
        [u2.promptTokens, u2.completionTokens, u2.promptCachedTokens],
      ],
    );
  });

  it('routes by API key: concurrent calls get their own scripts; unknown keys get the default brain', async () => {
    const N = 5;
    for (let i = 0; i < N; i++) emu.script(`sandbox-call-${i}`, [{ text: `Reply for call ${i}.` }]);
    const results = await Promise.all(
      Array.from({ length: N }, (_, i) => collect(makeLLM(`sandbox-call-${i}`).chat({ chatCtx: chatCtx(`I am caller ${i}`), connOptions: NO_RETRY }))),
    );
    results.forEach((chunks, i) => assert.equal(textOf(chunks), `Reply for call ${i}.`));

    const unknown = await collect(makeLLM('sandbox-unknown').chat({ chatCtx: chatCtx('what is my balance'), connOptions: NO_RETRY }));
    assert.equal(textOf(unknown), 'You said: what is my balance');
  });

  it('answers with a clear 500 when a scripted brain runs dry', async () => {
    emu.script('sandbox-dry', []);
    const model = makeLLM('sandbox-dry');
    const errors: LLMError[] = [];
    model.on('error', (e) => errors.push(e));
    await collect(model.chat({ chatCtx: chatCtx('anyone there?'), connOptions: NO_RETRY }));
    assert.equal(errors.length, 1);
    assert.match(errors[0]!.error.message, /no reply queued for request #1/);
    const rec = emu.requestsFor('sandbox-dry')[0]!;
    assert.equal(rec.outcome, 'brain-error');
  });

  it('applies firstTokenMs before the first token', async () => {
    emu.script('sandbox-slow', [{ text: 'Slow reply here.', firstTokenMs: 150, tokenIntervalMs: 5 }]);
    const model = makeLLM('sandbox-slow');
    const t0 = performance.now();
    let firstAt = 0;
    for await (const c of model.chat({ chatCtx: chatCtx('hi'), connOptions: NO_RETRY })) {
      if (c.delta?.content && !firstAt) firstAt = performance.now();
    }
    assert.ok(firstAt - t0 >= 140, `first token after ${firstAt - t0} ms`);
    const rec = emu.requestsFor('sandbox-slow')[0]!;
    assert.ok(rec.firstChunkAt! - rec.receivedAt >= 145);
  });

  it('speaks the plain HTTP API too: non-streaming, /v1/models, 401 without a key', async () => {
    emu.setBrain('sandbox-raw', scriptedBrain([{ text: 'Plain.', toolCalls: [{ name: 'end_call', arguments: {} }] }]));
    const res = await fetch(`${emu.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer sandbox-raw', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'bye' }] }),
    });
    assert.equal(res.status, 200);
    const json = (await res.json()) as {
      object: string;
      choices: { message: { content: string; tool_calls: { function: { name: string; arguments: string } }[] }; finish_reason: string }[];
      usage: { prompt_tokens: number };
    };
    assert.equal(json.object, 'chat.completion');
    assert.equal(json.choices[0]!.message.content, 'Plain.');
    assert.equal(json.choices[0]!.message.tool_calls[0]!.function.name, 'end_call');
    assert.equal(json.choices[0]!.message.tool_calls[0]!.function.arguments, '{}');
    assert.equal(json.choices[0]!.finish_reason, 'tool_calls');
    assert.ok(json.usage.prompt_tokens > 0);

    const models = (await (await fetch(`${emu.url}/v1/models`)).json()) as { data: { id: string }[] };
    assert.ok(models.data.some((m) => m.id === 'gpt-4.1-mini'));

    const noKey = await fetch(`${emu.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'x' }] }),
    });
    assert.equal(noKey.status, 401);
    await noKey.text();
  });
});
