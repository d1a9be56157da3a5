/**
 * Outbound: the framework's AMD listens to how the line answers. A person gets the greeting; a
 * machine gets the voicemail message (or nothing, by VOICEMAIL_ACTION) and the call ends. Until
 * the verdict (and the answer) nobody is spoken to, so a person never hears a message meant for
 * a machine.
 */
import { log, voice } from '@livekit/agents';
import { voicemailMessage } from '../../agents/prompts.js';
import type { CallUserdata } from '../../tools/callContext.js';
import type { Config } from '../config.js';
import { recordMetric } from '../observe/metrics.js';
import { inSpan } from '../observe/tracing.js';
import type { EndRequest } from './callEnd.js';
import type { DialResult } from './outboundDial.js';

export async function screenForMachine(
  session: voice.AgentSession<CallUserdata>,
  config: Pick<Config, 'VOICEMAIL_ACTION' | 'business'>,
  userdata: CallUserdata,
  openLine: () => void,
  requestEnd: (r: EndRequest) => void,
  dialed?: Promise<DialResult>,
): Promise<void> {
  // Whatever AMD concludes, nobody is spoken to before the callee has answered.
  const openWhenAnswered = async () => {
    if (!dialed || (await dialed).answered) openLine();
  };
  const amd = new voice.AMD(session as voice.AgentSession, { llm: null, suppressCompatibilityWarning: true });
  // A dial that fails leaves AMD waiting for an answer that never comes, holding the session's
  // replies paused; the session would then never close.
  void dialed?.then((r) => {
    if (!r.answered) void amd.aclose().catch(() => undefined);
  });
  try {
    const verdict = await inSpan('amd', {}, async (span) => {
      const v = await amd.execute();
      span.setAttribute('switchboard.amd.category', v.category);
      return v;
    });
    recordMetric({ kind: 'count', name: 'amd_verdicts', labels: { category: verdict.category } });
    log().info({ category: verdict.category, reason: verdict.reason }, 'answering machine detection');
    if (!verdict.isMachine) {
      await openWhenAnswered();
    } else if (config.VOICEMAIL_ACTION === 'leave_message') {
      requestEnd({ outcome: { kind: 'voicemail', messageLeft: true }, goodbye: voicemailMessage(userdata, config.business.lines) });
    } else {
      requestEnd({ outcome: { kind: 'voicemail', messageLeft: false } });
    }
  } catch (err) {
    // Unsure is not a machine: a person who hears nothing hangs up, so speak.
    recordMetric({ kind: 'count', name: 'amd_verdicts', labels: { category: 'failed' } });
    log().warn({ error: (err as Error).message }, 'answering machine detection failed; treating the callee as a person');
    await openWhenAnswered();
  } finally {
    await amd.aclose().catch(() => undefined);
  }
}
