/**
 * How a call reacts when the conversation stalls: a caller who has gone quiet, and providers that
 * fail (LLM, TTS, STT). The framework would leave the caller in silence or close the session on
 * its own; these policies apologise, retry, or end the call politely through `CallEnd` instead.
 * `PolicyHold` pauses the silence policy while the caller's silence is expected.
 */
import { log, type stt as sttNs, voice } from '@livekit/agents';
import type { CallUserdata } from '../../tools/callContext.js';
import type { Config } from '../config.js';
import { RestartableSTT } from '../session/restartableStt.js';
import type { EndRequest } from './callEnd.js';
import { describeError, ignoreError } from './sessionGuards.js';

/** New STT streams a call gets before an STT that still hears nothing ends it. */
const MAX_STT_RESTARTS = 2;

/**
 * While the caller is on hold (a transfer ringing) or keying in a code, their silence is expected:
 * the silence policy must not ask "are you still there?" or hang up on them.
 */
export class PolicyHold {
  private count = 0;
  /** Set by the silence policy: a hold that starts cancels its countdown. */
  onStart: () => void = () => undefined;

  /** Holds the policies until the returned release is called (once; more calls do nothing). */
  hold(): () => void {
    this.count++;
    this.onStart();
    let released = false;
    return () => {
      if (!released) this.count--;
      released = true;
    };
  }

  get held(): boolean {
    return this.count > 0;
  }
}

export interface PolicyDeps {
  config: Pick<Config, 'SILENCE_TIMEOUT_SECONDS'>;
  /** The business's lines for a stalled call (business.yaml). */
  lines: Pick<Config['business']['lines'], 'goodbyes' | 'reprompt' | 'llmRetryApology'>;
  end: (r: EndRequest) => void;
  /** The call's timers, cleared when it ends. */
  timers: NodeJS.Timeout[];
  hold: PolicyHold;
  /** The session's STT: a `RestartableSTT` gets a new stream when it stops hearing the caller. */
  stt: sttNs.STT;
}

/** The call policies that react to the session: silence, provider failures. */
export function wirePolicies(session: voice.AgentSession<CallUserdata>, deps: PolicyDeps): void {
  deps.hold.onStart = silencePolicy(session, deps);
  failurePolicy(session, deps);
}

/** Returns the cancel of the countdown to hanging up, for a hold that starts. */
function silencePolicy(session: voice.AgentSession<CallUserdata>, { config, lines, end: requestEnd, timers, hold }: PolicyDeps): () => void {
  const onHold = () => hold.held;
  // Silence: the framework marks the caller "away" after SILENCE_REPROMPT_SECONDS of mutual
  // silence; we ask once, then give them SILENCE_TIMEOUT_SECONDS more after the question ends.
  let silenceTimer: NodeJS.Timeout | undefined;
  const cancelSilence = () => {
    if (silenceTimer) clearTimeout(silenceTimer);
    silenceTimer = undefined;
  };
  session.on(voice.AgentSessionEventTypes.UserStateChanged, (ev) => {
    if (ev.newState === 'speaking') cancelSilence();
    if (ev.newState !== 'away' || onHold()) return;
    let reprompt: voice.SpeechHandle;
    try {
      reprompt = session.say(lines.reprompt);
    } catch {
      // The session is closing (the call is ending): there is nobody left to ask. Thrown from an
      // event handler, this would take down every call in the process.
      return;
    }
    reprompt.addDoneCallback(() => {
      if (session.userState === 'speaking') return;
      cancelSilence();
      silenceTimer = setTimeout(
        () => {
          if (!onHold()) requestEnd({ outcome: { kind: 'silence_timeout' }, goodbye: lines.goodbyes.silence_timeout });
        },
        config.SILENCE_TIMEOUT_SECONDS * 1000,
      );
      timers.push(silenceTimer);
    });
  });
  session.on(voice.AgentSessionEventTypes.UserInputTranscribed, (ev) => {
    if (ev.isFinal && ev.transcript.trim()) cancelSilence();
  });
  return cancelSilence;
}

