/**
 * Prompt versions for the call record: a short hash of each agent's instructions.
 *
 * An agent's instructions carry the call's own details (the business, the time of day, the
 * caller's name), so hashing what a call actually sent would give every call a different
 * "version". The hash is taken instead over the instructions the agents build for one fixed,
 * made-up call (same direction, fixed clock and names): it changes exactly when the prompt text
 * or the code that assembles it changes.
 */
import { createHash } from 'node:crypto';
import { deskAgent } from '../../agents/desk.js';
import { CLINIC_POLICY } from '../../agents/policy.js';
import type { AgentDeps } from '../../agents/deps.js';
import { introAgent } from '../../agents/intro.js';
import { newUserdata } from '../../tools/callContext.js';
import { defaultRules } from '../../tools/appointmentBook.js';
import type { AppointmentStore, Direction, MessageStore } from '../store/index.js';

const cache = new Map<string, Record<string, string>>();

export function promptHash(instructions: string): string {
  return createHash('sha256').update(instructions).digest('hex').slice(0, 12);
}

/** Agent id → hash of its instructions, for calls of this direction (outbound: with a contact). */
export function promptVersions(direction: Direction, outboundWithContact = direction === 'outbound'): Record<string, string> {
  const key = `${direction}:${outboundWithContact}`;
  const known = cache.get(key);
  if (known) return known;
  const u = newUserdata({
    callId: 'prompt-version',
    direction,
    callerNumber: null,
    businessName: 'Business',
    timezone: 'UTC',
    ...(outboundWithContact ? { contact: { name: 'Contact', fields: {} } } : {}),
  });
  // Building an agent only assembles its instructions and tool schemas; none of these is called.
  const deps: AgentDeps = {
    control: { endCall: () => undefined },
    appointments: {} as AppointmentStore,
    messages: {} as MessageStore,
    policy: CLINIC_POLICY,
    rules: defaultRules('UTC'),
    now: () => new Date(0),
    line: { open: false, ready: new Promise<boolean>(() => undefined), turnBeganClosed: false },
  };
  const versions: Record<string, string> = {};
  for (const agent of [introAgent(deps, u), deskAgent(deps, u)]) {
    const text = agent.instructions;
    versions[agent.id] = promptHash(typeof text === 'string' ? text : text.value);
  }
  cache.set(key, versions);
  return versions;
}
