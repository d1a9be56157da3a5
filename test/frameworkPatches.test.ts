/**
 * What patches/ changes in the framework and plugins, checked on the real packages as installed
 * (so a missing or stale patch fails here): the audio helpers give the same frames as before,
 * stream tasks start in the same loop turn, Cartesia audio comes out in 20 ms frames as soon as
 * it arrives, caller audio reaches Deepgram in 20 ms chunks, an rtc-node Room handles only its
 * own FFI events, and a server told so starts no end-of-turn model.
 */
import { AgentServer, AudioByteStream, InferenceRunner, ServerOptions, initializeLogger, mergeFrames, startSoon, tts } from '@livekit/agents';
import * as cartesia from '@livekit/agents-plugin-cartesia';
import * as deepgram from '@livekit/agents-plugin-deepgram';
import { AudioFrame, Room, RoomEvent, dispose } from '@livekit/rtc-node';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CartesiaEmulator } from '../src/sandbox/cartesiaEmulator.js';
import { DeepgramEmulator } from '../src/sandbox/deepgramEmulator.js';
import { prng, speechDurationMs, splitFrames, synthesizeSpeech } from '../src/sandbox/speechSignal.js';

initializeLogger({ pretty: false, level: 'fatal' });

describe('framework patches', { timeout: 60_000 }, () => {
  after(async () => dispose());

  it('AudioByteStream cuts any chunking of a byte stream into the same frames, and flush returns the rest', () => {
    const rand = prng(7);
    const total = new Int16Array(8000 * 3 + 37); // not a whole number of frames
    for (let i = 0; i < total.length; i++) total[i] = Math.round((rand() - 0.5) * 60000);
    const bytes = new Uint8Array(total.buffer);
    for (const chunking of ['bytes', 'odd', 'big'] as const) {
      const bs = new AudioByteStream(8000, 1, 160);
      const frames: AudioFrame[] = [];
      let at = 0;
      while (at < bytes.length) {
        const n = chunking === 'bytes' ? 1 + Math.floor(rand() * 7) : chunking === 'odd' ? 1 + 2 * Math.floor(rand() * 400) : 5000 + Math.floor(rand() * 9000);
        // A view into a larger buffer at an offset, as Buffers from a socket are.
        frames.push(...bs.write(bytes.subarray(at, Math.min(at + n, bytes.length))));
        at += n;
      }
      frames.push(...bs.flush());
      assert.ok(frames.slice(0, -1).every((f) => f.samplesPerChannel === 160 && f.data.length === 160), chunking);
      assert.equal(frames.at(-1)!.samplesPerChannel, total.length % 160, `${chunking}: the remainder`);
      const joined = new Int16Array(frames.reduce((n, f) => n + f.data.length, 0));
      let o = 0;
      for (const f of frames) {
        joined.set(f.data, o);
        o += f.data.length;
      }
      assert.deepEqual(joined, total, chunking);
    }
  });

  it('startSoon runs a stream task in the same loop turn, not after the next timers', async () => {
    // LLM, STT and TTS streams start their run() with startSoon. From an I/O callback (as a
    // transcript arriving on a socket is), setImmediate runs before any timer; setTimeout(0),
    // the unpatched startSoon, runs after the timers already due and at least 1 ms later.
    const order = await new Promise<string[]>((resolve) => {
      readFile(import.meta.filename, () => {
        const seen: string[] = [];
        setTimeout(() => {
          seen.push('timer');
          if (seen.length === 2) resolve(seen);
        }, 0);
        startSoon(() => {
          seen.push('startSoon');
          if (seen.length === 2) resolve(seen);
        });
      });
    });
    assert.deepEqual(order, ['startSoon', 'timer']);
  });

  it('mergeFrames concatenates frames in order', () => {
    const frames = [1, 2, 3].map((k) => new AudioFrame(Int16Array.from({ length: 80 * k }, (_, i) => k * 1000 + i), 8000, 1, 80 * k));
    const merged = mergeFrames(frames);
    assert.equal(merged.samplesPerChannel, 480);
    assert.deepEqual([...merged.data], frames.flatMap((f) => [...f.data]));
    assert.throws(() => mergeFrames([frames[0]!, new AudioFrame(new Int16Array(160), 16000, 1, 160)]), /sample rate mismatch/);
  });

  it('Cartesia streaming TTS gives 20 ms frames at 8 kHz, the whole utterance, nothing lost', async () => {
    const emu = new CartesiaEmulator({ realtimeFactor: 10 });
    await emu.start();
    const engine = new cartesia.TTS({ baseUrl: emu.url, apiKey: 'test-not-a-key', sampleRate: 8000 });
    try {
      const stream = engine.stream({ connOptions: { maxRetry: 0, retryIntervalMs: 0, timeoutMs: 5000 } });
      const text = 'Thanks for calling Riverside Clinic.';
      stream.pushText(text);
      stream.flush();
      stream.endInput();
      const sizes: number[] = [];
      for await (const a of stream) {
        if (a === tts.SynthesizeStream.END_OF_STREAM) break;
        sizes.push(a.frame.samplesPerChannel);
      }
      assert.ok(sizes.length > 10);
      assert.ok(sizes.slice(0, -1).every((n) => n === 160), `frame sizes ${[...new Set(sizes)].join(',')}`);
      assert.equal(sizes.reduce((a, b) => a + b, 0), Math.round((speechDurationMs(text) * 8000) / 1000));
    } finally {
      await engine.close();
      await emu.close();
    }
  });

  it('Cartesia streaming TTS passes on every frame of a chunk when the chunk arrives, not one chunk later', async () => {
    // 60 ms chunks at half real time: the next chunk comes 120 ms after the one before.
    const emu = new CartesiaEmulator({ realtimeFactor: 0.5, chunkMs: 60 });
    await emu.start();
    const engine = new cartesia.TTS({ baseUrl: emu.url, apiKey: 'test-not-a-key', sampleRate: 8000 });
    try {
      const stream = engine.stream({ connOptions: { maxRetry: 0, retryIntervalMs: 0, timeoutMs: 5000 } });
      stream.pushText('Thanks for calling.');
      stream.flush();
      stream.endInput();
      const arrivals: number[] = [];
      for await (const a of stream) {
        if (a === tts.SynthesizeStream.END_OF_STREAM) break;
        arrivals.push(performance.now());
        if (arrivals.length === 6) break;
      }
      const withFirstChunk = arrivals.filter((t) => t - arrivals[0]! < 60).length;
      // Holding back the last frame of each chunk (the unpatched plugin) gives 2 here.
      assert.equal(withFirstChunk, 3, `frames within 60 ms of the first: ${arrivals.map((t) => Math.round(t - arrivals[0]!)).join(', ')}`);
    } finally {
      await engine.close();
      await emu.close();
    }
  });

  it('Deepgram STT sends caller audio in 20 ms chunks, as it arrives from the phone leg', async () => {
    const emu = new DeepgramEmulator();
    await emu.start();
    const engine = new deepgram.STT({ baseUrl: emu.url, apiKey: 'test-not-a-key', sampleRate: 8000 });
    const stream = engine.stream();
    try {
      const pcm = synthesizeSpeech('one two three four five', { sampleRate: 8000 });
      let pushed = 0;
      for (const f of splitFrames(pcm, 8000, 20)) {
        stream.pushFrame(new AudioFrame(f, 8000, 1, f.length));
        pushed += f.length;
      }
      // Whole 20 ms chunks go out at once; a rest would wait in the plugin for more audio or a flush.
      const whole = Math.floor(pushed / 160) * 160 * 2;
      const deadline = Date.now() + 5000;
      while ((emu.connections[0]?.audioBytes ?? 0) < whole && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 100));
      const rec = emu.connections[0]!;
      assert.equal(rec.audioBytes, whole);
      assert.equal(rec.audioBytes / rec.audioMessages, 320, '160 samples × 2 bytes per message');
    } finally {
      stream.close();
      await engine.close();
      await emu.close();
    }
  });

  it("an rtc-node Room processes its own FFI events in order and lets other rooms' pass without waiting", async () => {
    // Every FFI event of the process reaches every Room's listener. The room's state is set as
    // connect() leaves it; the events are shaped as the FFI's protobuf messages are read.
    const room = new Room() as unknown as {
      onFfiEvent: (ev: unknown) => Promise<void>;
      ffiEventLock: { lock(): Promise<() => void> };
      ffiHandle: { handle: bigint };
      info: { metadata: string };
      localParticipant: { ffi_handle: { handle: bigint } };
      on(ev: string, f: (m: string) => void): void;
    };
    room.ffiHandle = { handle: 5n };
    room.info = { metadata: '' };
    room.localParticipant = { ffi_handle: { handle: 6n } };
    const seen: string[] = [];
    room.on(RoomEvent.RoomMetadataChanged, (m) => seen.push(m));
    const metadata = (roomHandle: bigint, metadata: string) => ({
      message: { case: 'roomEvent', value: { roomHandle, message: { case: 'roomMetadataChanged', value: { metadata } } } },
    });
    const audio = { message: { case: 'audioStreamEvent', value: { streamHandle: 9n, message: { case: 'frameReceived', value: {} } } } };

    // While the room is busy with an event of its own (its lock held), another room's event and an
    // audio frame return at once: they used to queue behind the lock, once per room in the process.
    const unlock = await room.ffiEventLock.lock();
    const own = [room.onFfiEvent(metadata(5n, 'first')), room.onFfiEvent(metadata(5n, 'second'))];
    let othersDone = false;
    const others = Promise.all([room.onFfiEvent(metadata(7n, 'not ours')), room.onFfiEvent(audio)]).then(() => (othersDone = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(othersDone, true, "another room's events waited on this room's lock");
    assert.deepEqual(seen, [], 'own events wait for the lock');
    unlock();
    await Promise.all([...own, others]);
    assert.deepEqual(seen, ['first', 'second'], 'own events, in order; nothing of the other room');
  });

  it('a server with localAudioEot false registers no end-of-turn runner, so no inference process starts; by default it does', () => {
    // The inference process starts only when some runner is registered (createIfNeeded), and the
    // framework registers its audio end-of-turn model, ~250 MB once loaded, in the constructor.
    const options = (more: object) =>
      new ServerOptions({ agent: join(import.meta.dirname, 'fixtures', 'host', 'agent.js'), wsURL: 'ws://127.0.0.1:1', apiKey: 'devkey', apiSecret: 'secret', ...more });
    const runners = () => Object.keys(InferenceRunner.registeredRunners);
    assert.deepEqual(runners(), []);
    new AgentServer(new ServerOptions({ ...options({ localAudioEot: false }) })); // cli.runApp copies the options like this
    assert.deepEqual(runners(), [], 'localAudioEot: false still registered a runner');
    new AgentServer(options({}));
    assert.deepEqual(runners(), ['lk_eot_audio'], 'unset, the framework registers its model as before');
  });
});
