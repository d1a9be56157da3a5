/**
 * Builds the AgentSession for one call, with the turn-taking profile tuned for phone calls.
 *
 * Everything that decides how the agent listens and when it answers is here, in one place:
 * VAD-based turn detection (the LiveKit turn-detector model needs a download, so it is not used),
 * short fixed endpointing, VAD interruptions, preemptive LLM generation (the reply starts while the
 * endpointing delay is still running), and the silence reprompt through `userAwayTimeout`.
 */
import { type VAD, voice } from '@livekit/agents';
import * as silero from '@livekit/agents-plugin-silero';
import type { CallUserdata } from '../../tools/callContext.js';
import type { Config } from '../config.js';
import { type ChannelProfile, PROFILE_RATES, type Providers } from './providers.js';
import { SileroBatchSession } from './sileroBatch.js';
import { interruptionRule } from './turnTaking.js';

/**
 * Loads Silero once per process (the worker's prewarm). 8 kHz: the phone channel carries nothing
 * above 4 kHz, and the model runs the same 32 ms windows on half the samples. Every call in the
 * process shares one batched session (sileroBatch.ts): windows that are due together run as one.
 */
export async function loadVad(): Promise<VAD> {
  const session = await SileroBatchSession.create();
  // The plugin only calls `run` on its session; SileroBatchSession answers it in the same shape.
  return new silero.VAD(session as unknown as ConstructorParameters<typeof silero.VAD>[0], {
    sampleRate: 8000,
    // Short silence: endpointing (ENDPOINTING_MS) decides the turn, the VAD only marks speech.
    minSilenceDuration: 250,
    minSpeechDuration: 60,
    prefixPaddingDuration: 300,
    activationThreshold: 0.5,
    // The plugin's defaults for the rest (VAD.load merges them; the constructor does not).
    maxBufferedSpeech: 60_000,
    forceCPU: true,
  });
}

/**
 * How long after the caller stops speaking a transcript may take. Deepgram's final comes a few
 * hundred ms after the end of speech; the margin is for a slow moment, because past it the STT
 * stream is replaced (cheap, but not free).
 */
export const STT_TRANSCRIPTION_TIMEOUT_MS = 2500;

export interface SessionSpec {
  config: Config;
  profile: ChannelProfile;
  vad: VAD;
  providers: Providers;
  userdata: CallUserdata;
}

export function createSession({ config, profile, vad, providers, userdata }: SessionSpec): voice.AgentSession<CallUserdata> {
  const session = new voice.AgentSession<CallUserdata>({
    vad,
    stt: providers.stt,
    llm: providers.llm,
    tts: providers.tts,
    userData: userdata,
    maxToolSteps: 5,
    // A caller hears every retry as silence: one quick retry, then the lifecycle apologises or
    // restarts the STT (or the FallbackAdapter moves on to the next provider).
    connOptions: {
      sttConnOptions: { maxRetry: 1, retryIntervalMs: 300, timeoutMs: 8000 },
      llmConnOptions: { maxRetry: 1, retryIntervalMs: 300, timeoutMs: 8000 },
      ttsConnOptions: { maxRetry: 1, retryIntervalMs: 300, timeoutMs: 8000 },
    },
    // The caller spoke (the VAD heard them) but no transcript came: the lifecycle gives the STT a
    // new stream (an STT can go deaf without an error; see restartableStt.ts).
    transcriptionTimeout: STT_TRANSCRIPTION_TIMEOUT_MS,
    // "Are you still there?" after this much mutual silence; the lifecycle counts reprompts.
    userAwayTimeout: config.SILENCE_REPROMPT_SECONDS,
    // The phone network cancels its own echo; suppressing barge-in for 3 s would only make the
    // greeting impossible to interrupt.
    aecWarmupDuration: null,
    turnHandling: {
      // A turn-detector model here needs `localAudioEot` back on in worker.ts: the worker does
      // not start the framework's end-of-turn model, which no 'vad' session asks.
      turnDetection: 'vad',
      endpointing: { mode: 'fixed', minDelay: config.ENDPOINTING_MS, maxDelay: Math.max(2000, config.ENDPOINTING_MS * 4) },
      interruption: { enabled: true, mode: 'vad', ...interruptionRule(config, profile) },
      // Preemptive TTS as well: the first audio is ready when the turn is confirmed instead of a
      // TTS round trip later (measured: first audio p50 ~585 → ~520 ms at N=1, bench/README.md).
      preemptiveGeneration: { enabled: true, preemptiveTts: config.PREEMPTIVE_TTS },
    },
  });
  // While the caller speaks, make sure the LLM's connection is open for the request their final
  // transcript will start (llmConnection.ts): a handshake there is silence the caller hears.
  const connection = providers.llmConnection;
  if (connection) {
    session.on(voice.AgentSessionEventTypes.UserStateChanged, (ev) => {
      if (ev.newState === 'speaking') connection.warm();
    });
    session.on(voice.AgentSessionEventTypes.UserInputTranscribed, (ev) => {
      if (!ev.isFinal) connection.warm();
    });
  }
  return session;
}

/** RoomIO options per profile. The lifecycle, not RoomIO, owns hang-up and room deletion. */
export function roomIoOptions(profile: ChannelProfile, participantIdentity: string, frameMs?: number) {
  const rate = PROFILE_RATES[profile].room;
  return {
    inputOptions: {
      audioSampleRate: rate,
      // (patches/) rtc-node's frame size; unset keeps its default.
      ...(frameMs ? { audioFrameSizeMs: frameMs } : {}),
      participantIdentity,
      closeOnDisconnect: false,
      deleteRoomOnClose: false,
    },
    outputOptions: { audioSampleRate: rate },
  };
}
