/**
 * Transferring a caller to a person: the allow-list check, the handoff line, the transfer itself
 * (warm where configured and possible, else cold), the fallbacks, and the record of every attempt.
 *
 * Cold: LiveKit's TransferSIPParticipant sends a SIP REFER; on success the caller leaves the room.
 * Warm: the framework's WarmTransferTask dials the person on the outbound trunk, briefs them with
 * the conversation, and moves them into the caller's room; it needs a LiveKit job (a real room),
 * so only the worker's CallIo provides it. When warm fails (nobody answers, they decline), the
 * caller is either cold-transferred to the same destination or promised a callback (config).
 *
 * The call lifecycle owns this desk and ends the call when a transfer succeeds; this module never
 * ends a call itself. It never throws to its caller either: every failure becomes a result.
 */
import { IdleTimeoutError, type llm, log, waitUntilTimeout } from '@livekit/agents';
import type { TransferMode, TransferRequest, TransferResult } from '../../tools/callContext.js';
import { inSpan } from '../observe/tracing.js';
import { type TransferAllowList, transferNumber, transferUri } from './transferAllowList.js';
import { type DialPolicy, checkDialable, dialledNumberOf } from '../telephony/dialPolicy.js';

/** One transfer attempt, as the call record keeps it. */
export interface TransferAttempt {
  at: string;
  /** What the model asked for (null: the default destination). */
  requested: string | null;
  /** The allow-listed destination used; null when refused. */
  to: string | null;
  mode: TransferMode;
  result: 'transferred' | 'failed' | 'refused' | 'caller_left';
  error?: string;
  sipStatus?: number;
}

export interface WarmTransferRequest {
  /** E.164 number of the person to dial. */
  number: string;
  /** The conversation so far: the briefing is built from it. */
  history?: llm.ChatContext;
  /** One line from the agent on why the caller needs a person. */
  reason?: string;
  ringSeconds: number;
}

/** What the desk needs from the call it serves. */
export interface TransferLine {
  callId: string;
  allow: TransferAllowList;
  mode: TransferMode;
  /** After a failed warm transfer: ring the destination directly, or promise a callback. */
  fallback: 'cold' | 'callback';
  ringSeconds: number;
  /** Said before a failed warm transfer falls back to ringing the destination directly (business.yaml). */
  fallbackLine: string;
  /** SIP header that carries the one-line summary on a cold transfer (TRANSFER_SUMMARY_HEADER). */
  summaryHeader?: string;
  /** Numbers never dialled even when allow-listed (emergency, premium rate, short codes, other countries). */
  dialPolicy?: DialPolicy;
  /** LiveKit TransferSIPParticipant for the caller; resolves once transferred, rejects with the SIP error. */
  coldTransfer(uri: string, ringSeconds: number, headers: Record<string, string>): Promise<void>;
  /** The framework's warm transfer, when this call can run it; rejects when it did not connect. */
  warmTransfer?(req: WarmTransferRequest): Promise<void>;
  /** Why a warm transfer cannot work here (the server cannot merge the calls), or undefined. */
  warmUnavailable?(): Promise<string | undefined>;
  /** Says a line to the caller and resolves once it has played. */
  say(text: string): Promise<void>;
  /** Writes a line in the call's transcript (role 'system'). */
  note(text: string): void;
  /** True once the caller has hung up. */
  callerGone(): boolean;
  now(): Date;
}

/** Beyond the ringing timeout, how long the transfer request may take before we stop waiting. */
const REQUEST_GRACE_MS = 10_000;

export class TransferDesk {
  readonly attempts: TransferAttempt[] = [];
  private busy = false;

  constructor(private readonly line: TransferLine) {}

  /** True while a transfer is under way (the caller leaving then may be the transfer working). */
  get inFlight(): boolean {
    return this.busy;
  }

  transfer(req: TransferRequest): Promise<TransferResult> {
    return inSpan('transfer', { 'switchboard.transfer.mode': this.line.mode }, async (span) => {
      const result = await this.attempt(req);
      span.setAttribute('switchboard.transfer.result', result.status);
      return result;
    });
  }

  private async attempt(req: TransferRequest): Promise<TransferResult> {
    const requested = req.destination?.trim() || null;
    const to = this.line.allow.match(req.destination);
    if (!to) {
      // The model (or a caller talking it into something) named a destination nobody approved.
      log().warn({ callId: this.line.callId, requested }, 'transfer refused: destination is not on TRANSFER_ALLOWLIST');
      this.record({ requested, to: null, mode: 'cold', result: 'refused' });
      this.line.note(`transfer refused: ${requested} is not on the transfer allow-list; nothing was dialled`);
      return { status: 'refused', requested: requested ?? '' };
    }
    const dialled = dialledNumberOf(to);
    const check = dialled && this.line.dialPolicy ? checkDialable(dialled, this.line.dialPolicy, { requireValid: false }) : undefined;
    if (check && !check.ok) {
      // An allow-listed entry the policy forbids (TRANSFER_ALLOWLIST warned about it at start-up).
      log().warn({ callId: this.line.callId, to, reason: check.reason }, 'transfer refused: destination may never be dialled');
      this.record({ requested, to: null, mode: 'cold', result: 'refused', error: check.reason });
      this.line.note(`transfer refused: ${check.reason}; nothing was dialled`);
      return { status: 'refused', requested: requested ?? to };
    }
    if (this.busy) {
      return { status: 'failed', to, mode: 'cold', error: 'a transfer is already under way', timedOut: false, callbackPromised: false };
    }
    this.busy = true;
    try {
      await req.waitForSpeech?.().catch(() => undefined);
      await this.line.say(req.handoff);
      if (this.line.callerGone()) return this.callerLeft(requested, to, 'cold');

      const number = transferNumber(to);
      // Warm where it can work; where it cannot, the person is not rung and briefed for nothing
      // (and the caller not left on hold): they get the cold transfer warm would fall back to.
      const unavailable = this.line.mode === 'warm' && this.line.warmTransfer && number ? await this.line.warmUnavailable?.() : undefined;
      if (unavailable) {
        log().warn({ callId: this.line.callId, to, reason: unavailable }, 'warm transfer not possible; transferring cold');
        this.line.note(`warm transfer to ${to} not possible (${unavailable}); transferring cold`);
      } else if (this.line.mode === 'warm' && this.line.warmTransfer && number) {
        const warm = await this.warm(requested, to, number, req);
        if (warm.status !== 'failed') return warm;
        if (this.line.fallback === 'callback') {
          this.line.note('callback promised to the caller after the warm transfer did not connect');
          return { ...warm, callbackPromised: true };
        }
        await this.line.say(this.line.fallbackLine);
        if (this.line.callerGone()) return this.callerLeft(requested, to, 'cold');
      }
      return await this.cold(requested, to, req.summary);
    } finally {
      this.busy = false;
    }
  }

