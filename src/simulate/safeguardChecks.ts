/**
 * The clinic safeguards' side of a scenario: the settings it plays with (`settings:`) and the
 * checks every call gets (no phantom promises; a recorded call starts with its disclosure) or
 * that it asks for (`messages`, `recording`, `sttParams`, `transferSummary`).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { speechRuns } from '../telephony/speechRuns.js';
import { readWav } from '../telephony/wav.js';
import { phantomPromises } from './promiseCheck.js';
import type { Scenario } from './scenario.js';
import type { Check, SimulationEnv, SimulationReport } from './simulatedCall.js';

type ScriptedCheck = Check & { scripted: boolean };

/** The config a scenario's `settings` stand for. */
export function clinicSettings(s: Scenario['settings'], config: Config): Partial<Config> {
  return {
    ...(s.recording ? { RECORDING_DIR: config.RECORDING_DIR ?? mkdtempSync(join(tmpdir(), 'sb-rec-')) } : {}),
    ...(s.identityCheck ? { IDENTITY_CHECK: s.identityCheck } : {}),
    ...(s.emergency ? { EMERGENCY_ACTION: s.emergency.action, EMERGENCY_TRANSFER_TO: s.emergency.transferTo } : {}),
    ...(s.keyterms ? { STT_KEYTERMS: s.keyterms } : {}),
    ...(s.minInterruptionWords !== undefined ? { MIN_INTERRUPTION_WORDS: s.minInterruptionWords } : {}),
  };
}

/** Louder than µ-law's quietest steps: what a listener would hear as sound. */
const AUDIBLE = 200;

function firstAudible(pcm: Int16Array): number {
  for (let i = 0; i < pcm.length; i++) if (Math.abs(pcm[i]!) > AUDIBLE) return i;
  return -1;
}

export async function checkSafeguards(
  scenario: Scenario,
  r: SimulationReport,
  env: SimulationEnv,
  call: { key: string; room: string; config: Config },
): Promise<ScriptedCheck[]> {
  const e = scenario.expect;
  const checks: ScriptedCheck[] = [];
  const add = (scripted: boolean, what: string, ok: boolean, detail?: string) => checks.push({ what, ok, ...(ok ? {} : { detail }), scripted });
  const transcript = r.record.transcript ?? [];

  const phantoms = phantomPromises(transcript, r.record.toolCalls ?? []);
  add(true, 'every promise the agent made follows the tool call that kept it', phantoms.length === 0,
    phantoms.map((p) => `"${p.line}" claims ${p.claim} with no ${p.needed}`).join('; '));

  if (scenario.settings.recording) {
    const disclosure = call.config.RECORDING_DISCLOSURE;
    const first = transcript.find((l) => l.role === 'agent');
    add(false, 'the first thing the agent said was the recording disclosure', first?.text.startsWith(disclosure) === true, `first agent line: ${first?.text}`);
    if (!r.recordingPath) {
      add(false, 'the call was recorded', false, 'no recording path in the call record');
    } else {
      const wav = readWav(new Uint8Array(readFileSync(r.recordingPath)));
      const [callerSide, agentSide] = wav.channels as [Int16Array, Int16Array];
      const agentAt = firstAudible(agentSide);
      const callerAt = firstAudible(callerSide);
      const ms = (i: number) => Math.round((i / wav.sampleRate) * 1000);
      add(false, 'the recording starts with the agent speaking (the disclosure)', agentAt >= 0 && ms(agentAt) < 500, `agent audio first at ${ms(agentAt)} ms`);
      add(false, 'no caller audio precedes the disclosure in the recording', callerAt === -1 || callerAt >= agentAt,
        `caller audio at ${ms(callerAt)} ms, agent at ${ms(agentAt)} ms`);
    }
  }
  if (e.recording) {
    const state = (r.userdata as { recording?: { state?: string } } | null)?.recording?.state;
    const noted = transcript.some((l) => l.role === 'system' && l.text.includes('recording stopped'));
    add(true, `the recording was ${e.recording.stopped ? '' : 'not '}stopped, and the record says so`,
      (state === 'stopped') === e.recording.stopped && noted === e.recording.stopped, `userdata.recording.state=${state}, system note: ${noted}`);
    if (e.recording.callerLines !== undefined && r.recordingPath) {
      const wav = readWav(new Uint8Array(readFileSync(r.recordingPath)));
      const lines = speechRuns(wav.channels[0]!, wav.sampleRate);
      add(false, `the recording holds ${e.recording.callerLines} caller line(s)`, lines.length === e.recording.callerLines, `caller audio at ${JSON.stringify(lines)}`);
    }
  }
  if (e.messages) {
    const got = (await env.store.messages.forCall(r.callId)).map((m) => ({ callback: m.callback }));
    const inRecord = ((r.userdata as { messages?: unknown[] } | null)?.messages ?? []).length;
    add(true, `messages stored: ${e.messages.map((m) => m.callback).join(', ') || 'none'}`,
      JSON.stringify(got) === JSON.stringify(e.messages) && inRecord === got.length, `stored ${JSON.stringify(got)}, ${inRecord} in the call record`);
  }
  if (e.sttParams) {
    const dg = env.sandbox as { deepgram?: { connectionsFor?: (key: string) => { params: Record<string, string | string[]> }[] } };
    const params = dg.deepgram?.connectionsFor?.(call.key)[0]?.params ?? {};
    for (const [name, want] of Object.entries(e.sttParams)) {
      const got = params[name] === undefined ? [] : ([] as string[]).concat(params[name]!);
      add(true, `the STT was opened with ${name}=${want.join(',')}`, JSON.stringify(got) === JSON.stringify(want), `got ${JSON.stringify(got)}`);
    }
  }
  if (e.transferSummary !== undefined) {
    const headers = { [call.config.TRANSFER_SUMMARY_HEADER]: e.transferSummary };
    const n = env.sandbox.livekit.count('TransferSIPParticipant', { room_name: call.room, headers });
    add(true, `the transfer carried ${call.config.TRANSFER_SUMMARY_HEADER}: ${e.transferSummary}`, n >= 1, `${n} transfer requests with that header`);
  }
  return checks;
}
