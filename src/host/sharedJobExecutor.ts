/**
 * The framework's JobExecutor, backed by a slot in a call host (hostPool.ts) instead of a process
 * of its own. The framework's ProcPool drives it exactly as it drives its forked executor:
 * start + initialize (here: reserve a slot in a warm host), launchJob, join, close. Plugged in
 * with `ServerOptions.jobExecutorFactory` (a seam added by patches/@livekit+agents+1.9.0.patch).
 */
import { type JobExecutor, type JobExecutorOptions, JobStatus, type RunningJobInfo, log, waitUntilTimeout } from '@livekit/agents';
import type { HostPool, Slot } from './hostPool.js';

export class SharedJobExecutor implements JobExecutor {
  started = false;
  userArguments: unknown;
  runningJob: RunningJobInfo | undefined;
  private jobStatus: JobStatus | undefined;
  private slot: Slot | undefined;
  private joined!: () => void;
  private readonly joinPromise = new Promise<void>((r) => (this.joined = r));
  private ended: Promise<void> | undefined;
  private closing = false;

  constructor(
    private readonly pool: HostPool,
    private readonly opts: Pick<JobExecutorOptions, 'closeTimeout'>,
  ) {}

  get status(): JobStatus {
    if (this.jobStatus === undefined) throw new Error('job status not available');
    return this.jobStatus;
  }

  /** Which host process runs (or will run) this job. */
  get pid(): number | undefined {
    return this.slot?.host.pid;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.slot = await this.pool.reserve();
    this.started = true;
  }

  async initialize(): Promise<void> {
    if (!this.slot) throw new Error('executor not started');
    await this.slot.host.ready;
  }

  async launchJob(info: RunningJobInfo): Promise<void> {
    if (this.runningJob) throw new Error('executor already has a running job');
    if (this.closing) throw new Error('executor is closing');
    // A warm slot whose host has since died is worth nothing: take a fresh one.
    if (!this.slot || !this.slot.host.alive) this.slot = await this.pool.reserve();
    this.runningJob = info;
    this.jobStatus = JobStatus.RUNNING;
    this.ended = this.slot.launch(info).then((end) => {
      this.jobStatus = end.error === undefined ? JobStatus.SUCCESS : JobStatus.FAILED;
      if (end.error !== undefined) log().child({ jobId: info.job.id }).error({ error: end.error }, 'job ended with an error');
      this.joined();
    });
  }

  join(): Promise<void> {
    return this.joinPromise;
  }

  async close(): Promise<void> {
    this.closing = true;
    if (!this.runningJob || !this.ended) {
      this.slot?.release();
      this.joined();
      return;
    }
    this.slot!.shutdown(this.runningJob.job.id, 'shutdown request');
    const inTime = await waitUntilTimeout(this.ended, this.opts.closeTimeout).then(() => true, () => false);
    // The host keeps running the call (its own lifecycle still ends it and deletes the room);
    // the framework only stops waiting for it.
    if (!inTime) log().child({ jobId: this.runningJob.job.id }).warn('job did not end within the close timeout');
  }
}

/** `ServerOptions.jobExecutorFactory`: every job the framework launches gets a slot in `pool`. */
export function sharedExecutorFactory(pool: HostPool): (opts: JobExecutorOptions) => JobExecutor {
  return (opts) => {
    pool.inference ??= opts.inferenceExecutor;
    return new SharedJobExecutor(pool, opts);
  };
}
