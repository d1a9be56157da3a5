/**
 * A light SIP phone for load: many calls from one Node process, for bench:rooms.
 *
 * baresip is the e2e suite's phone (a real user agent), but with no sound card its ALSA "null"
 * player never blocks, and each instance spins most of a core: 25 of them cannot share this
 * machine with the servers they are measuring. This phone speaks just enough SIP over UDP (INVITE
 * with a PCMU offer, ACK, BYE both ways) and sends and receives G.711 µ-law RTP in 20 ms packets on
 * one shared clock. In exchange it sees every packet: when it arrived, its sequence number and RTP
 * time, so first audio, the silence before a reply and gaps inside one are read at packet level.
 *
 * Not a general SIP stack: no authentication, no re-INVITE, no TCP, loopback only.
 */
import { randomBytes } from 'node:crypto';
import { type Socket, createSocket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { decodeMuLaw, encodeMuLaw } from '../telephony/g711.js';

const FRAME = 160; // 20 ms at 8 kHz
const SILENCE = Buffer.alloc(FRAME, 0xff);

export interface RtpPacket {
  /** Epoch ms it arrived. */
  at: number;
  seq: number;
  ts: number;
  pcm: Int16Array;
}

/** One 20 ms clock for every phone: a timer per phone would cost more than the phones. */
class PacketClock {
  private readonly phones = new Set<RtpPhone>();
  private timer?: NodeJS.Timeout;
  private next = 0;

  add(p: RtpPhone): void {
    this.phones.add(p);
    if (!this.timer) {
      this.next = performance.now();
      this.tick();
    }
  }
  delete(p: RtpPhone): void {
    this.phones.delete(p);
    if (this.phones.size === 0 && this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }
  private tick = () => {
    for (const p of this.phones) p.sendFrame();
    this.next += 20;
    this.timer = setTimeout(this.tick, Math.max(0, this.next - performance.now()));
  };
}
const clock = new PacketClock();

const header = (msg: string, name: string) => new RegExp(`^${name}:\\s*(.+)$`, 'im').exec(msg)?.[1]?.trim();

export class RtpPhone {
  readonly received: RtpPacket[] = [];
  /** Epoch ms: the 200 OK, our BYE or theirs. */
  answeredAt?: number;
  closedAt?: number;
  private readonly callId = randomBytes(8).toString('hex');
  private readonly tag = randomBytes(4).toString('hex');
  private remoteTag = '';
  private remoteContact = '';
  private remoteRtp?: { host: string; port: number };
  private cseq = 1;
  private seq = Math.floor(Math.random() * 30_000);
  private ts = Math.floor(Math.random() * 1e9);
  private readonly ssrc = randomBytes(4).readUInt32BE(0);
  private mic: Buffer[] = [];
  private waiters: { test: () => boolean; resolve: () => void }[] = [];
  /** Epoch ms when each `say()` line's last packet left. */
  readonly saidEndAt: number[] = [];
  private pendingEnd = false;

  private constructor(
    readonly number: string,
    private readonly sip: Socket,
    private readonly rtp: Socket,
  ) {
    sip.on('message', (m) => this.onSip(m.toString('utf8')));
    rtp.on('message', (m) => this.onRtp(m));
  }

  static async open(number: string): Promise<RtpPhone> {
    const bind = async () => {
      const s = createSocket('udp4');
      await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
      return s;
    };
    return new RtpPhone(number, await bind(), await bind());
  }

  private get sipPort() {
    return (this.sip.address() as AddressInfo).port;
  }
  private get rtpPort() {
    return (this.rtp.address() as AddressInfo).port;
  }

  private target = { host: '127.0.0.1', port: 5060, uri: '' };

  /** INVITEs `uri` (sip:user@host:port); resolves once the call is answered. */
  async dial(uri: string, timeoutMs = 30_000): Promise<number> {
    const m = /^sip:([^@]+)@([^:;]+):(\d+)/.exec(uri);
    if (!m) throw new Error(`rtpPhone: cannot dial ${uri}`);
    this.target = { host: m[2]!, port: Number(m[3]), uri };
    const sdp = [
      'v=0',
      `o=- ${this.ssrc} 1 IN IP4 127.0.0.1`,
      's=switchboard bench phone',
      'c=IN IP4 127.0.0.1',
      't=0 0',
      `m=audio ${this.rtpPort} RTP/AVP 0 101`,
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:101 telephone-event/8000',
      'a=fmtp:101 0-16',
      'a=ptime:20',
      'a=sendrecv',
      '',
    ].join('\r\n');
    const invite = this.request('INVITE', uri, this.cseq, sdp, 'application/sdp');
    this.send(invite);
    try {
      await this.until(() => this.answeredAt !== undefined || this.closedAt !== undefined, timeoutMs, 'no 200 OK to the INVITE');
    } catch (err) {
      // A caller who gives up: CANCEL the INVITE (same Via branch), as a phone does, so what is
      // left behind afterwards is the server's, not this phone's.
      const via = /^Via: .+$/m.exec(invite)![0];
      this.send(
        [`CANCEL ${uri} SIP/2.0`, via, 'Max-Forwards: 70', /^From: .+$/m.exec(invite)![0], `To: <${uri}>`, `Call-ID: ${this.callId}`, 'CSeq: 1 CANCEL', 'Content-Length: 0', '', ''].join('\r\n'),
      );
      this.end();
      throw err;
    }
    if (this.answeredAt === undefined) throw new Error(`rtpPhone ${this.number}: the call was refused`);
    return this.answeredAt;
  }

  private request(method: string, uri: string, cseq: number, body = '', type?: string): string {
    const lines = [
      `${method} ${uri} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${this.sipPort};branch=z9hG4bK${randomBytes(6).toString('hex')};rport`,
      'Max-Forwards: 70',
      `From: <sip:${this.number}@127.0.0.1:${this.sipPort}>;tag=${this.tag}`,
      `To: <${this.target.uri}>${this.remoteTag ? `;tag=${this.remoteTag}` : ''}`,
      `Call-ID: ${this.callId}`,
      `CSeq: ${cseq} ${method}`,
      `Contact: <sip:${this.number}@127.0.0.1:${this.sipPort}>`,
      ...(type ? [`Content-Type: ${type}`] : []),
      `Content-Length: ${Buffer.byteLength(body)}`,
      '',
      body,
    ];
    return lines.join('\r\n');
  }

  private send(msg: string): void {
    if (process.env.RTP_PHONE_DEBUG) process.stderr.write(`[rtpPhone ${this.number}] >>> ${msg}\n`);
    this.sip.send(msg, this.target.port, this.target.host);
  }

  private onSip(msg: string): void {
    if (process.env.RTP_PHONE_DEBUG) process.stderr.write(`[rtpPhone ${this.number}] <<< ${msg}\n`);
    const first = msg.slice(0, msg.indexOf('\r\n'));
    if (first.startsWith('SIP/2.0')) {
      const status = Number(first.split(' ')[1]);
      const method = header(msg, 'CSeq')?.split(' ')[1];
      if (method === 'INVITE' && status >= 200) {
        this.remoteTag = /;tag=([^;>\s]+)/.exec(header(msg, 'To') ?? '')?.[1] ?? '';
        const contact = /<([^>]+)>/.exec(header(msg, 'Contact') ?? '')?.[1];
        this.remoteContact = contact ?? this.target.uri;
        // ACK for any final answer (a 2xx is its own transaction; for the rest it ends the INVITE's).
        this.send(this.request('ACK', status < 300 ? this.remoteContact : this.target.uri, 1));
        if (status < 300) {
          const body = msg.slice(msg.indexOf('\r\n\r\n') + 4);
          const host = /^c=IN IP4 (\S+)/m.exec(body)?.[1] ?? this.target.host;
          const port = Number(/^m=audio (\d+)/m.exec(body)?.[1]);
          this.remoteRtp = { host, port };
          this.answeredAt = Date.now();
          clock.add(this);
        } else {
          this.closedAt = Date.now();
        }
      }
      this.wake();
      return;
    }
    // A request: BYE ends the call; anything else in the dialog is acknowledged.
    const method = first.split(' ')[0];
    const reply = [
      'SIP/2.0 200 OK',
      ...msg
        .split('\r\n')
        .filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l)),
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    const via = /received=([\d.]+)|SIP\/2\.0\/UDP ([\d.]+):(\d+)/.exec(header(msg, 'Via') ?? '');
    const port = Number(via?.[3] ?? this.target.port);
    this.sip.send(reply, port, '127.0.0.1');
    if (method === 'BYE') this.end();
  }

  private onRtp(m: Buffer): void {
    if (m.length < 12 || (m[1]! & 0x7f) !== 0) return; // PCMU only; telephone-events are not audio
    this.received.push({ at: Date.now(), seq: m.readUInt16BE(2), ts: m.readUInt32BE(4), pcm: decodeMuLaw(m.subarray(12)) });
  }

  /** Called by the shared clock every 20 ms while the call is up. */
  sendFrame(): void {
    if (!this.remoteRtp) return;
    let payload = this.mic.shift();
    if (payload) this.pendingEnd = true;
    else if (this.pendingEnd) {
      this.pendingEnd = false;
      this.saidEndAt.push(Date.now());
    }
    payload ??= SILENCE;
    const pkt = Buffer.alloc(12 + payload.length);
    pkt[0] = 0x80;
    pkt[1] = 0; // PCMU
    pkt.writeUInt16BE(this.seq & 0xffff, 2);
    pkt.writeUInt32BE(this.ts >>> 0, 4);
    pkt.writeUInt32BE(this.ssrc, 8);
    payload.copy(pkt, 12);
    this.seq++;
    this.ts += FRAME;
    this.rtp.send(pkt, this.remoteRtp.port, this.remoteRtp.host);
  }

  /** Speaks 8 kHz PCM into the call, after anything still queued. */
  say(pcm: Int16Array): void {
    const codes = encodeMuLaw(pcm);
    for (let i = 0; i < codes.length; i += FRAME) {
      const frame = Buffer.alloc(FRAME, 0xff);
      Buffer.from(codes.buffer, codes.byteOffset + i, Math.min(FRAME, codes.length - i)).copy(frame);
      this.mic.push(frame);
    }
  }

  /** Hangs up: sends the BYE and stops sending audio (the 200 OK is not waited for). */
  hangup(): void {
    if (this.closedAt) return;
    this.send(this.request('BYE', this.remoteContact || this.target.uri, ++this.cseq));
    this.end();
  }

  private end(): void {
    if (this.closedAt) return;
    this.closedAt = Date.now();
    clock.delete(this);
    this.wake();
  }

  private until(test: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`rtpPhone ${this.number}: ${what} within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        test,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  private wake(): void {
    this.waiters = this.waiters.filter((w) => (w.test() ? (w.resolve(), false) : true));
  }

  close(): void {
    clock.delete(this);
    this.sip.close();
    this.rtp.close();
  }
}
