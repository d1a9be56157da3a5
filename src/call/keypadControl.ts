/**
 * The call's keypad, between the caller's phone and the session: keys the caller presses reach the
 * agent (as a burst) or a tool (as a code), and the agent sends tones of its own (another company's
 * phone menu). dtmf.ts decides where each key goes; this is what a key does to the session, and
 * the `KeypadControl` the tools see.
 */
import { delay, log, type voice } from '@livekit/agents';
import type { CallUserdata } from '../../tools/callContext.js';
import type { CollectDigitsRequest, KeypadControl } from '../../tools/callContext.js';
import { dtmfCode, keypadLine, parseDtmfSequence } from '../telephony/dtmfKeys.js';
import { Keypad } from './dtmf.js';
import { ignoreError } from './sessionGuards.js';

/** After the last key, what the STT hears is still taken for the tone (leaked DTMF audio), not words. */
const KEYPAD_GUARD_MS = 1500;
/** Between tones we send: long enough for each to be heard as its own key (as the framework's send_dtmf). */
const DTMF_SEND_GAP_MS = 300;
const DTMF_PAUSE_MS = 500;

export interface KeypadDeps {
  callId: string;
  interDigitMs: number;
  /** The session while it runs; undefined before it exists and once it has closed. */
  live: () => voice.AgentSession<CallUserdata> | undefined;
  /** True once the call is ending: keys then reach nobody, and no more tones go out. */
  ending: () => boolean;
  /** Writes a line in the call's transcript. */
  note: (role: 'caller' | 'system', text: string) => void;
  /** Holds the silence policy while a tool waits for a code; returns the release. */
  hold: () => () => void;
  /** Sends one tone to the far end; undefined when this call cannot. */
  publishDtmf?: (code: number, key: string) => Promise<void>;
  /** The call's timers, cleared when it ends. */
  timers: NodeJS.Timeout[];
}

export class CallKeypad {
  readonly control: KeypadControl;
  private readonly keypad: Keypad;
  private readonly sent: string[] = [];
  private muted = false;
  private unmuteTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: KeypadDeps) {
    this.keypad = new Keypad({
      interDigitMs: deps.interDigitMs,
      guardMs: KEYPAD_GUARD_MS,
      onKey: (_key, { startsBurst }) => this.onKey(startsBurst),
      onBurst: (keys) => {
        const session = deps.live();
        if (deps.ending() || !session) return;
        // The keys reach the current agent as the caller's input (and the transcript records them so).
        ignoreError(() => session.generateReply({ userInput: keypadLine(keys) }));
      },
    });
    this.control = { collect: (r) => this.collect(r), send: (keys) => this.send(keys) };
  }

  /** A key the caller pressed. */
  press(key: string): void {
    this.keypad.press(key);
  }

  /** True while keys are being pressed: what the STT hears then is tones, not words. */
  get busy(): boolean {
    return this.keypad.busy;
  }

  /** The tones the agent sent, in order (`w` pauses left out). */
  get keysSent(): string {
    return this.sent.join('');
  }

  close(): void {
    this.keypad.close();
  }

  // While keys are pressed, the caller's audio is kept from the STT and VAD: on lines where the
  // tones leak into the audio they would otherwise become words ("one two") or an interruption.
  // The key event comes as the key is released, so the tone has begun by then: that partial turn is
  // cleared, and the audio stays off until the tones (and the pipeline's tail) are over.
  private onKey(startsBurst: boolean): void {
    const session = this.deps.live();
    if (!session) return;
    ignoreError(() => session.clearUserTurn());
    if (!this.muted && session.input.audioEnabled) {
      this.muted = true;
      ignoreError(() => session.input.setAudioEnabled(false));
    }
    if (this.unmuteTimer) clearTimeout(this.unmuteTimer);
    this.unmuteTimer = setTimeout(() => this.unmuteAfterKeys(), KEYPAD_GUARD_MS);
    this.deps.timers.push(this.unmuteTimer);
    // A key pressed while the agent talks answers it, as on any phone menu.
    if (startsBurst) ignoreError(() => session.interrupt());
  }

  private unmuteAfterKeys(): void {
    this.unmuteTimer = undefined;
    if (!this.muted) return;
    this.muted = false;
    const session = this.deps.live();
    if (!session) return;
    ignoreError(() => session.input.setAudioEnabled(true));
    ignoreError(() => session.clearUserTurn());
  }

  private async collect(r: CollectDigitsRequest) {
    const release = this.deps.hold();
    try {
      const terminator = r.terminator === undefined ? '#' : r.terminator;
      const waitMs = Math.round((r.timeoutSeconds ?? 8) * 1000);
      const result = await this.keypad.collect(
        { maxDigits: r.maxDigits, terminator, firstDigitTimeoutMs: waitMs, interDigitTimeoutMs: waitMs },
        { signal: r.signal, onFirstKey: r.onFirstKey, startTimerAfter: r.startTimerAfter },
      );
      const typed = result.digits + (result.ended === 'terminator' && terminator ? terminator : '');
      if (typed) this.deps.note('caller', keypadLine(typed));
      return result;
    } finally {
      release();
    }
  }

  private async send(keys: string): Promise<{ sent: string } | { error: string }> {
    const { publishDtmf, note } = this.deps;
    const parsed = parseDtmfSequence(keys);
    if ('error' in parsed) return parsed;
    if (!publishDtmf) return { error: 'this call cannot send keypad tones' };
    let sent = '';
    try {
      for (const k of parsed.keys) {
        if (this.deps.ending()) break;
        if (k === 'w') {
          await delay(DTMF_PAUSE_MS);
          continue;
        }
        await publishDtmf(dtmfCode(k), k);
        sent += k;
        this.sent.push(k);
        await delay(DTMF_SEND_GAP_MS);
      }
    } catch (err) {
      log().warn({ callId: this.deps.callId, error: (err as Error).message }, 'sending keypad tones failed');
      if (sent) note('system', `keypad tones sent: ${sent}`);
      return { error: (err as Error).message };
    }
    note('system', `keypad tones sent: ${sent}`);
    return { sent };
  }
}
