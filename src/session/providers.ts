/**
 * Builds the STT, LLM and TTS a call uses, from config, for a channel profile.
 *
 * Phone calls are built for 8 kHz end to end: STT is fed 8 kHz and TTS is asked for 8 kHz, so no
 * CPU or provider time goes on bandwidth a G.711 line cannot carry. A wideband trunk (G.722,
 * SIP_WIDEBAND) gets 16 kHz end to end instead: LiveKit SIP v1.0.0 does not tell the worker which
 * codec a leg negotiated (it is in the SIP call info, not in a participant attribute), but it
 * picks G.722 whenever the carrier offers it, and 16 kHz on a leg that fell back to G.711 only
 * costs some CPU, while 8 kHz on a G.722 leg throws away half of what the caller said. When more than one provider
 * of a kind is configured they are wrapped in the framework's FallbackAdapter, in config order.
 * The STT is wrapped once more, in a RestartableSTT (see restartableStt.ts).
 */
import { llm as llmNs, stt as sttNs, tts as ttsNs } from '@livekit/agents';
import * as cartesia from '@livekit/agents-plugin-cartesia';
import * as deepgram from '@livekit/agents-plugin-deepgram';
import * as openai from '@livekit/agents-plugin-openai';
import type { Config } from '../config.js';
import { LlmConnection } from './llmConnection.js';
import { RestartableSTT } from './restartableStt.js';
import { sttKeyterms } from './turnTaking.js';

export type ChannelProfile = 'phone' | 'phone-wideband' | 'browser';

/** Sample rates per profile: a G.711 line is 8 kHz, a G.722 line 16 kHz; a browser gets wideband. */
export const PROFILE_RATES: Record<ChannelProfile, { stt: number; tts: number; room: number }> = {
  phone: { stt: 8000, tts: 8000, room: 8000 },
  'phone-wideband': { stt: 16000, tts: 16000, room: 16000 },
  browser: { stt: 16000, tts: 24000, room: 24000 },
};

/** The profile of a call over the SIP trunk: wideband when the trunk is configured for G.722. */
export function phoneProfile(config: Pick<Config, 'SIP_WIDEBAND'>): ChannelProfile {
  return config.SIP_WIDEBAND ? 'phone-wideband' : 'phone';
}

/** Whether the call has a SIP leg (transfers, keypad), whatever its bandwidth. */
export function isPhoneProfile(profile: ChannelProfile): boolean {
  return profile !== 'browser';
}

/** Per-call key overrides: the sandbox routes each simulated call by the key it presents. */
export interface ProviderKeys {
  deepgram?: string;
  openai?: string;
  cartesia?: string;
}

export interface Providers {
  stt: sttNs.STT;
  llm: llmNs.LLM;
  tts: ttsNs.TTS;
  /** Keeps the primary LLM's connection open across the caller's turns (llmConnection.ts). */
  llmConnection?: LlmConnection;
}

function buildStt(config: Config, profile: ChannelProfile, keys: ProviderKeys): sttNs.STT {
  const rate = PROFILE_RATES[profile].stt;
  const instances = config.STT_PROVIDERS.map((name): sttNs.STT => {
    switch (name) {
      case 'deepgram':
        return new deepgram.STT({
          apiKey: keys.deepgram ?? config.DEEPGRAM_API_KEY,
          model: config.DEEPGRAM_MODEL,
          language: config.STT_LANGUAGE,
          sampleRate: rate,
          interimResults: true,
          // The session's own VAD ends turns; Deepgram's endpointing only shapes finals, so keep
          // it short to get the final transcript early.
          endpointing: 25,
          keyterm: sttKeyterms(config),
          // Deepgram masks card numbers and SSNs before the transcript leaves it (src/privacy/ does the rest).
          ...(config.REDACT_PII && config.STT_LANGUAGE.startsWith('en') ? { redact: ['pci', 'ssn'] } : {}),
          ...(config.DEEPGRAM_BASE_URL ? { baseUrl: config.DEEPGRAM_BASE_URL } : {}),
        });
      case 'cartesia':
        return new cartesia.STT({
          apiKey: keys.cartesia ?? config.CARTESIA_API_KEY,
          sampleRate: rate,
          language: config.STT_LANGUAGE.slice(0, 2),
          ...(config.CARTESIA_BASE_URL ? { baseUrl: config.CARTESIA_BASE_URL } : {}),
        });
    }
  });
  // Restartable: a provider stream that stops hearing the caller mid-call (Deepgram's plugin after
  // a server-side close) can be replaced by the call lifecycle without losing what they said.
  return new RestartableSTT(instances.length === 1 ? instances[0]! : new sttNs.FallbackAdapter({ sttInstances: instances }));
}

function buildLlm(config: Config, keys: ProviderKeys, connection: LlmConnection): llmNs.LLM {
  const primary = new openai.LLM({ model: config.OPENAI_MODEL, client: connection.client, temperature: 0.4 });
  if (!config.LLM_FALLBACK_MODEL) return primary;
  const fallback = new openai.LLM({
    model: config.LLM_FALLBACK_MODEL,
    apiKey: config.LLM_FALLBACK_API_KEY ?? keys.openai ?? config.OPENAI_API_KEY,
    baseURL: config.LLM_FALLBACK_BASE_URL ?? config.OPENAI_BASE_URL,
    temperature: 0.4,
  });
  // A caller waiting in silence is worse than a slightly different model: give up on the first
  // after 3 s without a first token.
  return new llmNs.FallbackAdapter({ llms: [primary, fallback], attemptTimeout: 3 });
}

function buildTts(config: Config, profile: ChannelProfile, keys: ProviderKeys): ttsNs.TTS {
  const rate = PROFILE_RATES[profile].tts;
  const instances = config.TTS_PROVIDERS.map((name): ttsNs.TTS => {
    switch (name) {
      case 'cartesia':
        return new cartesia.TTS({
          apiKey: keys.cartesia ?? config.CARTESIA_API_KEY,
          model: config.CARTESIA_MODEL,
          voice: config.CARTESIA_VOICE,
          sampleRate: rate,
          ...(config.CARTESIA_BASE_URL ? { baseUrl: config.CARTESIA_BASE_URL } : {}),
        });
      case 'deepgram':
        return new deepgram.TTS({
          apiKey: keys.deepgram ?? config.DEEPGRAM_API_KEY,
          model: config.DEEPGRAM_TTS_MODEL,
          sampleRate: rate,
          ...(config.DEEPGRAM_BASE_URL ? { baseUrl: config.DEEPGRAM_BASE_URL } : {}),
        });
    }
  });
  return instances.length === 1 ? instances[0]! : new ttsNs.FallbackAdapter({ ttsInstances: instances });
}

export function buildProviders(config: Config, profile: ChannelProfile, keys: ProviderKeys = {}): Providers {
  const apiKey = keys.openai ?? config.OPENAI_API_KEY;
  if (apiKey === undefined) throw new Error('OPENAI_API_KEY is not set');
  const llmConnection = new LlmConnection({ apiKey, ...(config.OPENAI_BASE_URL ? { baseURL: config.OPENAI_BASE_URL } : {}) });
  return {
    stt: buildStt(config, profile, keys),
    llm: buildLlm(config, keys, llmConnection),
    tts: buildTts(config, profile, keys),
    llmConnection,
  };
}

/** Closes what `buildProviders` built (its sockets and pools); a failure to close is not the call's. */
export async function closeProviders(p: Providers): Promise<void> {
  p.llmConnection?.close();
  await Promise.allSettled([p.stt.close(), p.llm.aclose(), p.tts.close()]);
}
