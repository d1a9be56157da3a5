/**
 * The call's side of a transfer: the `TransferDesk` (transfer.ts) built from config and the call's
 * I/O, and what a transfer means for the call: the caller is on hold while it rings (the silence
 * policy waits), and a transfer that connected, or a caller who left meanwhile, ends the call.
 */
import type { voice } from '@livekit/agents';
import type { CallUserdata } from '../../tools/callContext.js';
import type { TransferControl, TransferRequest, TransferResult } from '../../tools/callContext.js';
import { TransferAllowList } from './transferAllowList.js';
import type { Config } from '../config.js';
import { type EndRequest, GOODBYE_TIMEOUT_MS } from './callEnd.js';
import { withTimeout } from './sessionGuards.js';
import { TransferDesk, type WarmTransferRequest } from './transfer.js';

/** The part of the call's I/O (`CallIo`) that hands the caller over. */
export interface TransferIo {
  /**
   * Phone calls: hands the caller's SIP leg to `to` (a tel: or sip: URI) with LiveKit's
   * TransferSIPParticipant. Resolves once transferred; rejects with the SIP error otherwise.
   */
  transfer?(to: string, opts: { ringSeconds: number; headers?: Record<string, string> }): Promise<void>;
  /**
   * Phone calls in a LiveKit job: the framework's WarmTransferTask (dial a person, brief them, move
   * them into the caller's room). Called from inside the transfer tool, as the framework requires.
   * Resolves once the person is connected to the caller; rejects when they were not.
   */
  warmTransfer?(req: WarmTransferRequest): Promise<void>;
  /** Why the warm transfer cannot work on this server (then the transfer is cold), or undefined. */
  warmUnavailable?(): Promise<string | undefined>;
}

export interface TransferDeps {
  callId: string;
  config: Config;
  /** Phone calls only: a browser session has no SIP leg to hand over. */
  phone: boolean;
  io: TransferIo;
  /** The session while it runs; undefined before it exists and once it has closed. */
  live: () => voice.AgentSession<CallUserdata> | undefined;
  note: (text: string) => void;
  callerGone: () => boolean;
  /** Holds the silence policy while the transfer runs; returns the release. */
  hold: () => () => void;
  end: (req: EndRequest) => void;
  now: () => Date;
}

/** The desk (for its attempts and whether one is under way), and the tools' control when this call may transfer. */
export function transferControl(deps: TransferDeps): { desk: TransferDesk; control: TransferControl | undefined } {
  const { config, io } = deps;
  const allow = new TransferAllowList(deps.phone && io.transfer ? config.TRANSFER_ALLOWLIST : []);
  const desk = new TransferDesk({
    callId: deps.callId,
    allow,
    mode: config.TRANSFER_MODE,
    fallback: config.TRANSFER_FALLBACK,
    ringSeconds: config.TRANSFER_RING_SECONDS,
    fallbackLine: config.business.lines.transferFallback,
    summaryHeader: config.TRANSFER_SUMMARY_HEADER,
    dialPolicy: { defaultRegion: config.DEFAULT_REGION, allowedCountries: config.ALLOWED_COUNTRIES },
    coldTransfer: (uri, ringSeconds, headers) => io.transfer!(uri, { ringSeconds, headers }),
    warmTransfer: io.warmTransfer ? (r) => io.warmTransfer!(r) : undefined,
    warmUnavailable: io.warmUnavailable ? () => io.warmUnavailable!() : undefined,
    say: async (text) => {
      const session = deps.live();
      if (!session) return;
      const handle = session.say(text, { allowInterruptions: false });
      await withTimeout(handle.waitForPlayout(), GOODBYE_TIMEOUT_MS).catch(() => undefined);
    },
    note: deps.note,
    callerGone: deps.callerGone,
    now: deps.now,
  });
  const transfer = async (r: TransferRequest): Promise<TransferResult> => {
    const release = deps.hold();
    try {
      const result = await desk.transfer(r);
      // A transfer that connected is how this call ends; the caller is with a person now.
      if (result.status === 'transferred') {
        deps.end({ outcome: { kind: 'transferred', to: result.to }, after: r.speech, keepRoomUntilHangup: result.mode === 'warm' });
      } else if (deps.callerGone()) {
        deps.end({ outcome: { kind: 'hung_up' }, after: r.speech });
      }
      return result;
    } finally {
      release();
    }
  };
  return { desk, control: allow.empty ? undefined : { destinations: allow.entries, transfer } };
}
