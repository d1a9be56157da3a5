/**
 * Transfers on whole simulated calls, checked against what the LiveKit API
 * emulator received (real Twirp + JWT through livekit-server-sdk): which requests, in what order,
 * with which bodies; plus what the call record says and what the caller heard.
 *
 * Warm transfer: the framework's WarmTransferTask needs a LiveKit room with media (it joins a side
 * room over WebRTC to brief the person), which no offline test has. These tests play its dial
 * through the emulator, or stand in for it entirely, to check everything around it: the allow-list,
 * the fallback to a cold transfer, and a connected transfer keeping the room until the caller leaves.
 */
import './helpers/logger.js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type VAD, log } from '@livekit/agents';
import { dispose } from '@livekit/rtc-node';
import { loadConfig, shippedBusiness } from '../src/config.js';
import type { RecordedRequest } from '../src/sandbox/livekitApi.js';
import { Sandbox } from '../src/sandbox/sandbox.js';
import { loadVad } from '../src/session/sessionFactory.js';
import { parseScenario } from '../src/simulate/scenario.js';
import { type SimulateOptions, type SimulationReport, simulateCall } from '../src/simulate/simulatedCall.js';
import { type Store, openStore } from '../src/store/index.js';
import { withHoldFiller } from '../tools/hold.js';
import { TransferAllowList, transferUri } from '../src/call/transferAllowList.js';
import { llm } from '@livekit/agents';

const REFUSED_THEN_WARM_THEN_COLD = `
name: A made-up number is refused; then a warm transfer nobody answers becomes a cold one
transfer:
  allow: ["+15557770004"]
  mode: warm
  fallback: cold
  warmDial: no_answer
  answers: { "+15557770004": answer }
steps:
  - caller: Put me through to 555 0199, that's billing.
    model:
      - call: transfer_to_person
        args: { handoff: "Putting you through.", destination: "+15550199000" }
      - say: I can only transfer you to our billing desk. Shall I do that?
  - caller: Yes please.
    model:
      - call: transfer_to_person
        args: { handoff: "Let me get billing for you, please hold.", reason: billing question }
expect:
  outcome: transferred
  notHeard: ["Putting you through."]
  transfers:
    - { to: null, result: refused }
    - { to: "+15557770004", result: failed, mode: warm }
    - { to: "+15557770004", result: transferred, mode: cold }
`;

const WARM_CONNECTED = `
name: Warm transfer connects
transfer:
  allow: ["+15557770005"]
  mode: warm
steps:
  - caller: Could a nurse call me now?
    model:
      - call: transfer_to_person
        args: { handoff: "I'll bring a nurse on the line, one moment.", reason: wants a nurse }
expect:
  outcome: transferred
  transfers: [{ to: "+15557770005", result: transferred, mode: warm }]
`;

describe('transfer allow-list', () => {
  it('matches a destination however it is written, defaults to the first, and knows nothing else', () => {
    const allow = new TransferAllowList(['+15557770001', 'sip:Desk@pbx.example.com', 'tel:+15557770009']);
    assert.equal(allow.match(undefined), '+15557770001');
    assert.equal(allow.match('+1 (555) 777-0001'), '+15557770001');
    assert.equal(allow.match('tel:+15557770001'), '+15557770001');
    assert.equal(allow.match('+15557770009'), 'tel:+15557770009');
    assert.equal(allow.match('SIP:desk@PBX.example.com'), 'sip:Desk@pbx.example.com');
    assert.equal(allow.match('+15550199000'), undefined);
    assert.equal(allow.match('sip:desk@evil.example.com'), undefined);
    assert.equal(transferUri('+15557770001'), 'tel:+15557770001');
    assert.equal(transferUri('sip:desk@pbx.example.com'), 'sip:desk@pbx.example.com');
    assert.ok(new TransferAllowList([]).empty);
  });
});

describe('hold filler wrapper', () => {
  // The whole behaviour (said once, after the threshold, before the answer) is scenarios/hold-filler.yaml;
  // this pins the wiring to the framework's RunContext.filler.
  const slow = llm.tool({ description: 'slow', execute: async () => 'result' });

  it("runs each tool inside the framework's filler with the configured line and threshold", async () => {
    const seen: unknown[] = [];
    const ctx = {
      filler: async (line: string, opts: { delay: number }, fn: () => Promise<unknown>) => {
        seen.push(line, opts.delay);
        return fn();
      },
    };
    const tools = withHoldFiller({ slow }, { afterMs: 1500, line: 'One moment, please.' });
    const out = await tools.slow.execute({}, { ctx, toolCallId: 't1', abortSignal: new AbortController().signal } as never);
    assert.equal(out, 'result');
    assert.deepEqual(seen, ['One moment, please.', 1500]);
  });

  it('HOLD_FILLER_MS=0 (no filler): the tools are left exactly as they were', () => {
    const tools = { slow };
    assert.equal(withHoldFiller(tools, undefined), tools);
  });
});

