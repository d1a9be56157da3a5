/**
 * The services agents are built with. Passed in, never imported, so the same agents run in the
 * worker, in simulations and in tests against whatever store and clock the caller provides.
 */
import type { AppointmentStore, MessageStore } from '../src/store/index.js';
import type { BookRules } from '../tools/appointmentBook.js';
import type { CallControl } from '../tools/callContext.js';
import type { AgentPolicy } from './policy.js';

export interface AgentDeps {
  control: CallControl;
  appointments: AppointmentStore;
  rules: BookRules;
  /** Messages and callback requests (take_message). */
  messages: MessageStore;
  policy: AgentPolicy;
  now: () => Date;
  /** Whether the agent may speak yet; the greeting waits for it. */
  line: LineGate;
}

/**
 * Open once the caller can hear us: the I/O is up, the recording is attached, and on an outbound
 * call a person (not a machine) has answered. Until then the agent says nothing at all.
 */
export interface LineGate {
  readonly open: boolean;
  /** True once the line opens; false if the call ended first (then say nothing, ever). */
  readonly ready: Promise<boolean>;
  /**
   * The caller's current turn began before the line opened (an outbound callee's "Hello?"): the
   * greeting answers it, so it gets no reply, and no LLM call, of its own.
   */
  readonly turnBeganClosed: boolean;
}

export function openLineGate(): LineGate {
  return { open: true, ready: Promise.resolve(true), turnBeganClosed: false };
}
