/**
 * A call host: one long-lived Node process that runs several calls (LiveKit jobs) at once.
 *
 * The framework forks a fresh process for every job, so every call pays again for Node, the
 * framework, the native WebRTC and ONNX runtimes, the Silero model and a cold JIT: about 200 MB
 * and a second or more of CPU per call. A host pays for them once: the agent's prewarm (the VAD)
 * runs once and its result is shared by every call in the process, as the framework's own
 * process does for its one job. Jobs are run by jobRunner.ts exactly as the framework's job
 * process runs them.
 *
 * Lifecycle: `init` → prewarm → `ready`; then `start`/`shutdown` per job, `done` per job. On
 * `close`, or when the worker goes away (IPC disconnect), every job is asked to end the way a
 * worker shutdown ends it (the calls say goodbye and delete their rooms), then the native
 * resources are disposed and the process exits.
 *
 * Run by hostPool.ts (fork), never by hand.
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { type AgentDefinition, JobProcess, initializeLogger, type ipc, isAgent, log } from '@livekit/agents';
import { redactFrameworkLogs } from '../privacy/logRedaction.js';
import { dispose } from '@livekit/rtc-node';
import { forwardMetrics } from '../observe/metrics.js';
import { type RunningJob, runJob } from './jobRunner.js';
import { type FromHost, type HostInit, type ToHost, isHostMessage } from './protocol.js';

function send(msg: FromHost): void {
  if (process.connected) process.send?.(msg);
}

/** Inference requests (e.g. a turn-detector model) go to the worker's shared inference process. */
class InferenceOverIpc implements ipc.InferenceExecutor {
  private next = 0;
  private readonly pending = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  answer(m: Extract<ToHost, { host: 'inferenceResponse' }>): void {
    const p = this.pending.get(m.requestId);
    this.pending.delete(m.requestId);
    if (m.error !== undefined) p?.reject(new Error(`inference failed: ${m.error}`));
    else p?.resolve(m.data);
  }

  doInference(method: string, data: unknown): Promise<unknown> {
    const requestId = `inf_${process.pid}_${this.next++}`;
    return new Promise((resolve, reject) => {
      if (!process.connected) return reject(new Error(`inference ${method}: the worker is gone`));
      this.pending.set(requestId, { resolve, reject });
      send({ host: 'inferenceRequest', requestId, method, data });
    });
  }
}

async function loadAgent(file: string): Promise<AgentDefinition> {
  const mod = await import(pathToFileURL(file).href);
  const agent = isAgent(mod.default) ? mod.default : mod.default?.default;
  if (!isAgent(agent)) throw new Error(`${file} has no agent as its default export`);
  return agent;
}

async function main(): Promise<void> {
  // Ctrl-C reaches the whole process group; the worker decides how we stop (as the framework's job processes do).
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => undefined);

  const init = await new Promise<HostInit>((resolve) => {
    const first = (m: unknown) => {
      if (isHostMessage(m) && m.host === 'init') {
        process.off('message', first);
        resolve(m as HostInit);
      }
    };
    process.on('message', first);
  });
  initializeLogger(init.logger);
  redactFrameworkLogs();
  // Nobody scrapes a host: what its calls measure goes to the worker's registry.
  const metrics = forwardMetrics((ops) => send({ host: 'metrics', ops }));
  const logger = log().child({ pid: process.pid, host: true });
  const agent = await loadAgent(init.agentModule);
  const proc = new JobProcess();
  const t = performance.now();
  await agent.prewarm?.(proc);
  const inference = new InferenceOverIpc();
  const jobs = new Map<string, RunningJob>();
  let closing = false;
  let allDone: (() => void) | undefined;

  const closeAll = (reason: string) => {
    if (closing) return;
    closing = true;
    logger.info({ jobs: jobs.size, reason }, 'call host closing');
    for (const job of jobs.values()) job.close(reason);
  };
  const finished = new Promise<void>((resolve) => (allDone = resolve));
  const checkFinished = () => {
    if (closing && jobs.size === 0) allDone?.();
  };

  process.on('message', (m: unknown) => {
    if (!isHostMessage(m)) return;
    const msg = m as ToHost;
    switch (msg.host) {
      case 'start': {
        if (closing || jobs.has(msg.jobId)) {
          send({ host: 'done', jobId: msg.jobId, error: closing ? 'call host is closing' : 'job already running here' });
          return;
        }
        const job = runJob(agent, proc, msg.info, inference, init);
        jobs.set(msg.jobId, job);
        job.done.then(
          () => send({ host: 'done', jobId: msg.jobId }),
          (err) => send({ host: 'done', jobId: msg.jobId, error: (err as Error)?.message ?? String(err) }),
        ).finally(() => {
          jobs.delete(msg.jobId);
          checkFinished();
        });
        return;
      }
      case 'shutdown':
        jobs.get(msg.jobId)?.close(msg.reason);
        return;
      case 'close':
        closeAll('shutdown request');
        checkFinished();
        return;
      case 'inferenceResponse':
        inference.answer(msg);
        return;
    }
  });
  // The worker died or went away: nobody will send `close`, so end the calls ourselves.
  process.on('disconnect', () => {
    closeAll('worker disconnected');
    checkFinished();
  });
  process.on('unhandledRejection', (reason) => logger.debug({ error: reason }, 'unhandled rejection in call host'));

  setInterval(() => send({ host: 'stats', rssBytes: process.memoryUsage.rss(), jobs: jobs.size }), init.statsEveryMs).unref();
  send({ host: 'ready', pid: process.pid, prewarmMs: performance.now() - t });
  await finished;
  metrics.flush();
  // Native FFI threads must stop before exit (see @livekit/rtc-node dispose()).
  await dispose().catch((error) => logger.warn({ error }, 'dispose failed'));
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(`call host ${process.pid}: ${(err as Error)?.stack ?? err}\n`);
  process.exit(1);
});
