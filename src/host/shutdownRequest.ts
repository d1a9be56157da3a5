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
/** Every job's listener in this process, for the process-wide signals. */
const everyone = new Set<Listener>();
let installed = false;

/**
 * One listener per process, not per job: a call host runs 13 calls, and a pair of process
 * listeners each tripped Node's MaxListeners warning (seen in bench:rooms). The call host's own
 * messages carry `host:`, never `case:`, so a shutdownRequest here is always the framework's, to
 * a process that runs one job.
 */
function installProcessListeners(): void {
  if (installed) return;
  installed = true;
  // The framework's job process protocol (ipc/job_proc_lazy_main): `{ case: 'shutdownRequest' }`.
  process.on('message', (msg: unknown) => {
    const m = msg as { case?: unknown; value?: { reason?: unknown } } | null;
    if (m?.case !== 'shutdownRequest') return;
    const reason = typeof m.value?.reason === 'string' ? m.value.reason : 'shutdown request';
    for (const l of [...everyone]) l(reason);
  });
  process.on('disconnect', () => {
    for (const l of [...everyone]) l('worker disconnected');
  });
}

/** Calls `listener` once when this job is asked to end; returns the unsubscribe. */
export function onShutdownRequest(ctx: JobContext, listener: Listener): () => void {
  installProcessListeners();
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
  everyone.add(once);
  const stop = () => {
    set.delete(once);
    everyone.delete(once);
  };
  return stop;
}

/** Tells the job's entry it must end (the call host, before it waits for the entry). */
export function requestShutdown(ctx: JobContext, reason: string): void {
  for (const l of [...(listeners.get(ctx) ?? [])]) l(reason);
}
