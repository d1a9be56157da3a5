/**
 * The worker's side of call hosts: starts host processes, places calls in them, and notices when
 * one dies. Calls first spread over up to `spreadAcross` processes (one per core by default),
 * then go to the least loaded host that has room; a further host starts only when every host is
 * full. Capacity is
 * counted when a slot is reserved, not when its job starts, so the framework's warm executors
 * (numIdleProcesses) keep that many free slots ready and a new host is started before it is
 * needed, not when a call is already waiting.
 *
 * A host that has served `maxJobsPerHost` jobs, or whose resident memory passed `memoryLimitMB`,
 * takes no more calls and exits once its calls have ended (the framework's per-job memory limit
 * cannot apply to a process that holds many jobs, so this takes its place: no call is cut, the
 * process is replaced). A host left empty for `idleHostMs` while another host is up is closed.
 *
 * When a host dies with calls in it, each lost job is reported (`onJobLost`): those calls can no
 * longer end themselves, so the worker deletes their rooms.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RunningJobInfo, type ipc, log, loggerOptions, waitUntilTimeout } from '@livekit/agents';
import { type HostStats, type MetricOp, processMetrics } from '../observe/metrics.js';
import { type FromHost, type HostInit, type ToHost, isHostMessage } from './protocol.js';

export interface HostPoolOptions {
  /** Module whose default export is the agent; each host imports it and runs its prewarm once. */
  agentModule: string;
  callsPerHost: number;
  /**
   * Processes to spread calls over before packing them (default: the machine's cores). A host is
   * one thread of JavaScript: two calls on a two-core machine belong in two processes.
   */
  spreadAcross?: number;
  /** Default: the framework's logger options in this process when a host starts. */
  logger?: HostInit['logger'];
  initializeTimeoutMs?: number;
  entryShutdownMs?: number;
  sessionCloseMs?: number;
  maxJobsPerHost?: number;
  /** Resident memory past which a host is retired (0: no limit). */
  memoryLimitMB?: number;
  /** How often hosts report their memory. */
  statsEveryMs?: number;
  idleHostMs?: number;
  /** Where the framework's shared inference process answers (a turn-detector model); the worker starts none (`localAudioEot: false`). */
  inference?: ipc.InferenceExecutor;
  execArgv?: string[];
  env?: NodeJS.ProcessEnv;
  /** Keep hosts from holding the worker's process open (the worker's own exit ends them). */
  unref?: boolean;
}

type JobEnd = { error?: string };

const metricSource = (host: Host) => `host-${host.pid}`;

function applyMetric(op: MetricOp, host: Host): void {
  try {
    processMetrics().apply(op, metricSource(host));
  } catch (err) {
    log().debug({ pid: host.pid, error: (err as Error).message }, 'a call host sent a metric this worker does not know');
  }
}

export class Host {
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly ready: Promise<void>;
  readonly exited: Promise<number | null>;
  /** Reserved slots not yet running a job, plus running jobs. */
  load = 0;
  served = 0;
  retiring = false;
  /** Resident memory at the host's last report. */
  rssBytes = 0;
  alive = true;
  prewarmMs = 0;
  readonly jobs = new Map<string, { info: RunningJobInfo; end: (e: JobEnd) => void }>();
  idleTimer?: NodeJS.Timeout;

  constructor(proc: ChildProcess, ready: Promise<void>, exited: Promise<number | null>) {
    this.proc = proc;
    this.pid = proc.pid!;
    this.ready = ready;
    this.exited = exited;
  }

  send(msg: ToHost | Record<string, unknown>): void {
    if (this.alive && this.proc.connected) this.proc.send(msg);
  }
}

/** A reserved place for one call in a host. */
export class Slot {
  private state: 'reserved' | 'running' | 'released' = 'reserved';
  constructor(
    readonly host: Host,
    private readonly pool: HostPool,
  ) {}

