/**
 * The whole real stack on loopback: Redis, the real LiveKit server and LiveKit SIP (built from
 * their Go modules), the provider emulators, and the production worker (`dist/src/worker.js
 * start`, call hosts and all), provisioned through our own `switchboard setup sip`.
 *
 * `switchboard stack` runs it for a person (point a softphone at `sipUri`); the e2e suite and
 * bench:rooms start it per test file and drive the emulators and phones directly.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { RoomServiceClient, SipClient } from 'livekit-server-sdk';
import { ProviderEmulators, type SandboxLatencies } from '../sandbox/sandbox.js';
import { ensureBinaries } from './binaries.js';
import { ManagedProcess, StackProcessError } from './processes.js';
import { FIXED_PORTS, type StackKeys, type StackPorts, livekitYaml, randomPorts, redisArgs, sipYaml, stackKeys } from './stackConfig.js';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
/** dist/src: the compiled worker and CLI this stack runs. */
const distSrc = resolve(here, '..');

/** The number callers dial, and the number outbound calls show. */
export const INBOUND_NUMBER = '+12025550100';

export interface StackOptions {
  /** Where configs, logs, the store and recordings go (a new temporary folder by default). */
  dir?: string;
  /** `fixed`: LiveKit's usual ports (a person's stack); `random`: free ports (tests). */
  ports?: 'fixed' | 'random';
  /** Start the worker too (default true). */
  worker?: boolean;
  /** Extra worker settings (e.g. TRANSFER_ALLOWLIST, CALLS_PER_PROCESS). */
  workerEnv?: Record<string, string>;
  latencies?: Partial<SandboxLatencies>;
  /** Progress lines for people (builds, starts). */
  log?: (line: string) => void;
}

export class LiveStack {
  readonly providers: ProviderEmulators;
  readonly processes: ManagedProcess[] = [];
  worker: ManagedProcess | undefined;
  outboundTrunkId = '';
  inboundTrunkId = '';
  private workerRuns = 0;

  private constructor(
    readonly dir: string,
    readonly ports: StackPorts,
    readonly keys: StackKeys,
    private readonly opts: StackOptions,
    private readonly bins: Record<'livekit-server' | 'livekit-sip', string>,
  ) {
    this.providers = new ProviderEmulators({ latencies: opts.latencies });
  }

  static async start(opts: StackOptions = {}): Promise<LiveStack> {
    const log = opts.log ?? (() => undefined);
    const bins = await ensureBinaries(log);
    const dir = opts.dir ? resolve(opts.dir) : mkdtempSync(join(tmpdir(), 'switchboard-stack-'));
    mkdirSync(join(dir, 'logs'), { recursive: true });
    const ports = opts.ports === 'fixed' ? FIXED_PORTS : await randomPorts();
    const stack = new LiveStack(dir, ports, stackKeys(), opts, bins);
    try {
      await stack.boot(log);
    } catch (err) {
      await stack.close();
      throw err;
    }
    return stack;
  }

  private async boot(log: (line: string) => void): Promise<void> {
    const { dir, ports, keys } = this;
    writeFileSync(join(dir, 'livekit.yaml'), livekitYaml(ports, keys));
    writeFileSync(join(dir, 'sip.yaml'), sipYaml(ports, keys));

    const redis = this.spawn('redis', 'redis-server', redisArgs(ports));
    await redis.waitForOutput(/Ready to accept connections/, 10_000);
    log(`redis on 127.0.0.1:${ports.redis}`);
    const livekit = this.spawn('livekit-server', this.bins['livekit-server'], ['--config', join(dir, 'livekit.yaml')]);
    const sip = this.spawn('livekit-sip', this.bins['livekit-sip'], ['--config', join(dir, 'sip.yaml')]);
    await Promise.all([
      livekit.waitForOutput(/starting LiveKit server/, 20_000),
      sip.waitForOutput(/sip service ready/, 20_000),
      this.providers.start(),
    ]);
    log(`LiveKit server on ${this.env.LIVEKIT_URL}, LiveKit SIP on sip:127.0.0.1:${ports.sip}`);
    const setup = await this.cli(['setup', 'sip', '--json']);
    const outputs = (setup as { outputs?: { SIP_OUTBOUND_TRUNK_ID?: string; inboundTrunkId?: string } }).outputs;
    if (!outputs?.SIP_OUTBOUND_TRUNK_ID) throw new StackProcessError(`setup sip gave no outbound trunk id: ${JSON.stringify(setup)}`);
    this.outboundTrunkId = outputs.SIP_OUTBOUND_TRUNK_ID;
    this.inboundTrunkId = outputs.inboundTrunkId ?? '';
    if (this.opts.worker !== false) {
      await this.startWorker();
      log(`worker registered as "${this.env.AGENT_NAME}"`);
    }
  }

