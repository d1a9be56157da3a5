/**
 * `emergency`: a caller who describes an emergency is told to hang up and call the local emergency
 * number, and the call ends (or, by EMERGENCY_ACTION, goes to a nurse line). The tool, not the
 * model, says the line, so it is always the same words; and once it ran, nothing can be booked.
 */
import { llm } from '@livekit/agents';
import { z } from 'zod';
import type { SpokenLines } from '../src/business.js';
import type { CallControl, CallToolOptions } from './callContext.js';

/** What this deployment does when a caller describes an emergency (EMERGENCY_*). */
export interface EmergencyPolicy {
  /** The local emergency number the caller is told to call. */
  number: string;
  action: 'end' | 'transfer';
  /** action=transfer: where (a nurse line, on the allow-list). */
  transferTo?: string;
}

export function emergencyTool(control: CallControl, policy: EmergencyPolicy, lines: SpokenLines['emergency']) {
  const said = { emergencyNumber: policy.number };
  return llm.tool({
    description:
      'Call at once, saying nothing first, if the caller describes an emergency: chest pain, trouble breathing, ' +
      'heavy bleeding, someone unconscious, signs of a stroke, an overdose, thoughts of suicide, or any danger to life. ' +
      'Never book or ask more questions instead.',
    parameters: z.object({ what: z.string().min(1).describe('The emergency, in a few words') }),
    execute: async ({ what }, { ctx }: CallToolOptions) => {
      const u = ctx.userData;
      u.emergency = { what, at: new Date().toISOString() };
      u.result = { action: 'emergency', what };
      const destination = policy.action === 'transfer' ? policy.transferTo : undefined;
      if (destination && control.transfer?.destinations.includes(destination)) {
        const result = await control.transfer.transfer({
          destination,
          handoff: lines.transfer(said),
          reason: `emergency: ${what}`,
          summary: `EMERGENCY: ${what}`,
          waitForSpeech: () => ctx.waitForPlayout(),
          speech: ctx.speechHandle,
        });
        if (result.status === 'transferred' || result.status === 'caller_left') return undefined;
      }
      control.endCall({ outcome: { kind: 'completed', summary: `emergency: ${what}` }, goodbye: lines.end(said), after: ctx.speechHandle });
      return undefined;
    },
  });
}