  private async warm(requested: string | null, to: string, number: string, req: TransferRequest): Promise<TransferResult> {
    try {
      await this.line.warmTransfer!({ number, history: req.history, reason: req.reason, ringSeconds: this.line.ringSeconds });
      this.record({ requested, to, mode: 'warm', result: 'transferred' });
      this.line.note(`warm transfer to ${to}: connected`);
      return { status: 'transferred', to, mode: 'warm' };
    } catch (err) {
      if (this.line.callerGone()) return this.callerLeft(requested, to, 'warm');
      const error = (err as Error).message;
      log().warn({ callId: this.line.callId, to, error }, 'warm transfer did not connect');
      this.record({ requested, to, mode: 'warm', result: 'failed', error });
      this.line.note(`warm transfer to ${to}: failed (${error})`);
      return { status: 'failed', to, mode: 'warm', error, timedOut: false, callbackPromised: false };
    }
  }

  private async cold(requested: string | null, to: string, summary: string | undefined): Promise<TransferResult> {
    const uri = transferUri(to);
    const deadline = this.line.ringSeconds * 1000 + REQUEST_GRACE_MS;
    const headers = summaryHeaders(this.line.summaryHeader, summary);
    try {
      await waitUntilTimeout(this.line.coldTransfer(uri, this.line.ringSeconds, headers), deadline);
      this.record({ requested, to, mode: 'cold', result: 'transferred' });
      this.line.note(`cold transfer to ${uri}: transferred`);
      return { status: 'transferred', to, mode: 'cold' };
    } catch (err) {
      const e = err as Error & { sipStatusCode?: number; sipStatus?: string; code?: string };
      const ownTimeout = e instanceof IdleTimeoutError;
      const sipStatus = e.sipStatusCode;
      // A caller who hangs up mid-transfer fails the REFER too; that is their hang-up, not a failure to report.
      if (this.line.callerGone()) return this.callerLeft(requested, to, 'cold');
      const error = ownTimeout
        ? `no answer from LiveKit within ${Math.round(deadline / 1000)} s`
        : sipStatus
          ? `SIP ${sipStatus}${e.sipStatus ? ` ${e.sipStatus}` : ''}`
          : e.code === 'canceled'
            ? // LiveKit SIP reports a REFER the destination declined or never answered (its NOTIFY
              // carried a failure) as Canceled with no SIP status: "twirp error unknown: call transfer failed".
              'the destination did not take the call'
            : e.message;
      const timedOut = ownTimeout || sipStatus === 408;
      log().warn({ callId: this.line.callId, to: uri, error }, 'cold transfer failed');
      this.record({ requested, to, mode: 'cold', result: 'failed', error, ...(sipStatus ? { sipStatus } : {}) });
      this.line.note(`cold transfer to ${uri}: failed (${error})`);
      return { status: 'failed', to, mode: 'cold', error, timedOut, ...(sipStatus ? { sipStatus } : {}), callbackPromised: false };
    }
  }

  private callerLeft(requested: string | null, to: string, mode: TransferMode): TransferResult {
    this.record({ requested, to, mode, result: 'caller_left' });
    this.line.note(`${mode} transfer to ${to}: the caller hung up before it completed`);
    return { status: 'caller_left', to };
  }

  private record(a: Omit<TransferAttempt, 'at'>): void {
    this.attempts.push({ at: this.line.now().toISOString(), ...a });
  }
}


/** Longest summary sent: carriers and phones drop or truncate long headers. */
const MAX_SUMMARY_CHARS = 200;

/**
 * The summary as a SIP header LiveKit puts on the REFER: one line of printable ASCII (a header
 * value cannot carry a line break, and not every carrier passes UTF-8). Carriers that copy X-
 * headers of a REFER to the new leg show it to the person who answers; others drop it.
 */
export function summaryHeaders(name: string | undefined, summary: string | undefined): Record<string, string> {
  if (!name || !summary) return {};
  const line = summary
    .normalize('NFKD')
    .replace(/[^\x20-\x7e]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, MAX_SUMMARY_CHARS);
  return line ? { [name]: line } : {};
}