  /** Starts the job; resolves when it has ended (with its error, if it failed or its host died). */
  launch(info: RunningJobInfo): Promise<JobEnd> {
    if (this.state !== 'reserved') throw new Error(`slot is ${this.state}`);
    if (!this.host.alive) throw new Error(`call host ${this.host.pid} is gone`);
    this.state = 'running';
    const jobId = info.job.id;
    return new Promise<JobEnd>((resolve) => {
      this.host.jobs.set(jobId, {
        info,
        end: (e) => {
          this.host.jobs.delete(jobId);
          this.state = 'released';
          this.pool.freed(this.host);
          resolve(e);
        },
      });
      this.host.send({ host: 'start', jobId, info } satisfies ToHost);
    });
  }

  shutdown(jobId: string, reason: string): void {
    this.host.send({ host: 'shutdown', jobId, reason } satisfies ToHost);
  }

  /** Gives back a slot that never ran a job. */
  release(): void {
    if (this.state !== 'reserved') return;
    this.state = 'released';
    this.pool.freed(this.host);
  }
}

export class HostPool extends EventEmitter<{
  /** A message on a host's channel that is not host protocol (a benchmark's own traffic). */
  message: [host: Host, msg: unknown];
  'host-ready': [host: Host];
  'host-exit': [host: Host, code: number | null];
  'job-lost': [info: RunningJobInfo, reason: string];
}> {
  readonly hosts: Host[] = [];
  private closed = false;
  private readonly opts: Required<Omit<HostPoolOptions, 'inference' | 'execArgv' | 'env' | 'logger'>> & Pick<HostPoolOptions, 'inference' | 'execArgv' | 'env' | 'logger'>;
  /** The framework's shared inference process, once the framework has handed it over. */
  inference: ipc.InferenceExecutor | undefined;

  constructor(opts: HostPoolOptions) {
    super();
    if (!Number.isInteger(opts.callsPerHost) || opts.callsPerHost < 1) throw new Error(`callsPerHost must be a whole number ≥ 1 (got ${opts.callsPerHost})`);
    this.opts = {
      initializeTimeoutMs: 30_000,
      entryShutdownMs: 15_000,
      sessionCloseMs: 60_000,
      maxJobsPerHost: 500,
      memoryLimitMB: 0,
      statsEveryMs: 5000,
      idleHostMs: 60_000,
      unref: false,
      spreadAcross: availableParallelism(),
      ...opts,
    };
    this.inference = opts.inference;
  }

  /** Reserves a place for one call, starting a host if every host is full. */
  async reserve(): Promise<Slot> {
    if (this.closed) throw new Error('host pool is closed');
    const open = this.hosts.filter((h) => h.alive && !h.retiring && h.load < this.opts.callsPerHost);
    const idle = open.find((h) => h.load === 0);
    const spread = !idle && this.hosts.filter((h) => h.alive && !h.retiring).length < this.opts.spreadAcross;
    const host = idle ?? (spread ? undefined : open.sort((a, b) => a.load - b.load)[0]) ?? this.spawn();
    host.load++;
    clearTimeout(host.idleTimer);
    try {
      await host.ready;
    } catch (err) {
      host.load--;
      throw err;
    }
    return new Slot(host, this);
  }

  /** @internal A slot of `host` was released or its job ended. */
  freed(host: Host): void {
    host.load--;
    if (!host.alive) return;
    if (host.retiring && host.load === 0) {
      host.send({ host: 'close' });
      return;
    }
    if (host.load === 0 && !this.closed) {
      clearTimeout(host.idleTimer);
      host.idleTimer = setTimeout(() => {
        const others = this.hosts.some((h) => h !== host && h.alive && !h.retiring);
        if (host.load === 0 && others) this.retire(host);
      }, this.opts.idleHostMs);
      host.idleTimer.unref();
    }
  }

  private retire(host: Host): void {
    host.retiring = true;
    if (host.load === 0) host.send({ host: 'close' });
  }

  private spawn(): Host {
    const here = dirname(fileURLToPath(import.meta.url));
    const proc = fork(join(here, 'callHost.js'), [], {
      execArgv: this.opts.execArgv ?? [],
      env: this.opts.env ?? process.env,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let readyResolve!: () => void;
    let readyReject!: (e: Error) => void;
    const ready = new Promise<void>((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    ready.catch(() => undefined);
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    const host = new Host(proc, ready, exited);
    this.hosts.push(host);
    const timer = setTimeout(() => {
      readyReject(new Error(`call host ${host.pid} did not finish its prewarm within ${this.opts.initializeTimeoutMs} ms`));
      proc.kill('SIGKILL');
    }, this.opts.initializeTimeoutMs);

    proc.on('message', (m: unknown) => {
      if (!isHostMessage(m)) {
        this.emit('message', host, m);
        return;
      }
      const msg = m as FromHost;
      switch (msg.host) {
        case 'ready':
          clearTimeout(timer);
          host.prewarmMs = msg.prewarmMs;
          readyResolve();
          this.emit('host-ready', host);
          return;
        case 'done': {
          const job = host.jobs.get(msg.jobId);
          host.served++;
          if (host.served >= this.opts.maxJobsPerHost) this.retire(host);
          job?.end(msg.error === undefined ? {} : { error: msg.error });
          return;
        }
        case 'inferenceRequest':
          void this.infer(host, msg);
          return;
        case 'metrics':
          for (const op of msg.ops) applyMetric(op, host);
          return;
        case 'stats':
          host.rssBytes = msg.rssBytes;
          if (this.opts.memoryLimitMB > 0 && msg.rssBytes > this.opts.memoryLimitMB * 1048576 && !host.retiring) {
            log().warn({ pid: host.pid, rssMb: Math.round(msg.rssBytes / 1048576), limitMb: this.opts.memoryLimitMB, calls: msg.jobs }, 'call host over its memory limit: no new calls; it exits when its calls end');
            this.retire(host);
          }
          return;
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      clearTimeout(host.idleTimer);
      host.alive = false;
      // The calls it was running are over, whatever they had time to report.
      processMetrics().forgetSource(metricSource(host));
      readyReject(new Error(`call host ${host.pid} exited (code ${code}) before it was ready`));
      this.hosts.splice(this.hosts.indexOf(host), 1);
      for (const job of [...host.jobs.values()]) {
        const reason = `call host ${host.pid} exited (code ${code}) during the call`;
        this.emit('job-lost', job.info, reason);
        job.end({ error: reason });
      }
      this.emit('host-exit', host, code);
    });
    if (this.opts.unref) {
      proc.unref();
      (proc.channel as { unref?: () => void } | undefined)?.unref?.();
    }
    proc.send({
      host: 'init',
      agentModule: this.opts.agentModule,
      logger: this.opts.logger ?? loggerOptions() ?? { pretty: false, level: 'info' },
      entryShutdownMs: this.opts.entryShutdownMs,
      sessionCloseMs: this.opts.sessionCloseMs,
      statsEveryMs: this.opts.statsEveryMs,
    } satisfies ToHost);
    return host;
  }

  private async infer(host: Host, req: Extract<FromHost, { host: 'inferenceRequest' }>): Promise<void> {
    const answer = (r: { data?: unknown; error?: string }) => host.send({ host: 'inferenceResponse', requestId: req.requestId, ...r } satisfies ToHost);
    if (!this.inference) return answer({ error: 'no inference executor in this worker' });
    try {
      answer({ data: await this.inference.doInference(req.method, req.data) });
    } catch (err) {
      answer({ error: (err as Error)?.message ?? String(err) });
    }
  }

  /** What /metrics reports about the hosts. */
  stats(): HostStats {
    const live = this.hosts.filter((h) => h.alive);
    return { hosts: live.length, rssBytes: live.map((h) => h.rssBytes) };
  }

  /** Sends a message to every live host (for a benchmark's own traffic). */
  broadcast(msg: Record<string, unknown>): void {
    for (const h of this.hosts) h.send(msg);
  }

  /** Ends every host: their calls end as on a worker shutdown; a host still up after `timeoutMs` is killed. */
  async close(timeoutMs = 60_000): Promise<void> {
    this.closed = true;
    const hosts = [...this.hosts];
    for (const h of hosts) h.send({ host: 'close' });
    const all = Promise.all(hosts.map((h) => h.exited));
    const late = await waitUntilTimeout(all, timeoutMs).then(() => false, () => true);
    if (late) for (const h of hosts) if (h.alive) h.proc.kill('SIGKILL');
    await all;
  }
}
