/**
 * The caller's side of a simulated call: plays the scenario's steps against the running session,
 * each at the moment a caller would (once the agent has finished its turn, at a barge-in point,
 * when a phone menu's keys arrive), and injects the scenario's faults at fixed points of the
 * conversation. Knowing when the agent's turn is over is most of the work, so that is here too.
 */
import { delay, voice } from '@livekit/agents';
import type { CallUserdata } from '../../tools/callContext.js';
import type { EmulatedCaller } from './caller.js';
import { callWait } from './callWait.js';
import type { CallWorld } from './callWorld.js';
import { FAULT_NOTES } from './faults.js';
import type { PacedAudioOutput } from './localAudio.js';
import type { Fault, Scenario } from './scenario.js';
import type { SimEvent } from './simulatedCall.js';

type Session = voice.AgentSession<CallUserdata>;

const TURN_TIMEOUT_MS = 30_000;
const SETTLE_MS = 400;

/** What the driver plays against: the world, the caller's phone, and the call's session. */
export interface Stage {
  scenario: Scenario;
  world: CallWorld;
  caller: EmulatedCaller;
  output: PacedAudioOutput;
  tools: RunningTools;
  /** Resolves once the caller may begin: the session is up and, outbound, the phone answered. */
  ready: Promise<void>;
  session: () => Session | undefined;
  /** Where the caller's key presses go (set by the call; phone calls only). */
  keypad: () => ((key: string) => void) | undefined;
  shutdown: AbortController;
  emit: (ev: SimEvent) => void;
}

/**
 * Plays the scenario until its script or the call ends, whichever is first. The result's `error`
 * is read when the checks run, not now: a driver that fails after the call ended still fails the
 * scenario.
 */
export async function playScenario(stage: Stage, callDone: Promise<unknown>): Promise<{ readonly error: unknown }> {
  // The caller's waits give up when the call ends: each would otherwise keep its 30 s timer, and
  // its listener on the session, long after the call it waits in.
  const callOver = new AbortController();
  void callDone.finally(() => callOver.abort()).catch(() => undefined);
  let error: unknown;
  await Promise.race([
    steps(stage, callDone, callOver.signal).catch((err) => {
      error = err;
      stage.caller.hangUp();
    }),
    callDone.catch(() => undefined),
  ]);
  return {
    get error() {
      return error;
    },
  };
}

async function steps(stage: Stage, callDone: Promise<unknown>, callOver: AbortSignal): Promise<void> {
  const ended = () => callOver.aborted;
  const { scenario, world, caller, output, tools, emit } = stage;
  const { emulators, key } = world;
  await Promise.race([stage.ready, callDone]);
  const s = stage.session();
  if (!s || ended()) return;
  // What the STT was told to make of leaked tones. If the tones never became a transcript (the
  // call kept them from the STT), it must not be handed to the caller's next real line.
  let misheard: string | undefined;
  const dropUnusedMisheard = () => {
    if (misheard === undefined) return;
    const queue = (emulators?.deepgram as { channel?: (k: string) => { peek(): string | undefined; shift(): unknown } } | undefined)?.channel?.(key);
    if (queue?.peek() === misheard) queue.shift();
    misheard = undefined;
  };
  // A fault takes effect once the agent has finished its turn, just before the caller's next
  // step, so it always hits the same point of the conversation (not a reply still in flight).
  let pending: Fault[] = [];
  const applyFaults = () => {
    for (const fault of pending) {
      emit({ type: 'note', text: FAULT_NOTES[fault], at: Date.now() });
      world.faults.inject(fault);
    }
    pending = [];
  };
  for (const [index, step] of scenario.steps.entries()) {
    if (ended()) return;
    if ('caller' in step) {
      // Whoever answers an outbound call speaks first ("Hello?", or a voicemail greeting).
      if (world.outbound && index === 0) {
        if (step.after) await delay(step.after);
      } else if (step.afterKeys !== undefined) {
        // A phone menu answers the keys it hears, whatever the agent is doing.
        await caller.waitForKeys(step.afterKeys, TURN_TIMEOUT_MS, callOver);
        if (step.after) await delay(step.after);
      } else if (step.bargeIn !== undefined) {
        await agentStartsSpeaking(s, callOver);
        await delay(step.bargeIn);
      } else {
        await agentDone(s, output, tools, callOver);
        if (step.after) await delay(step.after);
      }
      if (ended()) return;
      applyFaults();
      dropUnusedMisheard();
      emulators?.deepgram.expect(key, step.caller);
      emit({ type: 'caller', text: step.caller, at: Date.now() });
      await caller.say(step.caller);
    } else if ('pause' in step) {
      applyFaults();
      await delay(step.pause);
    } else if ('hangup' in step) {
      if (step.midReply) {
        await agentStartsSpeaking(s, callOver);
        await delay(300);
      } else {
        await agentDone(s, output, tools, callOver);
      }
      if (ended()) return;
      applyFaults();
      emit({ type: 'note', text: 'caller hangs up', at: Date.now() });
      caller.hangUp();
      return;
    } else if ('silence' in step) {
      applyFaults();
      emit({ type: 'note', text: 'caller stays silent', at: Date.now() });
      return;
    } else if ('shutdown' in step) {
      await agentDone(s, output, tools, callOver);
      if (ended()) return;
      applyFaults();
      emit({ type: 'note', text: 'the worker is shutting down', at: Date.now() });
      stage.shutdown.abort();
      return;
    } else if ('fault' in step) {
      pending.push(step.fault);
    } else if ('slowStore' in step) {
      emit({ type: 'note', text: `the appointment store slows to ${step.slowStore} ms a call`, at: Date.now() });
      world.faults.slowStore(step.slowStore);
    } else {
      // The agent may still be in a tool waiting for these keys (it asked, then went quiet).
      await agentDone(s, output, tools, callOver, { quietIsEnough: true });
      if (step.after) await delay(step.after);
      if (ended()) return;
      applyFaults();
      const keypad = stage.keypad();
      if (!keypad) throw new Error('this call has no keypad (a browser session?)');
      // Tones that leak into the audio reach the STT; this is what it will make of them.
      if (step.misheardAs) {
        if (!emulators || !('channel' in emulators.deepgram)) throw new Error("misheardAs needs the in-process sandbox's STT queue (live, mark the scenario offlineOnly)");
        dropUnusedMisheard();
        emulators.deepgram.expect(key, step.misheardAs);
        misheard = step.misheardAs;
      }
      emit({ type: 'note', text: `caller presses ${step.dtmf}${step.inBand ? ' (tones audible on the line)' : ''}`, at: Date.now() });
      await caller.pressKeys(step.dtmf, (k) => keypad(k), { inBand: step.inBand });
    }
  }
  // A fault at the end of the script still happens, after the caller's last step.
  if (!ended()) applyFaults();
}

