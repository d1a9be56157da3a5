/**
 * A real SIP phone: Debian's baresip, driven over its ctrl_tcp socket (netstring-framed JSON).
 *
 * Its microphone is a WAV file (`play()` switches to another one mid-call, as a person starts
 * talking), and everything it hears is written by baresip's sndfile module to a WAV the test reads
 * after the call. It answers by itself when `autoAnswer` is set (the callee of an outbound call).
 *
 * baresip 1.0 hangs up when its audio source reaches the end of the file, so every WAV handed to
 * it ends in a long silence (`phoneWav`).
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { type Socket, connect } from 'node:net';
import { join } from 'node:path';
import { concatPcm, silence } from '../sandbox/speechSignal.js';
import { pcm16Wav, readWav } from '../telephony/wav.js';
import { ManagedProcess, StackProcessError, freePort, freeTcpPort } from './processes.js';

export interface PhoneEvent {
  type: string;
  /** Epoch ms when the event arrived. */
  at: number;
  param?: string;
  peeruri?: string;
  id?: string;
  direction?: string;
}

export interface BaresipOptions {
  /** Folder for the phone's config, logs and recordings. */
  dir: string;
  /** The phone's own number (its SIP user). */
  number: string;
  /** Answer incoming calls at once. */
  autoAnswer?: boolean;
  /** Listen on this port (the outbound trunk's address); any free port otherwise. */
  port?: number;
}

/** A WAV baresip can play as its microphone: 8 kHz mono PCM, followed by a minute of silence. */
export function phoneWav(pcm: Int16Array, sampleRate = 8000): Uint8Array {
  return pcm16Wav(concatPcm(pcm, silence(60_000, sampleRate)), sampleRate);
}

export class BaresipPhone {
  readonly events: PhoneEvent[] = [];
  private socket!: Socket;
  private buffer = Buffer.alloc(0);
  private tokens = 0;
  private readonly pending = new Map<string, { resolve: (data: string) => void; reject: (err: Error) => void }>();
  private readonly waiters = new Set<() => void>();

  private constructor(
    readonly process: ManagedProcess,
    readonly opts: BaresipOptions,
    readonly port: number,
    private readonly recordDir: string,
  ) {}

  static async start(opts: BaresipOptions): Promise<BaresipPhone> {
    mkdirSync(opts.dir, { recursive: true });
    const recordDir = join(opts.dir, 'heard');
    mkdirSync(recordDir, { recursive: true });
    const port = opts.port ?? (await freePort());
    const ctrlPort = await freeTcpPort();
    const quiet = join(opts.dir, 'quiet.wav');
    writeFileSync(quiet, phoneWav(new Int16Array(0)));
    writeFileSync(
      join(opts.dir, 'config'),
      [
        'poll_method epoll',
        `sip_listen 127.0.0.1:${port}`,
        'audio_player alsa,null',
        `audio_source aufile,${quiet}`,
        'audio_alert alsa,null',
        'module_path /usr/lib/baresip/modules',
        'module g711.so',
        'module aufile.so',
        'module alsa.so',
        'module sndfile.so',
        'module_app account.so',
        'module_app menu.so',
        'module_app ctrl_tcp.so',
        `ctrl_tcp_listen 127.0.0.1:${ctrlPort}`,
        `snd_path ${recordDir}`,
        // No RTP for this long means the far end is gone.
        'rtp_timeout 30',
        '',
      ].join('\n'),
    );
    writeFileSync(join(opts.dir, 'accounts'), `<sip:${opts.number}@127.0.0.1:${port}>;regint=0;answermode=${opts.autoAnswer ? 'auto' : 'manual'}\n`);
    const proc = new ManagedProcess({
      name: `baresip ${opts.number}`,
      command: 'baresip',
      args: ['-f', opts.dir],
      logPath: join(opts.dir, 'baresip.log'),
    });
    await proc.waitForOutput(/baresip is ready/, 10_000).catch((err) => {
      proc.signal('SIGKILL');
      throw err;
    });
    const phone = new BaresipPhone(proc, opts, port, recordDir);
    await phone.connect(ctrlPort);
    return phone;
  }

