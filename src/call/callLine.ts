/**
 * The call's line gate (agents/deps.ts `LineGate`): shut until the caller can hear us, then open
 * for good, or never opened when the call ends first.
 *
 * It also remembers when the caller last began to speak, because on an outbound call the callee
 * says "Hello?" while answering-machine detection is still listening. That turn is answered by the
 * greeting. On the real stack its transcript can arrive after AMD has already said "human" and
 * the line has opened (AMD decides on 0.5 s of silence; Deepgram's final comes later), so "was
 * the line open when the turn committed" is the wrong question: the right one is "was it open
 * when the caller started saying it".
 */
import { voice } from '@livekit/agents';
import type { LineGate } from '../../agents/deps.js';

export class CallLine implements LineGate {
  private openedAt: number | undefined;
  private callerSpokeAt: number | undefined;
  private settle!: (open: boolean) => void;
  readonly ready = new Promise<boolean>((r) => (this.settle = r));

  get open(): boolean {
    return this.openedAt !== undefined;
  }

  get turnBeganClosed(): boolean {
    return this.openedAt !== undefined && this.callerSpokeAt !== undefined && this.callerSpokeAt < this.openedAt;
  }

  /** The caller can hear us now. */
  openNow(): void {
    this.openedAt ??= performance.now();
    this.settle(true);
  }

  /** The call ended before the line opened: the agent never says anything. No effect once open. */
  neverOpen(): void {
    this.settle(false);
  }

  /** Follows the caller's speech (the session's VAD), for `turnBeganClosed`. */
  watch(session: voice.AgentSession<unknown>): void {
    session.on(voice.AgentSessionEventTypes.UserStateChanged, (ev) => {
      if (ev.newState === 'speaking') this.callerSpokeAt = performance.now();
    });
  }
}
