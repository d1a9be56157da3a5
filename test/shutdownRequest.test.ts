// The early shutdown word for a job's entry (src/host/shutdownRequest.ts) in the framework's own
// job process, where it arrives as the framework's IPC message or as the worker going away.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JobContext } from '@livekit/agents';
import { onShutdownRequest, requestShutdown } from '../src/host/shutdownRequest.js';

const fakeCtx = () => ({}) as JobContext;

describe('shutdown requests to a running entry', () => {
  it("hears the framework's shutdownRequest message once, with its reason, and nothing after unsubscribing", () => {
    const heard: string[] = [];
    const ctx = fakeCtx();
    onShutdownRequest(ctx, (r) => heard.push(r));
    process.emit('message', { case: 'pingRequest', value: { timestamp: 1 } }, undefined);
    process.emit('message', { case: 'shutdownRequest', value: { reason: 'worker closing' } }, undefined);
    process.emit('message', { case: 'shutdownRequest', value: {} }, undefined);
    requestShutdown(ctx, 'again');
    assert.deepEqual(heard, ['worker closing']);

    const later: string[] = [];
    const stop = onShutdownRequest(fakeCtx(), (r) => later.push(r));
    stop();
    process.emit('message', { case: 'shutdownRequest', value: {} }, undefined);
    assert.deepEqual(later, []);
  });

  it('a host of 13 calls adds no process listener per call (Node warns past 10)', () => {
    onShutdownRequest(fakeCtx(), () => undefined)();
    const before = [process.listenerCount('message'), process.listenerCount('disconnect')];
    const stops = Array.from({ length: 13 }, () => onShutdownRequest(fakeCtx(), () => undefined));
    assert.deepEqual([process.listenerCount('message'), process.listenerCount('disconnect')], before);
    for (const stop of stops) stop();
  });

  it('a request for one job reaches only that job; losing the worker reaches all', () => {
    const heard: string[] = [];
    const a = fakeCtx();
    const b = fakeCtx();
    onShutdownRequest(a, (r) => heard.push(`a:${r}`));
    onShutdownRequest(b, (r) => heard.push(`b:${r}`));
    requestShutdown(a, 'shutdown request');
    assert.deepEqual(heard, ['a:shutdown request']);
    process.emit('disconnect');
    assert.deepEqual(heard, ['a:shutdown request', 'b:worker disconnected']);
  });
});
