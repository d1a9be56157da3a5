/**
 * What is held true of a simulated call once it is over: how it ended, the room deleted once and
 * only after the last words, the record stored, and everything the scenario's `expect` asks for
 * (with the clinic safeguards' checks from safeguardChecks.ts). With a real model, the checks
 * only a scripted model makes certain are reported as not checked instead.
 */
import type { Store } from '../store/index.js';
import type { Config } from '../config.js';
import { checkSafeguards } from './safeguardChecks.js';
import type { Scenario } from './scenario.js';
import type { Check, SimulationEnv, SimulationReport } from './simulatedCall.js';

type ScriptedCheck = Check & { scripted: boolean };

/** Frames are cut at 10–20 ms and the phone leg works on whole frames: a little of a line's tail may not count. */
const LAST_LINE_TOLERANCE_MS = 60;

/** `scenario.expect` must have its `$appointment`/`$seedN` ids filled in (CallWorld.expect). */
export async function checkCall(
  scenario: Scenario,
  r: SimulationReport,
  env: SimulationEnv,
  call: { key: string; room: string; config: Config; unusedReplies: number; driverError: unknown },
): Promise<Pick<SimulationReport, 'checks' | 'notChecked' | 'passed'>> {
  const checks = await checkExpectations(scenario, r, env.store, call.unusedReplies, call.driverError);
  checks.push(...(await checkSafeguards(scenario, r, env, call)));
  // Live, the model is real: what it chose to say and do is reported, not held to the script.
  const reported = checks.filter((c) => !(env.live && c.scripted)).map(({ scripted: _s, ...c }) => c);
  return {
    checks: reported,
    notChecked: checks.filter((c) => env.live && c.scripted).map((c) => c.what),
    passed: reported.every((c) => c.ok),
  };
}

/**
 * Every expectation, checked. `scripted` marks those only the scenario's scripted model makes
 * certain (what the agent said, the tools and their effects): with a real model they are reported
 * as not checked. The rest hold whoever the model is: how the call ended, the agents it passed
 * through, and the room deleted once, after the last words.
 */
