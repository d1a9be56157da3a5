/**
 * The simulator's one way of waiting for something in a call: it ends when the thing happens,
 * when the call is over, or with its own error after the timeout, and stops watching every time.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { callWait } from '../src/simulate/callWait.js';

/** A watch whose `done` the test calls, counting how often it was stopped. */
function watched() {
  const w = { done: undefined as (() => void) | undefined, stopped: 0, started: 0 };
  const watch = (done: () => void) => {
    w.started++;
    w.done = done;
    return () => void w.stopped++;
  };
  return { w, watch };
}

describe('callWait', () => {
  it('resolves when the thing happens, and stops watching once', async () => {
    const { w, watch } = watched();
    const wait = callWait(watch, { timeoutMs: 1000, timeoutError: () => new Error('late') });
    w.done!();
    w.done!(); // a second report changes nothing
    await wait;
    assert.equal(w.stopped, 1);
  });

  it('resolves when the call is over, stops watching, and a later report is ignored', async () => {
    const { w, watch } = watched();
    const over = new AbortController();
    const wait = callWait(watch, { timeoutMs: 1000, timeoutError: () => new Error('late'), until: over.signal });
    over.abort();
    await wait;
    w.done!();
    assert.equal(w.stopped, 1);
  });

  it('fails with its own error after the timeout, and stops watching', async () => {
    const { w, watch } = watched();
    await assert.rejects(callWait(watch, { timeoutMs: 20, timeoutError: () => new Error('the agent never started speaking') }), /the agent never started speaking/);
    assert.equal(w.stopped, 1);
  });

  it('does not watch at all for a call already over', async () => {
    const { w, watch } = watched();
    const over = new AbortController();
    over.abort();
    await callWait(watch, { timeoutMs: 1000, timeoutError: () => new Error('late'), until: over.signal });
    assert.equal(w.started, 0);
  });

  it('stops watching when the thing has already happened while the watch was being set up', async () => {
    let stopped = 0;
    await callWait(
      (done) => {
        done();
        return () => void stopped++;
      },
      { timeoutMs: 1000, timeoutError: () => new Error('late') },
    );
    assert.equal(stopped, 1);
  });
});