function failurePolicy(session: voice.AgentSession<CallUserdata>, { lines, end: requestEnd, timers, stt }: PolicyDeps): void {
  // Provider failures: an LLM failure gets one apology and a chance to repeat; a failure on the
  // next caller turn too ends the call politely. Failures are counted per caller turn, because
  // one turn can fail twice (the preemptive request, then the committed one). A TTS failure leaves
  // no voice to apologise with, so the call ends at once rather than leaving the caller in silence.
  let callerTurns = 0;
  let failedTurn = -1;
  let failedTurnsInARow = 0;
  let agentMessages = 0;
  session.on(voice.AgentSessionEventTypes.UserInputTranscribed, (ev) => {
    if (ev.isFinal && ev.transcript.trim()) callerTurns++;
  });
  // Lines the lifecycle says itself are not evidence that the model works again.
  const ownLines = new Set<string>([lines.llmRetryApology, lines.reprompt]);
  session.on(voice.AgentSessionEventTypes.ConversationItemAdded, (ev) => {
    if (ev.item.type === 'message' && ev.item.role === 'assistant') {
      agentMessages++;
      if (!ownLines.has((ev.item.textContent ?? '').trim())) failedTurnsInARow = 0;
    }
  });
  // STT failures: the caller spoke (the VAD heard them) and no transcript came, or the STT stream
  // gave up by itself. Either way the caller is talking to no one, and nothing in the framework
  // will notice (restartableStt.ts says why). The STT gets a new stream, which replays what the
  // caller said, so their line is still answered; after MAX_STT_RESTARTS with nothing transcribed
  // in between, the call ends politely: the agent can still speak, it just cannot hear.
  const restartable = stt instanceof RestartableSTT ? stt : undefined;
  let sttFailures = 0;
  const sttFailed = (why: string) => {
    if (sttFailures >= MAX_STT_RESTARTS) {
      requestEnd({ outcome: { kind: 'error', error: `stt_error: ${why}` }, goodbye: lines.goodbyes.error });
      return;
    }
    sttFailures++;
    log().warn({ reason: why, restart: sttFailures }, 'the STT is not hearing the caller');
    restartable?.restart(why);
  };
  session.on(voice.AgentSessionEventTypes.UserTranscriptionTimeout, () => sttFailed('the caller spoke and no transcript came'));
  const offStreamFailure = restartable?.onStreamFailure((err) => sttFailed(err.message));
  session.on(voice.AgentSessionEventTypes.Close, () => offStreamFailure?.());
  session.on(voice.AgentSessionEventTypes.UserInputTranscribed, (ev) => {
    if (ev.isFinal && ev.transcript.trim()) sttFailures = 0;
  });

  session.on(voice.AgentSessionEventTypes.Error, (ev) => {
    const err = ev.error;
    if ((err as { recoverable?: boolean }).recoverable) return;
    const message = describeError(err);
    if (err.type === 'tts_error') {
      requestEnd({ outcome: { kind: 'error', error: message } });
      return;
    }
    if (err.type !== 'llm_error' || failedTurn === callerTurns) return;
    failedTurn = callerTurns;
    failedTurnsInARow++;
    if (failedTurnsInARow >= 2) {
      requestEnd({ outcome: { kind: 'error', error: message }, goodbye: lines.goodbyes.error });
      return;
    }
    // Speaking now would be cut off by the turn the framework is still committing; wait until
    // the agent is idle, and apologise only if nothing was said in the meantime.
    const saidBefore = agentMessages;
    whenIdle(session, timers, () => {
      // The poll can outlive the call (its timers were cleared before it pushed the next one).
      if (agentMessages === saidBefore) ignoreError(() => session.say(lines.llmRetryApology));
    });
  });
}

/** Runs `fn` once the agent is listening and the caller quiet; gives up after a few seconds. */
function whenIdle(session: voice.AgentSession<CallUserdata>, timers: NodeJS.Timeout[], fn: () => void): void {
  let polls = 0;
  const check = () => {
    if (session.agentState === 'listening' && session.userState !== 'speaking') fn();
    else if (++polls < 50) timers.push(setTimeout(check, 100));
  };
  timers.push(setTimeout(check, 300));
}
