/**
 * REDACT_PII for logs: the framework writes what callers said (and tool arguments, chat context,
 * transcripts) into its log lines under keys marked `lk.pii.*`. With REDACT_PII on, the process's
 * logger is swapped for a child that censors those keys (pino's own `redact`), so stdout and any
 * log shipper never see them. Our own log lines carry no caller words to begin with.
 *
 * The framework keeps its logger on a global symbol and every module asks for it when it builds a
 * component, so swapping it right after `initializeLogger` reaches all of them.
 */
import { log } from '@livekit/agents';

/** Every `lk.pii.*` key the framework logs (@livekit/agents 1.9). */
const PII_KEYS = [
  'arguments', 'audio_transcript', 'chat_ctx', 'data', 'error', 'event', 'input_text', 'instructions', 'keyterms',
  'confirmed_keyterms', 'pending_keyterms', 'removed_keyterms', 'message', 'new_transcript', 'output', 'raw_data',
  'reason', 'response', 'tool_call', 'transcript', 'user_input', 'user_message', 'user_transcript', 'ws_data',
];

export const REDACTED_LOG_PATHS = PII_KEYS.map((k) => `["lk.pii.${k}"]`);

const LOGGER_KEY = Symbol.for('@livekit/agents:logger');

/** Call right after `initializeLogger`. `REDACT_PII` is read raw: this runs before config is loaded. */
export function redactFrameworkLogs(env: NodeJS.ProcessEnv = process.env): void {
  if ((env.REDACT_PII ?? 'true').trim().toLowerCase() === 'false') return;
  const redacted = log().child({}, { redact: { paths: REDACTED_LOG_PATHS, censor: '[redacted]' } });
  (globalThis as Record<symbol, unknown>)[LOGGER_KEY] = redacted;
}
