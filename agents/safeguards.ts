/**
 * The safeguards every agent on a public line shares: the rules in its prompt, and the tools that
 * make them true (an emergency ends the call with fixed words, a message or callback is stored
 * before it is promised, a caller can stop the recording).
 */
import type { CallUserdata } from '../tools/callContext.js';
import { emergencyTool } from '../tools/emergency.js';
import { takeMessageTool } from '../tools/messages.js';
import { stopRecordingTool } from '../tools/recording.js';
import type { AgentDeps } from './deps.js';
import { safeguards } from './prompts.js';

export function clinicSafeguards(deps: AgentDeps, u: CallUserdata): string {
  return safeguards({
    canTransfer: deps.control.transfer !== undefined,
    // An outbound call reached the number we dialled: caller ID is not the question there.
    identityCheck: u.direction === 'outbound' ? 'off' : deps.policy.identityCheck,
    recording: deps.control.recording !== undefined,
  });
}

/** The tools every agent on a public line has: emergencies, messages, and the recording opt-out. */
export function safeguardTools(deps: AgentDeps) {
  return {
    emergency: emergencyTool(deps.control, deps.policy.emergency, deps.policy.lines.emergency),
    take_message: takeMessageTool({ messages: deps.messages, region: deps.policy.region, now: deps.now, redact: deps.policy.redactPii }),
    ...(deps.control.recording ? { stop_recording: stopRecordingTool(deps.control.recording, deps.policy.lines.recordingStopped) } : {}),
  };
}
