/**
 * The worker's own start-up and its job-level failure path. (What happens inside a call is
 * covered by the scenarios; this is what happens around one.)
 */
import './helpers/logger.js';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { abortCall } from '../src/call/callLifecycle.js';
import { joinOrEnd } from '../src/call/joinRoom.js';
import { MetadataError, parseJobMetadata } from '../src/call/jobMetadata.js';
import { livekitRoomApi } from '../src/livekit/roomApi.js';
import { LiveKitApiEmulator } from '../src/sandbox/livekitApi.js';
import { openStore } from '../src/store/index.js';

const WORKER = join(import.meta.dirname, '..', 'src', 'worker.js');

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('worker start-up', () => {
  it('without a LiveKit server, says which URL it is waiting for, and keeps waiting', async () => {
    const port = await closedPort();
    const child = spawn(process.execPath, [WORKER, 'start'], {
      env: {
        PATH: process.env.PATH,
        HOME: tmpdir(),
        LIVEKIT_URL: `ws://127.0.0.1:${port}`,
        DEEPGRAM_API_KEY: 'test-key',
        OPENAI_API_KEY: 'test-key',
        CARTESIA_API_KEY: 'test-key',
      },
      cwd: tmpdir(),
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const deadline = Date.now() + 20_000;
    while (!stderr.includes('Waiting for a LiveKit server') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    // Still running three seconds later: it waits rather than crashing or giving up.
    const early = await Promise.race([exited, new Promise((r) => setTimeout(() => r('running'), 3000))]);
    child.kill('SIGTERM');
    await exited;
    assert.match(stderr, new RegExp(`Waiting for a LiveKit server at ws://127\\.0\\.0\\.1:${port} \\(LIVEKIT_URL\\)`));
    assert.match(stderr, /npm run simulate/);
    assert.equal(early, 'running');
    assert.ok(!stderr.includes('test-key'));
  });
});

describe('a job that cannot become a call', () => {
  let lk: LiveKitApiEmulator;
  before(async () => {
    lk = new LiveKitApiEmulator();
    await lk.start();
  });
  after(async () => {
    await lk.close();
  });

  it('malformed metadata: the error is recorded with the bad field, and the room is deleted once', async () => {
    const store = await openStore(':memory:');
    lk.joinParticipant('job-room-1', { identity: 'agent', kind: 'agent' });
    let err: MetadataError | undefined;
    try {
      parseJobMetadata(JSON.stringify({ kind: 'outbound', phoneNumber: 'call me maybe', contact: { name: 'Ana' } }));
    } catch (e) {
      err = e as MetadataError;
    }
    assert.ok(err instanceof MetadataError);
    const result = await abortCall(
      { callId: 'c-bad', room: 'job-room-1', direction: 'outbound', callerNumber: null },
      { store, roomApi: livekitRoomApi(lk.env() as never) },
      err.message,
    );
    assert.equal(result.roomDeleted, true);
    assert.equal(lk.count('DeleteRoom', { room: 'job-room-1' }), 1);
    const rec = await store.calls.get('c-bad');
    assert.equal(rec?.finished, true);
    assert.equal(rec?.outcome?.kind, 'error');
    assert.match(rec?.outcome?.kind === 'error' ? rec.outcome.error : '', /phoneNumber: must be E\.164/);
    await store.close();
  });

  it('a room the agent cannot join is deleted (the phone would ring on) and the record says why', async () => {
    const store = await openStore(':memory:');
    const roomApi = livekitRoomApi(lk.env() as never);
    lk.joinParticipant('job-room-2', { identity: 'sip_+14155550100', kind: 'sip' });
    const setup = { callId: 'c-nojoin', room: 'job-room-2', direction: 'inbound' as const, callerNumber: null };
    const joined = await joinOrEnd(async () => {
      throw new Error('handle not found (ReadyForRoomEvent)');
    }, setup, { store, roomApi });
    assert.equal(joined, false);
    assert.equal(lk.count('DeleteRoom', { room: 'job-room-2' }), 1);
    const rec = await store.calls.get('c-nojoin');
    assert.deepEqual(rec?.outcome, { kind: 'error', error: 'the agent could not join the room: handle not found (ReadyForRoomEvent)' });

    // A join that works touches nothing.
    lk.joinParticipant('job-room-3', { identity: 'sip_+14155550101', kind: 'sip' });
    assert.equal(await joinOrEnd(async () => undefined, { ...setup, callId: 'c-ok', room: 'job-room-3' }, { store, roomApi }), true);
    assert.equal(lk.count('DeleteRoom', { room: 'job-room-3' }), 0);
    assert.equal(await store.calls.get('c-ok'), undefined);
    await store.close();
  });
});