  private connect(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket = connect(port, '127.0.0.1', () => resolve());
      this.socket.once('error', reject);
      this.socket.on('data', (chunk) => this.onData(chunk));
    });
  }

  /** Netstrings: `<length>:<json>,`. */
  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const colon = this.buffer.indexOf(0x3a);
      if (colon < 0) return;
      const len = Number(this.buffer.subarray(0, colon).toString());
      if (this.buffer.length < colon + 1 + len + 1) return;
      const body = this.buffer.subarray(colon + 1, colon + 1 + len).toString('utf8');
      this.buffer = this.buffer.subarray(colon + 2 + len);
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(body);
      } catch {
        continue;
      }
      if (msg.response) {
        const p = this.pending.get(String(msg.token));
        this.pending.delete(String(msg.token));
        if (msg.ok) p?.resolve(String(msg.data ?? ''));
        else p?.reject(new StackProcessError(`baresip: ${String(msg.data ?? 'command failed')}`));
      } else if (msg.event) {
        this.events.push({
          type: String(msg.type),
          at: Date.now(),
          ...(msg.param !== undefined ? { param: String(msg.param) } : {}),
          ...(msg.peeruri !== undefined ? { peeruri: String(msg.peeruri) } : {}),
          ...(msg.id !== undefined ? { id: String(msg.id) } : {}),
          ...(msg.direction !== undefined ? { direction: String(msg.direction) } : {}),
        });
        for (const w of [...this.waiters]) w();
      }
    }
  }

  command(command: string, params = ''): Promise<string> {
    const token = String(++this.tokens);
    const body = Buffer.from(JSON.stringify({ command, params, token }));
    this.socket.write(Buffer.concat([Buffer.from(`${body.length}:`), body, Buffer.from(',')]));
    return new Promise((resolve, reject) => this.pending.set(token, { resolve, reject }));
  }

  dial(uri: string): Promise<string> {
    return this.command('dial', uri);
  }

  hangup(): Promise<string> {
    return this.command('hangup');
  }

  /** One keypad key, sent as RFC 4733 telephone-event. */
  sendDigit(key: string): Promise<string> {
    return this.command('sndcode', key);
  }

  /** Switch the microphone to this audio (it starts playing at once). */
  async play(pcm: Int16Array, name: string): Promise<void> {
    const path = join(this.opts.dir, `${name}.wav`);
    writeFileSync(path, phoneWav(pcm));
    await this.command('ausrc', `aufile,${path}`);
  }

  /** The first event of `type` at or after `since` (epoch ms), waiting for it if needed. */
  waitForEvent(type: string | RegExp, timeoutMs: number, since = 0): Promise<PhoneEvent> {
    const matches = (e: PhoneEvent) => e.at >= since && (typeof type === 'string' ? e.type === type : type.test(e.type));
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.events.find(matches);
        if (found) {
          done();
          resolve(found);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new StackProcessError(`baresip ${this.opts.number}: no ${type} event within ${timeoutMs} ms; events: ${this.events.map((e) => e.type).join(', ')}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** What the phone heard on its most recent call: 8 kHz mono PCM, from the first packet received. */
  heard(): { pcm: Int16Array; sampleRate: number } {
    const files = readdirSync(this.recordDir).filter((f) => f.endsWith('-dec.wav')).sort();
    const last = files.at(-1);
    if (!last) throw new StackProcessError(`baresip ${this.opts.number} recorded nothing in ${this.recordDir}`);
    const wav = readWav(readFileSync(join(this.recordDir, last)));
    return { pcm: wav.channels[0]!, sampleRate: wav.sampleRate };
  }

  async close(): Promise<void> {
    for (const p of this.pending.values()) p.reject(new StackProcessError('baresip closed'));
    this.pending.clear();
    this.socket?.destroy();
    await this.process.stop(3000);
  }
}
