/**
 * A turn's way along the STT → LLM → TTS chain, as ms after the caller stopped speaking (the
 * VAD's anchor): each emulator's own stamp beside the worker's figure for the same step, so the
 * time between "sent" and the worker's stamp is the worker's. Null: the step did not happen or
 * was not matched. Shared by bench:calls and bench:rooms, which fill it from the same emulators.
 */
export interface ChainStages {
  /** The STT emulator received the last speech; its final left; the worker's STT final. */
  dgSpeechEnd: number | null;
  dgFinalSent: number | null;
  sttFinal: number | null;
  /** The LLM emulator received the request; its first chunk left; the worker's first token. */
  llmRequest: number | null;
  llmFirstChunkSent: number | null;
  llmFirstToken: number | null;
  /** The worker committed the turn. */
  endOfTurn: number | null;
  /** The TTS emulator received the first text; its first byte left; the worker's first byte. */
  ttsTextIn: number | null;
  ttsFirstByteSent: number | null;
  ttsFirstByte: number | null;
}

/** The same stages in the order a turn passes them: report columns and per-stage figures. */
export const CHAIN_STAGES = [
  'dgSpeechEnd', 'dgFinalSent', 'sttFinal', 'llmRequest', 'llmFirstChunkSent', 'llmFirstToken',
  'endOfTurn', 'ttsTextIn', 'ttsFirstByteSent', 'ttsFirstByte',
] as const satisfies readonly (keyof ChainStages)[];
