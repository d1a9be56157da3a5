/**
 * How the simulator waits for something in a call (the agent to speak, to finish its turn, to
 * press keys): `watch` starts watching and calls `done` when it happens; the wait also ends, as
 * done, when `until` aborts (the call is over: there is nothing left to wait for), and fails with
 * `timeoutError()` after `timeoutMs`. What `watch` returns stops the watching, however the wait ends.
 */
export function callWait(
  watch: (done: () => void) => () => void,
  opts: { timeoutMs: number; timeoutError: () => Error; until?: AbortSignal },
): Promise<void> {
  const { timeoutMs, timeoutError, until } = opts;
  if (until?.aborted) return Promise.resolve();
  return new Promise((resolve, reject) => {
    let ended = false;
    let unwatch: (() => void) | undefined;
    const end = (err?: Error) => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      until?.removeEventListener('abort', onAbort);
      unwatch?.();
      if (err) reject(err);
      else resolve();
    };
    const onAbort = () => end();
    const timer = setTimeout(() => end(timeoutError()), timeoutMs);
    until?.addEventListener('abort', onAbort, { once: true });
    const stop = watch(() => end());
    // `done` may come while `watch` is still setting up (it already happened): stop at once.
    if (ended) stop();
    else unwatch = stop;
  });
}
