/**
 * The per-turn latency waterfall printed after a simulated call: for each caller turn, when each
 * stage finished, measured from the moment the caller stopped speaking.
 */
import type { LatencySummary, TurnLatency } from '../call/latency.js';

const STAGES: [keyof TurnLatency, string][] = [
  ['sttFinalMs', 'final transcript'],
  ['endpointingMs', 'end of turn'],
  ['llmFirstTokenMs', 'LLM first token'],
  ['ttsFirstByteMs', 'TTS first byte'],
  ['firstAudioMs', 'first audio out'],
];

export function waterfall(summary: LatencySummary, width = 40): string {
  const max = Math.max(1, ...summary.turns.flatMap((t) => STAGES.map(([k]) => (t[k] as number | null) ?? 0)));
  const lines: string[] = [];
  for (const t of summary.turns) {
    lines.push(`turn ${t.turn}  (0 = caller stops speaking)`);
    for (const [key, label] of STAGES) {
      const v = t[key] as number | null;
      if (v === null) continue;
      const cells = Math.max(1, Math.round((Math.max(0, v) / max) * width));
      lines.push(`  ${label.padEnd(17)}${'█'.repeat(cells).padEnd(width)} ${Math.round(v)} ms`);
    }
  }
  const { p50, p95 } = summary.firstAudioMs;
  lines.push(`time to first audio: p50 ${p50 ?? '–'} ms, p95 ${p95 ?? '–'} ms over ${summary.turns.length} turn(s)`);
  return lines.join('\n');
}
