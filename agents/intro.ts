/**
 * The intro agent: greets, learns who is calling and why, then hands off to the desk.
 *
 * The greeting is a fixed sentence said without the LLM, so the caller hears the agent as soon as
 * the line opens. On an outbound call it first makes sure it is talking to the intended person and
 * shares nothing about the appointment until they confirm.
 */
import { llm, voice } from '@livekit/agents';
import { z } from 'zod';
import type { CallToolOptions, CallUserdata } from '../tools/callContext.js';
import { endCallTool } from '../tools/endCall.js';
import { sendDtmfTool } from '../tools/keypad.js';
import { transferTool } from '../tools/transfer.js';
import type { AgentDeps } from './deps.js';
import { deskAgent } from './desk.js';
import { greeting, phoneStyle } from './prompts.js';
import { clinicSafeguards, safeguardTools } from './safeguards.js';

export const INTRO_AGENT_ID = 'intro';

/** The history the desk inherits: what was said, without the intro's instructions and tool calls. */
function carriedHistory(session: voice.AgentSession<CallUserdata>): llm.ChatContext {
  return session.currentAgent.chatCtx.copy({ excludeInstructions: true, excludeFunctionCall: true, excludeHandoff: true });
}

function inboundTools(deps: AgentDeps) {
  return {
    transfer_to_desk: llm.tool({
      description: 'Hand the caller to the appointment desk once you know their name and what they need.',
      parameters: z.object({
        name: z.string().min(1).describe("The caller's name as they said it"),
        reason: z.string().min(1).describe('What they need, in a few words'),
      }),
      execute: async ({ name, reason }, { ctx }: CallToolOptions) => {
        const u = ctx.userData;
        u.callerName = name;
        u.reason = reason;
        // No `returns`: a tool output would make the intro speak once more before the desk does,
        // costing the caller a full LLM round trip of silence.
        return llm.handoff({ agent: deskAgent(deps, u, carriedHistory(ctx.session)) });
      },
    }),
    end_call: endCallTool(deps.control),
    ...safeguardTools(deps),
    // A caller who asks for a person straight away gets one, without going through the desk.
    ...(deps.control.transfer ? { transfer_to_person: transferTool(deps.control.transfer, { messages: deps.messages, now: deps.now }) } : {}),
  };
}

function outboundTools(deps: AgentDeps) {
  return {
    confirm_identity: llm.tool({
      description:
        'Call only after the person clearly said they are the person we are calling for. ' +
        'If it is someone else, share nothing about the appointment: offer to call back and use end_call.',
      execute: async (_args, { ctx }: CallToolOptions) => {
        const u = ctx.userData;
        u.identityConfirmed = true;
        u.callerName = u.contact?.name;
        return llm.handoff({ agent: deskAgent(deps, u, carriedHistory(ctx.session)) });
      },
    }),
    end_call: endCallTool(deps.control),
    ...safeguardTools(deps),
    // The number we dial may answer with a company's phone menu before any person.
    ...(deps.control.keypad ? { send_dtmf: sendDtmfTool(deps.control.keypad) } : {}),
  };
}

export function introAgent(deps: AgentDeps, u: CallUserdata): voice.Agent<CallUserdata> {
  const outbound = u.direction === 'outbound' && u.contact !== undefined;
  const job = outbound
    ? `You are calling ${u.contact!.name} on behalf of ${u.businessName}. You already asked whether you are ` +
      'speaking with them. Until they confirm, say nothing about why you are calling beyond the business name.'
    : "Find out the caller's name and what they need, then call transfer_to_desk. " +
      'Do not try to book anything yourself.';
  return voice.Agent.create<CallUserdata>({
    id: INTRO_AGENT_ID,
    instructions: `${phoneStyle(u, deps.now())} ${job} ${clinicSafeguards(deps, u)}`,
    tools: outbound ? outboundTools(deps) : inboundTools(deps),
    onEnter: async (ctx) => {
      // A call that ended before the line opened (an answering machine) gets no greeting; and
      // onEnter must return, or closing the session would wait for it forever.
      if (await deps.line.ready) ctx.session.say(greeting(u, deps.policy.lines));
    },
    onUserTurnCompleted: () => {
      // On an outbound call the callee usually speaks first ("Hello?") while we are still
      // finding out whether they are a person; that turn gets the greeting, not a reply, even
      // when its transcript only arrives once the line is open.
      if (!deps.line.open || deps.line.turnBeganClosed) throw new voice.StopResponse();
      // Words "heard" while keys are being pressed are the tones leaking into the audio.
      if (deps.control.keysBeingPressed?.()) throw new voice.StopResponse();
    },
    // Nor does it cost an LLM call: preemptive generation would otherwise start one on the
    // callee's first words, before the turn is even committed.
    llmNode: (ctx, chatCtx, toolCtx, settings) =>
      deps.line.open && !deps.line.turnBeganClosed
        ? (voice.Agent.default.llmNode(ctx.agent, chatCtx, toolCtx as llm.ToolContext<unknown>, settings) as ReturnType<NonNullable<voice.AgentHooks<CallUserdata>['llmNode']>>)
        : null,
  });
}
