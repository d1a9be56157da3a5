/**
 * The services agents are built with. Passed in, never imported, so the same agents run in the
 * worker, in simulations and in tests against whatever store and clock the caller provides.
 */
import type { AppointmentStore } from '../src/store/index.js';
import type { BookRules } from '../tools/appointmentBook.js';
import type { CallControl } from '../tools/callControl.js';

export interface AgentDeps {
  control: CallControl;
  appointments: AppointmentStore;
  rules: BookRules;
  now: () => Date;
  /**
   * Resolves when the caller can hear us: the I/O is up, the recording is attached, and on an
   * outbound call the callee has really answered. The greeting waits for it.
   */
  lineReady: Promise<void>;
}
