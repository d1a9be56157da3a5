/**
 * A real browser calls the agent through `switchboard playground`: Debian's chromium, headless,
 * driven by playwright-core, its microphone a WAV (Chrome's fake capture device). The page mints
 * its token through our server, joins the real LiveKit server, the agent greets (audio level
 * measured in the page), answers the caller's line, ends the call and deletes the room.
 * A screenshot of the page is kept in test-output/e2e/ for CI.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createInterface } from 'node:readline';
import { type Browser, chromium } from 'playwright-core';
import { concatPcm, silence, synthesizeSpeech } from '../../src/sandbox/speechSignal.js';
import type { LiveStack } from '../../src/stack/stack.js';
import { pcm16Wav } from '../../src/telephony/wav.js';
import { KEY, agentSaid, finishedCall, roomsGone, scriptCaller, scriptModel, startStack } from './helpers.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const OUTPUT = resolve(import.meta.dirname, '..', '..', '..', 'test-output', 'e2e');
const LINE = 'I would like to know your opening hours.';

let stack: LiveStack;
let server: ChildProcess | undefined;
let browser: Browser | undefined;

interface PageState {
  status: string;
  room: string | null;
  agent: string | null;
  firstAudioMs: number | null;
  agentPeakDb: number;
  transcript: { who: string; text: string; final: boolean }[];
  turns: { latencyMs: number }[];
  error: string | null;
}

/** Starts `switchboard playground --port 0 --json` and reads the URL from its last line. */
async function startPlaygroundCli(): Promise<string> {
  const cli = resolve(import.meta.dirname, '..', '..', 'src', 'cli', 'main.js');
  server = spawn(process.execPath, [cli, 'playground', '--port', '0', '--json'], { cwd: stack.dir, env: { ...process.env, ...stack.env }, stdio: ['ignore', 'pipe', 'inherit'] });
  for await (const line of createInterface({ input: server.stdout! })) {
    const out = JSON.parse(line) as { ok: boolean; url?: string; error?: string };
    if (!out.ok || !out.url) throw new Error(`switchboard playground failed: ${line}`);
    return out.url;
  }
  throw new Error('switchboard playground exited without printing its URL');
}

before(async () => {
  stack = await startStack();
  mkdirSync(OUTPUT, { recursive: true });
});
after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  await stack?.close();
});

describe('a real browser on the playground page', () => {
  it('joins through the page, hears the greeting, is answered, and the call ends with the room deleted', async () => {
    const goodbye = 'We are open nine to five. Goodbye!';
    scriptCaller(stack, LINE);
    scriptModel(stack, [{ toolCalls: [{ name: 'end_call', arguments: { goodbye, summary: 'asked for opening hours' } }] }]);
    // The microphone: quiet while the greeting (with the recording disclosure, some 10 s) plays, the caller's line, then quiet (Chrome loops
    // the file; the call is over long before it comes round again).
    const rate = 48_000;
    const wav = join(stack.dir, 'browser-mic.wav');
    writeFileSync(wav, pcm16Wav(concatPcm(silence(14_000, rate), synthesizeSpeech(LINE, { sampleRate: rate }), silence(60_000, rate)), rate));
    const url = await startPlaygroundCli();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--use-fake-ui-for-media-stream',
        '--use-fake-device-for-media-stream',
        `--use-file-for-fake-audio-capture=${wav}`,
        '--autoplay-policy=no-user-gesture-required',
        '--disable-background-networking',
        // LiveKit listens on loopback only; Chrome leaves loopback out of WebRTC unless told.
        '--allow-loopback-in-peer-connection',
      ],
    });
    const page = await browser.newPage();
    const consoleLines: string[] = [];
    page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    const since = Date.now();
    const read = () => page.evaluate(() => {
      const s = (globalThis as unknown as { playground: PageState }).playground;
      return { ...s, transcript: s.transcript.map((l) => ({ who: l.who, text: l.text, final: l.final })) };
    });
    let state: PageState | undefined;
    try {
      await page.goto(`${url}?autocall`);
      await page.waitForFunction(() => (globalThis as unknown as { playground: PageState }).playground.agent !== null, null, { timeout: 30_000 });
      await agentSaid(stack, 'Thanks for calling', 20_000, since);
      await page.waitForFunction(() => (globalThis as unknown as { playground: PageState }).playground.firstAudioMs !== null, null, { timeout: 20_000 });
      await agentSaid(stack, goodbye, 30_000, since);
      // The agent deletes the room after the goodbye: the page sees the call end.
      await page.waitForFunction(() => (globalThis as unknown as { playground: PageState }).playground.status === 'ended', null, { timeout: 30_000 });
      state = await read();
    } finally {
      await page.screenshot({ path: join(OUTPUT, 'playground.png'), fullPage: true }).catch(() => undefined);
      if (!state) process.stderr.write(`page state: ${JSON.stringify(await read().catch((e: Error) => e.message))}\nconsole:\n${consoleLines.join('\n')}\n`);
    }
    process.stderr.write(`e2e figure: browser first agent audio ${state.firstAudioMs} ms after joining, peak ${state.agentPeakDb} dBFS, turn latencies ${JSON.stringify(state.turns.map((t) => t.latencyMs))} ms\n`);
    assert.equal(state.error, null);
    assert.ok(state.agentPeakDb > -30, `the agent's audio in the page peaked at ${state.agentPeakDb} dBFS`);
    assert.equal(state.turns.length, 1, `one answered turn: ${JSON.stringify(state.turns)}`);
    const mine = state.transcript.filter((l) => l.who === 'you' && l.final).map((l) => l.text);
    assert.deepEqual(mine, [LINE], `the page's transcript: ${JSON.stringify(state.transcript)}`);
    assert.ok(state.transcript.some((l) => l.who === 'agent' && l.text.includes('Thanks for calling')), 'the greeting is in the transcript');
    assert.ok(state.transcript.some((l) => l.who === 'agent' && l.text.includes('open nine to five')), 'the goodbye is in the transcript');
    const dg = stack.providers.deepgram.segmentsFor(KEY).filter((s) => (s.speechStartedAt ?? 0) >= since);
    assert.deepEqual(dg.map((s) => s.transcript).filter(Boolean), [LINE], 'the browser microphone reached the STT through LiveKit');
    const record = await finishedCall(stack);
    assert.equal(record.room, state.room);
    assert.equal(record.direction, 'browser');
    assert.deepEqual(record.outcome, { kind: 'completed', summary: 'asked for opening hours' });
    await roomsGone(stack);
  });
});
