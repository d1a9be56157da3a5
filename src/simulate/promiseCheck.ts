/**
 * "The agent may only promise what a tool did": every sentence in which the agent says something
 * was booked, cancelled or moved, or that someone will call back, must come after the tool call
 * that did it, and that call must have succeeded. Checked on every scenario's call record.
 *
 * A success is read from the tool's own output (the tools write it; tools/appointments.ts and
 * tools/messages.ts), not just from "no error": book_appointment's first call only reads the
 * booking back, and books nothing.
 */
import type { ToolCallRecord, TranscriptLine } from '../store/index.js';

interface Claim {
  /** What the sentence claims. */
  what: string;
  said: RegExp;
  /** Phrases with the word in them that claim nothing ("fully booked"). */
  unless?: RegExp;
  tools: string[];
  succeeded: (output: string) => boolean;
}

const CLAIMS: Claim[] = [
  { what: 'booked', said: /\bbooked\b/i, unless: /\b(fully|already) booked\b|\bbooked up\b/i, tools: ['book_appointment'], succeeded: (o) => o.startsWith('Booked ') },
  { what: 'cancelled', said: /\bcancell?ed\b/i, tools: ['cancel_appointment'], succeeded: (o) => o.startsWith('Cancelled ') },
  { what: 'moved', said: /\b(moved|rescheduled)\b/i, tools: ['reschedule_appointment'], succeeded: (o) => o.startsWith('Moved ') },
  // "I can have someone call you back" is an offer; "someone will call you back" is a promise.
  { what: 'a callback', said: /\bwill (call|ring) you back\b|\b(calling|call) you back (on|at)\b/i, tools: ['take_message', 'transfer_to_person'], succeeded: (o) => /callback .*is recorded/.test(o) },
];

export interface PhantomPromise {
  line: string;
  at: string;
  claim: string;
  /** The tool call that would have made it true. */
  needed: string;
}

/** Agent lines that claim something no earlier successful tool call did. Empty: every promise is real. */
export function phantomPromises(transcript: readonly TranscriptLine[], toolCalls: readonly ToolCallRecord[]): PhantomPromise[] {
  const found: PhantomPromise[] = [];
  for (const line of transcript) {
    if (line.role !== 'agent') continue;
    for (const c of CLAIMS) {
      if (!c.said.test(line.text) || c.unless?.test(line.text)) continue;
      const done = toolCalls.some((t) => c.tools.includes(t.name) && !t.isError && t.at <= line.at && c.succeeded(outputText(t.output)));
      if (!done) found.push({ line: line.text, at: line.at, claim: c.what, needed: `a successful ${c.tools.join(' or ')} before it` });
    }
  }
  return found;
}

/** Tool outputs are stored as the framework gives them: a string result arrives JSON-encoded. */
function outputText(output: string | undefined): string {
  if (!output) return '';
  if (!output.startsWith('"')) return output;
  try {
    return String(JSON.parse(output));
  } catch {
    return output;
  }
}
