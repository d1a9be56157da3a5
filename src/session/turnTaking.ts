/**
 * How a caller may interrupt the agent, per channel. On a phone line, "uh-huh", "mm-hmm", a cough
 * or a door are speech to the VAD; an agent that stops for each never finishes a sentence. So on
 * the phone an interruption needs words (MIN_INTERRUPTION_WORDS, counted by the framework on the
 * live transcript) as well as MIN_INTERRUPTION_MS of speech: a cough has no words, a backchannel
 * has one. A browser has a headset and echo cancellation, and one word ("stop") is enough there.
 */
import type { Config } from '../config.js';
import { type ChannelProfile, isPhoneProfile } from './providers.js';

export interface InterruptionRule {
  minDuration: number;
  minWords: number;
}

export function interruptionRule(config: Pick<Config, 'MIN_INTERRUPTION_MS' | 'MIN_INTERRUPTION_WORDS'>, profile: ChannelProfile): InterruptionRule {
  return {
    minDuration: config.MIN_INTERRUPTION_MS,
    minWords: isPhoneProfile(profile) ? config.MIN_INTERRUPTION_WORDS : Math.min(1, config.MIN_INTERRUPTION_WORDS),
  };
}

/** Words the STT should expect (Deepgram keyterms): the business's own name first, then STT_KEYTERMS. */
export function sttKeyterms(config: Pick<Config, 'BUSINESS_NAME' | 'STT_KEYTERMS'>): string[] {
  return [...new Set([config.BUSINESS_NAME, ...config.STT_KEYTERMS].map((t) => t.trim()).filter(Boolean))];
}
