/**
 * Generated configuration of the local stack: one place that says which port is which and what
 * LiveKit and LiveKit SIP are told, so `switchboard stack`, the e2e suite and the benchmarks run
 * the same stack. Everything binds 127.0.0.1.
 */
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import { freePort, freeTcpPort, freeUdpRange } from './processes.js';

export interface StackPorts {
  redis: number;
  /** LiveKit's HTTP/WebSocket port (signalling and server API). */
  livekit: number;
  /** WebRTC over TCP, and the one UDP port all WebRTC media is muxed on. */
  rtcTcp: number;
  rtcUdp: number;
  /** LiveKit SIP's signalling port (UDP and TCP) and its RTP port range. */
  sip: number;
  rtp: { start: number; end: number };
  /** The worker's health check. */
  worker: number;
  /** Where the outbound trunk sends calls: the e2e suite's callee phone listens here. */
  callee: number;
}

/** The ports a person's stack uses (LiveKit's and SIP's usual ones), so a softphone needs no flags. */
export const FIXED_PORTS: StackPorts = {
  redis: 6390,
  livekit: 7880,
  rtcTcp: 7881,
  rtcUdp: 7882,
  sip: 5060,
  rtp: { start: 10_000, end: 10_100 },
  worker: 8081,
  callee: 5090,
};

export async function randomPorts(): Promise<StackPorts> {
  return {
    redis: await freeTcpPort(),
    livekit: await freeTcpPort(),
    rtcTcp: await freeTcpPort(),
    rtcUdp: await freePort(),
    sip: await freePort(),
    rtp: await freeUdpRange(40),
    worker: await freeTcpPort(),
    callee: await freePort(),
  };
}

export interface StackKeys {
  apiKey: string;
  apiSecret: string;
}

/** A fresh key pair per stack: nothing outside this machine ever accepts it. */
export function stackKeys(): StackKeys {
  return { apiKey: 'stack', apiSecret: randomBytes(24).toString('hex') };
}

export function livekitYaml(ports: StackPorts, keys: StackKeys): string {
  return stringify({
    port: ports.livekit,
    bind_addresses: ['127.0.0.1'],
    rtc: { tcp_port: ports.rtcTcp, udp_port: ports.rtcUdp, node_ip: '127.0.0.1', use_external_ip: false },
    redis: { address: `127.0.0.1:${ports.redis}` },
    keys: { [keys.apiKey]: keys.apiSecret },
    logging: { level: 'info' },
    // LiveKit's own default: a room nobody joins closes after 20 s; an e2e leak check must not be
    // hidden by it, so the suite asks the server for rooms well within that.
    room: { empty_timeout: 20 },
  });
}

export function sipYaml(ports: StackPorts, keys: StackKeys): string {
  return stringify({
    api_key: keys.apiKey,
    api_secret: keys.apiSecret,
    ws_url: `ws://127.0.0.1:${ports.livekit}`,
    redis: { address: `127.0.0.1:${ports.redis}` },
    sip_port: ports.sip,
    rtp_port: `${ports.rtp.start}-${ports.rtp.end}`,
    use_external_ip: false,
    // Loopback only: what LiveKit SIP announces in SDP is where the phone sends its RTP.
    nat_1_to_1_ip: '127.0.0.1',
    logging: { level: 'debug' },
  });
}

export function redisArgs(ports: StackPorts): string[] {
  return ['--port', String(ports.redis), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
}
