/**
 * One LiveKit job inside a call host, run the way the framework's own job process runs it
 * (@livekit/agents ipc/job_proc_lazy_main): a Room and a JobContext of its own, the entry
 * function inside the job's async context, and on close: wait for the entry, close the primary
 * session, the framework's session-end step, leave the room, then the shutdown callbacks. A close
 * asked from outside is first told to the entry (shutdownRequest.ts).
 * What differs is only that the process outlives the job and holds others beside it.
 */
import { type AgentDefinition, IdleTimeoutError, JobContext, type JobProcess, type RunningJobInfo, type ipc, log, runWithJobContextAsync, telemetry, waitUntilTimeout } from '@livekit/agents';
import { Room, RoomEvent } from '@livekit/rtc-node';
import { requestShutdown } from './shutdownRequest.js';

export interface RunningJob {
  /** Ask the job to end (a shutdown request from the worker, or the host closing). */
  close(reason: string): void;
  /** Settles when everything for the job is done; rejects with the entry's error if it crashed. */
  readonly done: Promise<void>;
}

export interface JobRunnerOptions {
  entryShutdownMs: number;
  sessionCloseMs: number;
}

/** Waits for `p`, at most `ms`. True when it settled (either way) in time. */
function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  return waitUntilTimeout(p, ms).then(
    () => true,
    (err) => !(err instanceof IdleTimeoutError),
  );
}

export function runJob(
  agent: AgentDefinition,
  proc: JobProcess,
  info: RunningJobInfo,
  inference: ipc.InferenceExecutor,
  opts: JobRunnerOptions,
): RunningJob {
  const logger = log().child({ jobId: info.job.id, pid: process.pid });
  let closeWith!: (reason: string) => void;
  const closed = new Promise<string>((resolve) => (closeWith = resolve));
  let shuttingDown = false;

  const room = new Room();
  room.on(RoomEvent.Disconnected, () => {
    if (!shuttingDown) closeWith('room disconnected');
  });
  const ctx = new JobContext(proc, info, room, () => undefined, (reason) => {
    shuttingDown = true;
    closeWith(reason);
  }, inference);

  let crash: unknown;
  // The job's trace span, as the framework's job process opens it (the session's spans nest in it).
  const entry = runWithJobContextAsync(ctx, () =>
    telemetry.tracer.startActiveSpan(
      async (span) => {
        span.setAttribute(telemetry.traceTypes.ATTR_JOB_ID, info.job.id);
        span.setAttribute(telemetry.traceTypes.ATTR_AGENT_NAME, info.job.agentName);
        span.setAttribute(telemetry.traceTypes.ATTR_ROOM_NAME, info.job.room?.name ?? '');
        return agent.entry(ctx);
      },
      { name: 'job_entrypoint' },
    ),
  );
  entry.catch((err) => {
    crash = err;
    logger.error({ error: err }, 'job entry failed');
    closeWith('job crashed');
  });

  const done = (async () => {
    const reason = await closed;
    shuttingDown = true;
    logger.debug({ reason }, 'job closing');
    if (!(await within(entry, opts.entryShutdownMs))) logger.warn('entry did not return in time; closing the session anyway');
    const session = ctx._primaryAgentSession;
    if (session && !(await within(session.close(), opts.sessionCloseMs))) logger.error('AgentSession.close() timed out');
    await runWithJobContextAsync(ctx, () => ctx._onSessionEnd()).catch((error) => logger.error({ error }, 'session end step failed'));
    await room.disconnect().catch((error) => logger.error({ error }, 'leaving the room failed'));
    const results = await Promise.allSettled(ctx.shutdownCallbacks.map((cb) => Promise.resolve().then(cb)));
    for (const r of results) if (r.status === 'rejected') logger.error({ error: r.reason }, 'shutdown callback failed');
    if (crash !== undefined) throw crash;
  })();

  return {
    // Before the wait for the entry: an entry that holds the call learns now, while its session
    // can still say goodbye (shutdownRequest.ts). Not on a room disconnect: that is the caller's.
    close: (reason) => {
      requestShutdown(ctx, reason);
      closeWith(reason);
    },
    done,
  };
}
