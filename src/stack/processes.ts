/**
 * Child processes of the local stack (Redis, LiveKit, LiveKit SIP, the worker, phones): each one's
 * output goes to its own log file, readiness is a line its log prints, and stopping it waits for
 * its exit. A process that dies while it is awaited fails the wait with the tail of its log, so a
 * broken stack says why instead of timing out.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';

export class StackProcessError extends Error {
  override name = 'StackProcessError';
}

export interface SpawnOptions {
  name: string;
  command: string;
  args: string[];
  logPath: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export class ManagedProcess {
  readonly name: string;
  readonly logPath: string;
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private output = '';
  private readonly listeners = new Set<() => void>();

  constructor(o: SpawnOptions) {
    this.name = o.name;
    this.logPath = o.logPath;
    const log = createWriteStream(o.logPath, { flags: 'a' });
    this.child = spawn(o.command, o.args, { env: o.env ?? process.env, cwd: o.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const onData = (chunk: Buffer) => {
      log.write(chunk);
      // Kept in memory only as far as readiness checks need; the log file has everything.
      this.output = (this.output + chunk.toString('utf8')).slice(-256 * 1024);
      for (const l of [...this.listeners]) l();
    };
    this.child.stdout!.on('data', onData);
    this.child.stderr!.on('data', onData);
    this.exited = new Promise((resolve) => {
      this.child.once('error', (err) => {
        this.output += `\n${o.command}: ${err.message}`;
        this.exitInfo = { code: -1, signal: null };
        for (const l of [...this.listeners]) l();
        resolve(this.exitInfo);
      });
      // Output can still arrive after 'exit' (a worker's call hosts share its stdout and outlive it
      // by a moment): the log ends only once every stdio stream has closed.
      this.child.once('close', () => log.end());
      this.child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        for (const l of [...this.listeners]) l();
        resolve(this.exitInfo);
      });
    });
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  /** Everything printed so far (the last 256 kB). */
  get text(): string {
    return this.output;
  }

  tail(lines = 20): string {
    let text = this.output;
    if (!text) {
      try {
        text = readFileSync(this.logPath, 'utf8');
      } catch {
        text = '';
      }
    }
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  }

  /** Resolves once the output matches `pattern` (from the start of the process). */
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = this.output.match(pattern);
        if (m) {
          done();
          resolve(m);
        } else if (!this.running) {
          done();
          reject(new StackProcessError(`${this.name} exited (${JSON.stringify(this.exitInfo)}) before printing ${pattern}; its log (${this.logPath}) ends:\n${this.tail()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new StackProcessError(`${this.name} did not print ${pattern} within ${timeoutMs} ms; its log (${this.logPath}) ends:\n${this.tail()}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  signal(sig: NodeJS.Signals): void {
    if (this.running) this.child.kill(sig);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/**
 * A TCP port nobody listens on right now, on every address (livekit-sip binds 0.0.0.0). Chosen
 * below the kernel's ephemeral range (32768+), so the outgoing connections every process here
 * makes cannot take it between this check and the server's bind: they did once, and SIP failed to
 * start with "address already in use".
 */
export async function freeTcpPort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '0.0.0.0', () => srv.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new StackProcessError('no free TCP port found between 20000 and 32000');
}

/** A port free for both TCP and UDP (SIP listens on both). */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await freeTcpPort();
    const udpFree = await new Promise<boolean>((resolve) => {
      const s = createSocket('udp4');
      s.once('error', () => resolve(false));
      s.bind(port, '0.0.0.0', () => s.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
  throw new StackProcessError('no port free for both TCP and UDP found between 20000 and 32000');
}

/** `count` consecutive UDP ports starting at a free one (a media port range). */
export async function freeUdpRange(count: number): Promise<{ start: number; end: number }> {
  for (let attempt = 0; attempt < 20; attempt++) {
    // Below the single ports (freeTcpPort) and the ephemeral range, so neither can land inside it.
    const start = 10_000 + Math.floor(Math.random() * (10_000 - count));
    const sockets = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        new Promise<ReturnType<typeof createSocket> | null>((resolve) => {
          const s = createSocket('udp4');
          s.once('error', () => resolve(null));
          s.bind(start + i, '127.0.0.1', () => resolve(s));
        }),
      ),
    );
    await Promise.all(sockets.map((s) => (s ? new Promise<void>((r) => s.close(() => r())) : undefined)));
    if (sockets.every(Boolean)) return { start, end: start + count - 1 };
  }
  throw new StackProcessError(`no ${count} free consecutive UDP ports found on 127.0.0.1`);
}