/**
 * Resolves when the agent has finished its turn: it spoke, stopped, and stayed quiet a moment.
 * With `quietIsEnough`, stopping to think counts too: a tool that asked a question and now waits
 * for keys keeps the agent "thinking" until the keys come. Resolves too once `callOver` aborts.
 */
function agentDone(
  s: Session,
  output: PacedAudioOutput,
  tools: RunningTools,
  callOver: AbortSignal,
  opts: { quietIsEnough?: boolean } = {},
): Promise<void> {
  return callWait(
    (done) => {
      let spoke = s.agentState === 'speaking';
      let settle: NodeJS.Timeout | undefined;
      const arm = () => {
        if (settle) clearTimeout(settle);
        settle = undefined;
        if (!opts.quietIsEnough && tools.open > 0) return;
        settle = setTimeout(() => {
          if (!opts.quietIsEnough && tools.open > 0) return;
          done();
        }, Math.max(SETTLE_MS, output.playoutEndsAt - Date.now() + 50));
      };
      const onState = (ev: { newState: string; oldState?: string }) => {
        if (opts.quietIsEnough && ev.newState === 'thinking' && ev.oldState === 'speaking') {
          arm();
        } else if (ev.newState === 'speaking' || ev.newState === 'thinking') {
          spoke ||= ev.newState === 'speaking';
          if (settle) clearTimeout(settle);
          settle = undefined;
        } else if (ev.newState === 'listening' && spoke) {
          arm();
        }
      };
      // A turn still running a tool is not over, even if the agent went quiet ("please hold", "one
      // moment"): a caller who heard that holds on. The check runs again when a turn finishes.
      const offSettled = tools.onSettled(() => {
        if (spoke && s.agentState === 'listening') arm();
      });
      s.on(voice.AgentSessionEventTypes.AgentStateChanged, onState);
      return () => {
        if (settle) clearTimeout(settle);
        s.off(voice.AgentSessionEventTypes.AgentStateChanged, onState);
        offSettled();
      };
    },
    { timeoutMs: TURN_TIMEOUT_MS, timeoutError: () => new Error(`the agent did not finish a reply within ${TURN_TIMEOUT_MS / 1000} s`), until: callOver },
  );
}

/** Resolves when the agent starts speaking, or once `callOver` aborts; rejects after 30 s. */
function agentStartsSpeaking(s: Session, callOver: AbortSignal): Promise<void> {
  return callWait(
    (done) => {
      const onState = (ev: { newState: string }) => {
        if (ev.newState === 'speaking') done();
      };
      s.on(voice.AgentSessionEventTypes.AgentStateChanged, onState);
      return () => s.off(voice.AgentSessionEventTypes.AgentStateChanged, onState);
    },
    { timeoutMs: TURN_TIMEOUT_MS, timeoutError: () => new Error('the agent never started speaking'), until: callOver },
  );
}

/**
 * The tools the model has called that have not finished yet. A turn whose tool is still running is
 * not over, even when the agent has gone quiet after "please hold" or "one moment".
 */
export class RunningTools {
  private readonly pending: string[] = [];
  private readonly listeners = new Set<() => void>();

  get open(): number {
    return this.pending.length;
  }

  /** A new scripted reply asked for these tools. */
  requested(names: string[]): void {
    this.pending.push(...names);
  }

  watch(s: Session): void {
    s.on(voice.AgentSessionEventTypes.FunctionToolsExecuted, (ev) => {
      for (const call of ev.functionCalls) {
        const i = this.pending.indexOf(call.name);
        if (i >= 0) this.pending.splice(i, 1);
      }
      for (const l of this.listeners) l();
    });
  }

  onSettled(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