  private spawn(name: string, command: string, args: string[], env?: NodeJS.ProcessEnv): ManagedProcess {
    const p = new ManagedProcess({ name, command, args, env, cwd: this.dir, logPath: join(this.dir, 'logs', `${name}.log`) });
    this.processes.push(p);
    return p;
  }

  /** What the worker and the CLI are given: this stack's LiveKit, providers, trunk and store. */
  get env(): Record<string, string> {
    return {
      LIVEKIT_URL: `ws://127.0.0.1:${this.ports.livekit}`,
      LIVEKIT_API_KEY: this.keys.apiKey,
      LIVEKIT_API_SECRET: this.keys.apiSecret,
      AGENT_NAME: 'switchboard',
      ...this.providers.env('stack'),
      STORE_PATH: join(this.dir, 'switchboard.db'),
      RECORDING_DIR: join(this.dir, 'recordings'),
      SIP_INBOUND_NUMBERS: INBOUND_NUMBER,
      SIP_INBOUND_ALLOWED_ADDRESSES: '127.0.0.1',
      SIP_OUTBOUND_ADDRESS: `127.0.0.1:${this.ports.callee}`,
      SIP_OUTBOUND_TRANSPORT: 'udp',
      CALLER_ID: INBOUND_NUMBER,
      LIVEKIT_SIP_URI: `sip:127.0.0.1:${this.ports.sip}`,
      HEALTH_PORT: String(this.ports.worker),
      ...(this.outboundTrunkId ? { SIP_OUTBOUND_TRUNK_ID: this.outboundTrunkId } : {}),
    };
  }

  /** The URI a phone dials to reach the agent. */
  get sipUri(): string {
    return `sip:${INBOUND_NUMBER}@127.0.0.1:${this.ports.sip}`;
  }

  /** The address of LiveKit SIP, as a phone's outbound proxy. */
  get sipAddress(): string {
    return `127.0.0.1:${this.ports.sip}`;
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.ports.livekit}`;
  }

  rooms(): RoomServiceClient {
    return new RoomServiceClient(this.httpUrl, this.keys.apiKey, this.keys.apiSecret);
  }

  sip(): SipClient {
    return new SipClient(this.httpUrl, this.keys.apiKey, this.keys.apiSecret);
  }

  /** Runs `switchboard <args>` against this stack and returns its last JSON line. */
  async cli(args: string[], extraEnv: Record<string, string> = {}): Promise<unknown> {
    const { stdout } = await run(process.execPath, [join(distSrc, 'cli', 'main.js'), ...args], {
      cwd: this.dir,
      env: { ...process.env, ...this.env, ...extraEnv },
      maxBuffer: 16 * 1024 * 1024,
    }).catch((err: { stdout?: string; stderr?: string; message: string }) => {
      throw new StackProcessError(`switchboard ${args.join(' ')} failed: ${err.stderr || err.message}\n${err.stdout ?? ''}`);
    });
    const last = stdout.trim().split('\n').pop() ?? '';
    return JSON.parse(last);
  }

  /** Starts (or restarts) the production worker and waits until LiveKit has registered it. */
  async startWorker(extraEnv: Record<string, string> = {}): Promise<ManagedProcess> {
    const name = this.workerRuns++ === 0 ? 'worker' : `worker-${this.workerRuns}`;
    const worker = this.spawn(name, process.execPath, [join(distSrc, 'worker.js'), 'start'], {
      ...process.env,
      ...this.env,
      ...this.opts.workerEnv,
      ...extraEnv,
    });
    this.worker = worker;
    await worker.waitForOutput(/registered worker/, 60_000);
    return worker;
  }

  async close(): Promise<void> {
    // The worker first (it deletes its rooms through LiveKit), then SIP, LiveKit, Redis.
    for (const p of [...this.processes].reverse()) await p.stop(p === this.worker ? 15_000 : 5000).catch(() => undefined);
    await this.providers.close().catch(() => undefined);
  }
}