describe('call control against the LiveKit API emulator', () => {
  let sandbox: Sandbox;
  let store: Store;
  let vad: VAD;
  const reports: Record<string, SimulationReport> = {};
  const warnings: { obj: Record<string, unknown>; msg: string }[] = [];
  let callerHungUpAt = 0;

  before(async () => {
    sandbox = await Sandbox.start({ msPerChar: 40 });
    store = await openStore(':memory:');
    vad = await loadVad();
    const config = loadConfig(sandbox.env());
    // Capture warnings (a refused transfer must be logged), still passing them on.
    const logger = log();
    const warn = logger.warn.bind(logger);
    logger.warn = ((obj: unknown, msg?: string, ...rest: unknown[]) => {
      if (typeof obj === 'object' && obj !== null && typeof msg === 'string') warnings.push({ obj: obj as Record<string, unknown>, msg });
      return (warn as (...a: unknown[]) => void)(obj, msg, ...rest);
    }) as typeof logger.warn;

    const connected: SimulateOptions['warmTransfer'] = async (_req, call) => {
      // The person is connected to the caller; they talk, and the caller hangs up a little later.
      setTimeout(() => {
        callerHungUpAt = Date.now();
        call.hangUpCaller();
      }, 700);
    };
    const runs: [string, Promise<SimulationReport>][] = [
      // (The scenario files, cold and busy transfers included, run with the other scenarios.)
      ['refused-warm-cold', simulateCall(parseScenario(REFUSED_THEN_WARM_THEN_COLD, 'refused-warm-cold'), { sandbox, config, store, vad }, { speed: 4 })],
      ['warm-connected', simulateCall(parseScenario(WARM_CONNECTED, 'warm-connected'), { sandbox, config, store, vad }, { speed: 4, warmTransfer: connected })],
    ];
    for (const [name, run] of runs) reports[name] = await run;
  }, { timeout: 90_000 });

  after(async () => {
    await sandbox?.close();
    await store?.close();
    await dispose();
  });

  /** The requests about one call's room (or its warm-transfer side room), in arrival order. */
  function requestsFor(room: string): RecordedRequest[] {
    return sandbox.livekit.requests((r) => {
      const b = (r.body ?? {}) as { room?: string; roomName?: string };
      return [b.room, b.roomName].some((n) => n === room || n === `${room}-human-agent`);
    });
  }
  const passed = (r: SimulationReport) => assert.deepEqual(r.checks.filter((c) => !c.ok), [], r.scenario);

  it('refused, logged and never dialled; then warm (the person is dialled first, nobody answers) falls back to cold: the API calls in order', () => {
    const r = reports['refused-warm-cold']!;
    passed(r);
    const reqs = requestsFor(r.room);
    const shown = reqs.map((q) => {
      const b = q.body as { sipCallTo?: string; roomName?: string; room?: string; transferTo?: string };
      // A failed SIP request shows its SIP status; the others their HTTP status.
      return `${q.method} ${b.sipCallTo ?? b.transferTo ?? ''} ${b.roomName ?? b.room ?? ''} ${q.sipStatusCode ?? q.status}`.replace(r.room, 'ROOM');
    });
    assert.deepEqual(shown, [
      'CreateSIPParticipant +15550001111 ROOM 200', // the caller's own leg
      'CreateSIPParticipant +15557770004 ROOM-human-agent 480', // the warm dial: no answer
      'DeleteRoom  ROOM-human-agent 200', // the side room goes, as the framework's does
      'TransferSIPParticipant tel:+15557770004 ROOM 200', // the cold fallback (SIP REFER)
      'DeleteRoom  ROOM 200', // once, after the transfer
    ]);
    // Never anything for the made-up number; the transfer is for the caller, with ringback.
    assert.ok(!JSON.stringify(reqs.map((q) => q.body)).includes('15550199000'));
    const refer = reqs[3]!.body as { participantIdentity: string; playDialtone?: boolean };
    assert.deepEqual([refer.participantIdentity, refer.playDialtone], ['sip_+15550001111', true]);

    const refusal = warnings.find((w) => w.msg.startsWith('transfer refused') && w.obj.callId === r.callId);
    assert.ok(refusal, 'the refusal was not logged');
    assert.equal(refusal.obj.requested, '+15550199000');
    assert.equal(r.record.toolCalls?.[0]?.isError, true);

    // The record: each attempt as a system line, the handoff and the fallback line said first.
    const lines = (r.record.transcript ?? []).filter((l) => l.role !== 'caller').map((l) => `${l.role}: ${l.text.trim()}`);
    assert.deepEqual(lines.slice(1), [
      'system: transfer refused: +15550199000 is not on the transfer allow-list; nothing was dialled',
      'agent: I can only transfer you to our billing desk. Shall I do that?',
      'agent: Let me get billing for you, please hold.',
      'system: warm transfer to +15557770004: failed (could not dial human agent)',
      `agent: ${shippedBusiness().business.lines.transferFallback}`,
      'system: cold transfer to tel:+15557770004: transferred',
    ]);
    assert.deepEqual(r.outcome, { kind: 'transferred', to: '+15557770004' });
  });

  it('warm, connected: no REFER, and the room (caller and person in it) is deleted once, only when the caller hangs up', () => {
    const r = reports['warm-connected']!;
    passed(r);
    const methods = requestsFor(r.room).map((q) => q.method);
    assert.ok(!methods.includes('TransferSIPParticipant'));
    assert.equal(r.deleteRoomCalls, 1);
    assert.ok(callerHungUpAt > 0 && r.roomDeletedAt !== null && r.roomDeletedAt >= callerHungUpAt, 'the room went before the caller left');
    assert.deepEqual(r.outcome, { kind: 'transferred', to: '+15557770005' });
  });
});
