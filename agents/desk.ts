/**
 * The task agent: an appointment desk. It arrives mid-conversation (handed off by the intro agent
 * with the chat history), so it picks up where the caller left off instead of greeting again.
 */
import { llm, voice } from '@livekit/agents';
import { appointmentTools } from '../tools/appointments.js';
import type { CallControl, CallUserdata } from '../tools/callContext.js';
import { endCallTool } from '../tools/endCall.js';
import { withHoldFiller } from '../tools/hold.js';
import { collectDigitsTool, sendDtmfTool } from '../tools/keypad.js';
import { type CallbackDeps, transferTool } from '../tools/transfer.js';
import type { AgentDeps } from './deps.js';
import { phoneStyle } from './prompts.js';
import { clinicSafeguards, safeguardTools } from './safeguards.js';

export const DESK_AGENT_ID = 'desk';

function deskInstructions(u: CallUserdata, now: Date, deps: AgentDeps): string {
  const about = u.direction === 'outbound' && u.contact?.appointmentId
    ? ` This call is about appointment ${u.contact.appointmentId}: use find_appointments, tell the person when it is, ` +
      'and ask whether they will come. Confirm, reschedule or cancel it as they wish.'
    : ' Help the caller book, find, reschedule, cancel or confirm an appointment.';
  return [
    phoneStyle(u, now),
    `You are the appointment desk.${about}`,
    u.callerName ? `The caller is ${u.callerName}.` : '',
    u.reason ? `They said they need: ${u.reason}.` : '',
    'Check availability before offering a time, and book only a time the caller agreed to.',
    'When everything is done and the caller has nothing else, call end_call.',
    clinicSafeguards(deps, u),
  ].filter(Boolean).join(' ');
}

/** The call-control tools this call supports (a browser session has no SIP leg: none). */
function callControlTools(control: CallControl, callbacks: CallbackDeps) {
  return {
    ...(control.transfer ? { transfer_to_person: transferTool(control.transfer, callbacks) } : {}),
    ...(control.keypad ? { collect_digits: collectDigitsTool(control.keypad), send_dtmf: sendDtmfTool(control.keypad) } : {}),
  };
}

export function deskAgent(deps: AgentDeps, u: CallUserdata, chatCtx?: llm.ChatContext): voice.Agent<CallUserdata> {
  return voice.Agent.create<CallUserdata>({
    id: DESK_AGENT_ID,
    instructions: deskInstructions(u, deps.now(), deps),
    chatCtx,
    tools: {
      // The store may be slow (a remote database, a busy disk): those tools say a filler line
      // rather than leave the caller in silence.
      ...withHoldFiller(
        appointmentTools({
          store: deps.appointments,
          rules: deps.rules,
          now: deps.now,
          identityCheck: deps.policy.identityCheck,
          readBack: deps.policy.lines.readBack,
          readBackWithBirthDate: deps.policy.lines.readBackWithBirthDate,
        }),
        deps.control.holdFiller,
      ),
      end_call: endCallTool(deps.control),
      ...safeguardTools(deps),
      ...callControlTools(deps.control, { messages: deps.messages, now: deps.now }),
    },
    onEnter: (ctx) => {
      // Answer the request the caller already made to the intro agent, without a new greeting.
      ctx.session.generateReply();
    },
    onUserTurnCompleted: () => {
      // Words "heard" while keys are being pressed are the tones leaking into the audio.
      if (deps.control.keysBeingPressed?.()) throw new voice.StopResponse();
    },
  });
}