async function checkExpectations(
  scenario: Scenario,
  r: SimulationReport,
  store: Store,
  unusedReplies: number,
  driverError: unknown,
): Promise<ScriptedCheck[]> {
  const e = scenario.expect;
  const checks: ScriptedCheck[] = [];
  const add = (scripted: boolean) => (what: string, ok: boolean, detail?: string) =>
    checks.push({ what, ok, ...(ok ? {} : { detail }), scripted });
  const check = add(false);
  const scripted = add(true);
  if (driverError) check('the scenario ran to its end', false, (driverError as Error).message);
  check(`outcome is ${e.outcome}`, r.outcome?.kind === e.outcome, `got ${JSON.stringify(r.outcome)}`);
  check(`room deleted exactly once`, r.roomDeleted === e.roomDeleted, `DeleteRoom called ${r.deleteRoomCalls} times`);
  scripted('every scripted model reply was used', unusedReplies === 0, `${unusedReplies} left over`);
  const stored = await store.calls.get(r.callId);
  check('the call record was stored', stored?.finished === true && stored.outcome?.kind === r.outcome?.kind, `stored: ${JSON.stringify(stored?.outcome ?? null)}`);
  if (r.roomDeletedAt !== null && r.agentAudioEndedAt !== null) {
    check(
      'the room was deleted only after the agent finished speaking',
      r.roomDeletedAt >= r.agentAudioEndedAt,
      `deleted ${Math.round(r.agentAudioEndedAt - r.roomDeletedAt)} ms before the audio ended`,
    );
  }
  if (r.lastLine && r.outcome && !['hung_up', 'transferred'].includes(r.outcome.kind)) {
    // A goodbye cut short by the hang-up (the room deleted, the session closed while audio was
    // still on its way) would still pass the check above: the audio that never played never ended.
    check(
      'the caller heard the agent\'s last line in full',
      r.lastLine.synthesized && r.lastLine.heardMs >= r.lastLine.synthesizedMs - LAST_LINE_TOLERANCE_MS,
      r.lastLine.synthesized
        ? `"${r.lastLine.text}" is ${Math.round(r.lastLine.synthesizedMs)} ms long; the caller heard ${Math.round(r.lastLine.heardMs)} ms of it`
        : `"${r.lastLine.text}" was cut off while it was being spoken (the caller heard ${Math.round(r.lastLine.heardMs)} ms)`,
    );
  }
  if (e.agents) check(`agents ${e.agents.join(' → ')}`, JSON.stringify(r.agents) === JSON.stringify(e.agents), `got ${r.agents.join(' → ')}`);
  if (e.toolCalls) {
    const names = (r.record.toolCalls ?? []).map((t) => t.name);
    scripted(`tool calls ${e.toolCalls.join(', ')}`, JSON.stringify(names) === JSON.stringify(e.toolCalls), `got ${names.join(', ')}`);
  }
  if (e.appointments !== undefined) {
    const n = (await store.appointments.activeBetween('0000', '9999')).filter((a) => a.callId === r.callId).length;
    scripted(`${e.appointments} appointment(s) booked by this call`, n === e.appointments, `got ${n}`);
  }
  if (e.userdata) {
    const u = (r.userdata ?? {}) as Record<string, unknown>;
    for (const [k, v] of Object.entries(e.userdata)) {
      scripted(`userdata.${k} = ${JSON.stringify(v)}`, JSON.stringify(u[k]) === JSON.stringify(v), `got ${JSON.stringify(u[k])}`);
    }
  }
  const said = (r.record.transcript ?? []).filter((l) => l.role === 'agent').map((l) => l.text).join(' ');
  if (e.heard) {
    for (const h of e.heard) scripted(`agent said "${h}"`, said.includes(h), `agent said: ${said}`);
  }
  if (e.notHeard) {
    for (const h of e.notHeard) scripted(`agent never said "${h}"`, !said.includes(h), `agent said: ${said}`);
  }
  if (e.inTranscript) {
    const lines = (r.record.transcript ?? []).map((l) => `${l.role}: ${l.text}`);
    for (const t of e.inTranscript) {
      scripted(`the transcript has "${t}"`, lines.some((l) => l.includes(t)), `transcript: ${lines.join(' | ')}`);
    }
  }
  if (e.notInTranscript) {
    const lines = (r.record.transcript ?? []).map((l) => `${l.role}: ${l.text}`);
    for (const t of e.notInTranscript) {
      const hit = lines.find((l) => l.includes(t));
      scripted(`the transcript never has "${t}"`, hit === undefined, `found ${hit}`);
    }
  }
  if (e.transfers) {
    const got = r.transfers.map((t) => ({ to: t.to, result: t.result, mode: t.mode }));
    const want = e.transfers.map((t, i) => ({ ...t, mode: t.mode ?? got[i]?.mode }));
    scripted(
      `transfers ${e.transfers.map((t) => `${t.to ?? '(refused)'} ${t.result}`).join(', ')}`,
      JSON.stringify(got) === JSON.stringify(want),
      `got ${JSON.stringify(got)}`,
    );
  }
  if (e.keypad) {
    const lines = (r.record.transcript ?? []).filter((l) => l.role === 'caller' && l.text.startsWith('[keypad] ')).map((l) => l.text.slice(9));
    scripted(`caller keyed in ${e.keypad.join(', ')}`, JSON.stringify(lines) === JSON.stringify(e.keypad), `transcript has ${JSON.stringify(lines)}`);
  }
  if (e.keysSent !== undefined) {
    scripted(`agent pressed ${e.keysSent}`, r.keysSent === e.keysSent, `the caller heard "${r.keysSent}"`);
  }
  return checks;
}
