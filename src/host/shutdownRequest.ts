/**
 * The early word that the worker wants a job's call to end, given to the entry while it runs.
 *
 * The framework's job process, and our call host, which runs jobs the same way (jobRunner.ts),
 * end a job by waiting up to 15 s for its entry to return, then closing the session and leaving
 * the room, and only then running the shutdown callbacks. Our entry holds the call until it ends
 * (the goodbye, the room deletion and the record are one funnel), so a callback is too late: the
 * session the goodbye needs is closed by then, and the caller heard nothing (found on the real
 * stack: SIGTERM calls ran on until their silence timeout). The entry listens here instead.
 *
 * Two senders, one per executor: the call host calls `requestShutdown` for the job; the
 * framework's own process (CALLS_PER_PROCESS=1) gets its `shutdownRequest` IPC message, or loses
 * its worker (`disconnect`), and one process runs one job, so both reach every listener.
 */
import type { JobContext } from '@livekit/agents';

type Listener = (reason: string) => void;

const listeners = new WeakMap<JobContext, Set<Listener>>();

/** Calls `listener` once when this job is asked to end; returns the unsubscribe. */
export function onShutdownRequest(ctx: JobContext, listener: Listener): () => void {
  let fired = false;
  const once: Listener = (reason) => {
    if (fired) return;
    fired = true;
    stop();
    listener(reason);
  };
  const set = listeners.get(ctx) ?? new Set<Listener>();
  listeners.set(ctx, set);
  set.add(once);
  // The framework's job process protocol (ipc/job_proc_lazy_main): `{ case: 'shutdownRequest' }`.
  const onMessage = (msg: unknown) => {
    const m = msg as { case?: unknown; value?: { reason?: unknown } } | null;
    if (m?.case === 'shutdownRequest') once(typeof m.value?.reason === 'string' ? m.value.reason : 'shutdown request');
  };
  const onDisconnect = () => once('worker disconnected');
  process.on('message', onMessage);
  process.on('disconnect', onDisconnect);
  const stop = () => {
    set.delete(once);
    process.off('message', onMessage);
    process.off('disconnect', onDisconnect);
  };
  return stop;
}

/** Tells the job's entry it must end (the call host, before it waits for the entry). */
export function requestShutdown(ctx: JobContext, reason: string): void {
  for (const l of [...(listeners.get(ctx) ?? [])]) l(reason);
}
