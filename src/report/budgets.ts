/**
 * Latency budgets a call report holds each turn stage to. Published figures, not ours: each one
 * cites its source (the project's reference notes, /work/shared/reference/README.md, "Latency
 * anchors"). A stage without a published budget has none here rather than a made-up one.
 */
import type { TurnStageKey } from '../call/latency.js';

export interface Budget {
  ms: number;
  source: string;
}

const CASE_STUDY = 'restaurant-booking agent with an 800 ms budget, which measured 530 ms to first audio (reference notes, "Case study with a budget")';

export const STAGE_BUDGETS: Partial<Record<TurnStageKey, Budget>> = {
  // The whole budget: caller stops speaking → first agent audio.
  firstAudioMs: { ms: 800, source: CASE_STUDY },
  // Its per-stage split: STT 150 ms, LLM time to first token 200 ms, TTS 130 ms (network 50 ms).
  sttFinalMs: { ms: 150, source: CASE_STUDY },
  llmTtftMs: { ms: 200, source: CASE_STUDY },
  ttsTtfbMs: { ms: 130, source: CASE_STUDY },
  // endpointingMs: no published budget; it is a setting (ENDPOINTING_MS), not a provider's time.
};

/**
 * Where people start to hear a gap: "Most people call a call 'robotic' once the gap passes
 * 600–700 ms" (reference notes, "Where delay becomes a problem"). Shown beside first audio.
 */
export const ROBOTIC_GAP_MS = { ms: 700, source: 'reference notes, "Where delay becomes a problem" (600–700 ms)' };
