/**
 * What every real-stack test shares: one stack per test file, the caller's voice, waiting for the
 * agent to have been heard, reading what the phone heard, and the store the worker wrote.
 */
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { CartesiaEmulator } from '../../src/sandbox/cartesiaEmulator.js';
import { type Reply } from '../../src/sandbox/openaiEmulator.js';
import { type SpeechSegment, synthesizeSpeech } from '../../src/sandbox/speechSignal.js';
export { type SpeechSegment as Segment, speechSegments } from '../../src/sandbox/speechSignal.js';
import { modelScript } from '../../src/simulate/modelScript.js';
import { BaresipPhone, type PhoneEvent } from '../../src/stack/baresipPhone.js';
import { LiveStack, type StackOptions } from '../../src/stack/stack.js';
import { type Store, openStore } from '../../src/store/index.js';

/** The provider key the stack's worker uses: the emulators' per-key scripts live under it. */
export const KEY = 'stack';

export async function startStack(opts: StackOptions = {}): Promise<LiveStack> {
  // CI must fail, not skip, when the stack cannot start: start() throws with the reason.
  return LiveStack.start({ ports: 'random', ...opts, log: (l) => process.stderr.write(`[stack] ${l}\n`) });
}

export function store(stack: LiveStack): Promise<Store> {
  return openStore(stack.env.STORE_URL!);
}

/** The caller's line as speech, at the phone's 8 kHz. */
export function voice(text: string): Int16Array {
  return synthesizeSpeech(text, { sampleRate: 8000 });
}

/** The model's replies for the next call (and the AMD classifier's answers on outbound calls). */
export function scriptModel(stack: LiveStack, replies: Reply[], amdLabel: 'human' | 'machine-vm' = 'human'): ReturnType<typeof modelScript> {
  const script = modelScript(replies, { amdLabel });
  stack.providers.openai.setBrain(KEY, script.brain);
  return script;
}

/** The STT's transcripts for the caller's lines, in order. */
export function scriptCaller(stack: LiveStack, ...lines: string[]): void {
  stack.providers.deepgram.channel(KEY).clear();
  stack.providers.deepgram.expect(KEY, ...lines);
}

type Generation = CartesiaEmulator['generations'][number];

/** The agent's TTS generation whose text contains `text`, once its synthesis is done. */
export async function agentSaid(stack: LiveStack, text: string, timeoutMs = 20_000, since = 0): Promise<Generation> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const g = stack.providers.cartesia.generationsFor(KEY).find((x) => (x.requestedAt ?? 0) >= since && x.text.includes(text) && x.doneAt);
    if (g) return g;
    if (Date.now() > deadline) {
      const said = stack.providers.cartesia.generationsFor(KEY).map((x) => x.text);
      throw new Error(`the agent did not say "${text}" within ${timeoutMs} ms; it said: ${JSON.stringify(said)}`);
    }
    await sleep(50);
  }
}

/**
 * Waits until the phone has heard a generation out: its audio left the emulator paced at 2× real
 * time, so it plays until first byte + its length; the margin covers the trip through LiveKit.
 */
export async function heardOut(g: Generation, marginMs = 800): Promise<void> {
  const until = (g.firstByteAt ?? Date.now()) + g.audioMs + marginMs;
  await sleep(Math.max(0, until - Date.now()));
}

/** Gaps shorter than this inside one line are dropouts on the way, not the end of the line. */
const DROPOUT_MS = 1000;

export interface Utterance {
  startMs: number;
  endMs: number;
  /** The speech heard, dropouts left out. */
  speechMs: number;
}

/**
 * The lines the phone heard, each with its speech. The segmenter splits on 300 ms of
 * silence, so a line that reached the phone with a stall on the way (a loaded machine holding a
 * packet or two) comes out as several stretches: a line is every stretch up to a real pause.
 */
export function utterances(segments: SpeechSegment[]): Utterance[] {
  const lines: SpeechSegment[][] = [];
  for (const x of segments) {
    const line = lines.at(-1);
    if (line && x.startMs - line.at(-1)!.endMs < DROPOUT_MS) line.push(x);
    else lines.push([x]);
  }
  return lines.map((line) => ({
    startMs: line[0]!.startMs,
    endMs: line.at(-1)!.endMs,
    speechMs: line.reduce((sum, x) => sum + x.endMs - x.startMs, 0),
  }));
}

/** What the phone heard, for a failure message or a figure: `[[start, end], …]` in whole ms. */
export function segmentsText(segments: SpeechSegment[]): string {
  return JSON.stringify(segments.map((x) => [Math.round(x.startMs), Math.round(x.endMs)]));
}

export async function startPhone(stack: LiveStack, number: string, opts: { autoAnswer?: boolean; port?: number; mic?: Int16Array } = {}): Promise<BaresipPhone> {
  return BaresipPhone.start({ dir: join(stack.dir, 'phones', `${number.replace(/\W/g, '')}-${Date.now()}`), number, ...opts });
}

/** The phone calls the agent; resolves once the call is up and the greeting has been heard out. */
export async function dialAgent(stack: LiveStack, phone: BaresipPhone): Promise<{ since: number; established: PhoneEvent }> {
  const since = Date.now();
  await phone.dial(stack.sipUri);
  const established = await phone.waitForEvent('CALL_ESTABLISHED', 20_000);
  await heardOut(await agentSaid(stack, 'Thanks for calling', 20_000, since));
  return { since, established };
}

/** Waits until LiveKit has no rooms left, or fails listing the ones still there. */
export async function roomsGone(stack: LiveStack, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rooms = await stack.rooms().listRooms();
    if (rooms.length === 0) return;
    if (Date.now() > deadline) throw new Error(`rooms still open on the LiveKit server: ${rooms.map((r) => r.name).join(', ')}`);
    await sleep(200);
  }
}

/** The call record of the call in a room once the worker has finished it. */
export async function finishedCall(stack: LiveStack, timeoutMs = 20_000): Promise<Awaited<ReturnType<Store['calls']['list']>>[number]> {
  const s = await store(stack);
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [latest] = await s.calls.list({ limit: 1 });
      if (latest?.finished) return latest;
      if (Date.now() > deadline) throw new Error(`no finished call record within ${timeoutMs} ms (latest: ${JSON.stringify(latest)})`);
      await sleep(200);
    }
  } finally {
    await s.close();
  }
}

/** The next weekday at `hour` in the business zone, as the tools' local form (YYYY-MM-DDTHH:mm). */
export function nextWeekday(hour: number, zone = 'America/New_York'): { date: string; start: string } {
  let d = DateTime.now().setZone(zone).plus({ days: 1 });
  while (d.weekday > 5) d = d.plus({ days: 1 });
  const at = d.set({ hour, minute: 30, second: 0, millisecond: 0 });
  return { date: at.toFormat('yyyy-LL-dd'), start: at.toFormat("yyyy-LL-dd'T'HH:mm") };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
