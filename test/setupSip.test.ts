// `switchboard setup sip` against the LiveKit API emulator, through the real livekit-server-sdk.
import './helpers/logger.js';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { type SIPDispatchRuleIndividual, SIPTransport } from '@livekit/protocol';
import { SipClient } from 'livekit-server-sdk';
import { ConfigError, loadConfig } from '../src/config.js';
import { setupLiveKitSip } from '../src/provision/livekitSip.js';
import { ProvisionError } from '../src/provision/plan.js';
import { LiveKitApiEmulator } from '../src/sandbox/livekitApi.js';

const CLI = join(import.meta.dirname, '..', 'src', 'cli', 'main.js');
// Test-only credentials: not real, and never printed by the command.
const OUT_PASSWORD = 'Fixture-Outbound-Pw1';
const IN_PASSWORD = 'Fixture-Inbound-Pw2';

let lk: LiveKitApiEmulator;
let sip: SipClient;

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    LIVEKIT_URL: lk.url.replace(/^http/, 'ws'),
    LIVEKIT_API_KEY: lk.apiKey,
    LIVEKIT_API_SECRET: lk.apiSecret,
    SIP_INBOUND_NUMBERS: '+15105550100',
    SIP_INBOUND_ALLOWED_ADDRESSES: '192.0.2.0/24',
    SIP_OUTBOUND_ADDRESS: 'switchboard-test.pstn.twilio.com',
    SIP_OUTBOUND_NUMBERS: '+15105550100',
    SIP_OUTBOUND_USERNAME: 'switchboard',
    SIP_OUTBOUND_PASSWORD: OUT_PASSWORD,
    ...extra,
  };
}

const setup = (extra: Record<string, string> = {}, dryRun = false) => setupLiveKitSip(loadConfig(env(extra)), { dryRun });

/** Requests that change something (every SIP method that is not a read). */
function writes(): string[] {
  return lk.requests({ service: 'SIP' }).map((r) => r.method).filter((m) => !/^(List|Get)/.test(m));
}

/** Runs the CLI without blocking this process, which serves the emulator it talks to. */
function cli(args: string[], extra: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [CLI, ...args],
      {
        env: { PATH: process.env.PATH, HOME: tmpdir(), ...env(extra) },
        cwd: tmpdir(), // no .env there: the environment above is the whole configuration
        encoding: 'utf8',
        timeout: 30_000,
      },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') reject(err);
        else resolve({ status: child.exitCode, stdout, stderr });
      },
    );
  });
}

function lastJson(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
}

describe('setup sip (LiveKit trunks and dispatch rule)', () => {
  before(async () => {
    lk = new LiveKitApiEmulator();
    await lk.start();
    sip = new SipClient(lk.url, lk.apiKey, lk.apiSecret);
  });
  after(async () => {
    await lk.close();
  });
  beforeEach(() => lk.reset());

  test('creates the inbound trunk, outbound trunk and an individual-room dispatch rule that dispatches the agent', async () => {
    const result = await setup();
    assert.deepEqual(result.steps.map((s) => [s.step, s.name, s.status]), [
      ['inbound trunk', 'switchboard-inbound', 'created'],
      ['outbound trunk', 'switchboard-outbound', 'created'],
      ['dispatch rule', 'switchboard-dispatch', 'created'],
    ]);
    assert.deepEqual(writes(), ['CreateSIPInboundTrunk', 'CreateSIPOutboundTrunk', 'CreateSIPDispatchRule']);

    const [inbound] = await sip.listSipInboundTrunk();
    assert.equal(inbound?.name, 'switchboard-inbound');
    assert.deepEqual(inbound?.numbers, ['+15105550100']);
    assert.deepEqual(inbound?.allowedAddresses, ['192.0.2.0/24']);

    const [outbound] = await sip.listSipOutboundTrunk();
    assert.equal(outbound?.address, 'switchboard-test.pstn.twilio.com');
    assert.deepEqual(outbound?.numbers, ['+15105550100']);
    assert.equal(outbound?.transport, SIPTransport.SIP_TRANSPORT_AUTO);
    assert.equal(outbound?.authUsername, 'switchboard');
    assert.equal(outbound?.authPassword, OUT_PASSWORD);
    assert.equal(result.outputs.SIP_OUTBOUND_TRUNK_ID, outbound?.sipTrunkId);
    assert.ok(result.next.some((n) => n.includes(`SIP_OUTBOUND_TRUNK_ID=${outbound?.sipTrunkId}`)), 'says what SIP_OUTBOUND_TRUNK_ID must be');

    const [rule] = await sip.listSipDispatchRule();
    assert.equal(rule?.name, 'switchboard-dispatch');
    assert.equal(rule?.rule?.rule.case, 'dispatchRuleIndividual');
    assert.equal((rule?.rule?.rule.value as SIPDispatchRuleIndividual).roomPrefix, 'call');
    assert.deepEqual(rule?.trunkIds, [inbound?.sipTrunkId]);
    assert.deepEqual(rule?.roomConfig?.agents.map((a) => a.agentName), ['switchboard']);
    assert.equal(rule?.metadata, '', 'participants inherit rule metadata, so none is set');
  });

  test('a second run finds everything by name and sends no Create or Update', async () => {
    const first = await setup();
    lk.clearRequests();
    const second = await setup();
    assert.deepEqual(writes(), [], 'no changing request on the second run');
    assert.deepEqual(second.steps.map((s) => s.status), ['unchanged', 'unchanged', 'unchanged']);
    assert.deepEqual(second.steps.map((s) => s.id), first.steps.map((s) => s.id));
    assert.deepEqual(second.requests, []);
    assert.equal((await sip.listSipInboundTrunk()).length, 1);
    assert.equal((await sip.listSipOutboundTrunk()).length, 1);
    assert.equal((await sip.listSipDispatchRule()).length, 1);
  });

  test('changed settings update the same resources in place, keeping fields setup does not manage', async () => {
    const first = await setup();
    const inboundId = first.steps[0]!.id!;
    // Someone turned on Krisp by hand; an update must not undo it.
    const [trunk] = await sip.listSipInboundTrunk();
    trunk!.krispEnabled = true;
    await sip.updateSipInboundTrunk(inboundId, trunk!);
    lk.clearRequests();

    const second = await setup({
      SIP_INBOUND_NUMBERS: '+15105550100,+15105550101',
      SIP_OUTBOUND_PASSWORD: 'Fixture-Rotated-Pw3',
      AGENT_NAME: 'frontdesk',
    });
    assert.deepEqual(second.steps.map((s) => [s.status, s.changes]), [
      ['updated', ['numbers']],
      ['updated', ['auth/metadata']],
      ['updated', ['roomConfig.agents']],
    ]);
    assert.deepEqual(writes(), ['UpdateSIPInboundTrunk', 'UpdateSIPOutboundTrunk', 'UpdateSIPDispatchRule']);
    const [inbound] = await sip.listSipInboundTrunk();
    assert.equal(inbound?.sipTrunkId, inboundId);
    assert.deepEqual(inbound?.numbers, ['+15105550100', '+15105550101']);
    assert.equal(inbound?.krispEnabled, true);
    assert.equal((await sip.listSipOutboundTrunk())[0]?.authPassword, 'Fixture-Rotated-Pw3');
    assert.deepEqual((await sip.listSipDispatchRule())[0]?.roomConfig?.agents.map((a) => a.agentName), ['frontdesk']);
  });

  test('a password change is noticed even when the server does not return passwords', async () => {
    await setup();
    // What a server that redacts passwords would list: the stored trunk without its password.
    const [trunk] = await sip.listSipOutboundTrunk();
    trunk!.authPassword = '';
    await sip.updateSipOutboundTrunk(trunk!.sipTrunkId, trunk!);
    lk.clearRequests();
    const same = await setup({}, true);
    assert.equal(same.steps[1]!.status, 'unchanged', 'same password: the metadata fingerprint matches');
    const changed = await setup({ SIP_OUTBOUND_PASSWORD: 'Fixture-Rotated-Pw3' }, true);
    assert.equal(changed.steps[1]!.status, 'would update');
  });

  test('--dry-run reads but sends nothing, and plans exactly the bodies a real run sends, passwords redacted', async () => {
    const plan = await setup({ SIP_INBOUND_USERNAME: 'carrier', SIP_INBOUND_PASSWORD: IN_PASSWORD }, true);
    assert.deepEqual(writes(), []);
    assert.deepEqual(plan.steps.map((s) => s.status), ['would create', 'would create', 'would create']);
    const shown = JSON.stringify(plan);
    assert.ok(!shown.includes(OUT_PASSWORD) && !shown.includes(IN_PASSWORD) && !shown.includes(lk.apiSecret), 'no secret in the plan');
    assert.equal(plan.requests.length, 3);

    await setup({ SIP_INBOUND_USERNAME: 'carrier', SIP_INBOUND_PASSWORD: IN_PASSWORD });
    const sent = lk.requests({ service: 'SIP' }).filter((r) => r.method.startsWith('Create'));
    const unredact = (body: unknown, password: string) =>
      JSON.parse(JSON.stringify(body).replace('"authPassword":"[redacted]"', `"authPassword":"${password}"`)) as unknown;
    assert.deepEqual(plan.requests.map((r) => r.call), sent.map((r) => `SIP.${r.method}`));
    assert.deepEqual(unredact(plan.requests[0]!.body, IN_PASSWORD), sent[0]!.body);
    assert.deepEqual(unredact(plan.requests[1]!.body, OUT_PASSWORD), sent[1]!.body);
    const ruleBody = JSON.parse(JSON.stringify(plan.requests[2]!.body).replace('<id of the inbound trunk created above>', plan.steps[0]!.id ?? (sent[2]!.body as { trunkIds: string[] }).trunkIds[0]!));
    assert.deepEqual(ruleBody, sent[2]!.body);
  });

  test('bad settings are all reported at once, by variable, before any request (ConfigError, exit code 2)', async () => {
    await assert.rejects(
      setup({
        SIP_INBOUND_NUMBERS: '(510) 555-0100,+15551234567',
        SIP_INBOUND_ALLOWED_ADDRESSES: 'twilio.com',
        SIP_OUTBOUND_ADDRESS: 'sip:trunk.example.com;transport=tcp',
        SIP_OUTBOUND_PASSWORD: '',
      }),
      (err: ConfigError) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.exitCode, 2);
        const text = err.problems.join('\n');
        assert.match(text, /SIP_INBOUND_NUMBERS: "\(510\) 555-0100" is not an E\.164 number — write it as \+15105550100/);
        assert.match(text, /SIP_INBOUND_NUMBERS: "\+15551234567" is not a valid phone number/);
        assert.match(text, /SIP_INBOUND_ALLOWED_ADDRESSES: "twilio\.com" is not an IP address or CIDR/);
        assert.match(text, /SIP_OUTBOUND_ADDRESS: .* must be a host name/);
        assert.match(text, /SIP_OUTBOUND_PASSWORD: not set, but SIP_OUTBOUND_USERNAME is/);
        return true;
      },
    );
    await assert.rejects(setup({ SIP_INBOUND_NUMBERS: '', SIP_INBOUND_ALLOWED_ADDRESSES: '', SIP_OUTBOUND_ADDRESS: '', SIP_OUTBOUND_NUMBERS: '', SIP_OUTBOUND_USERNAME: '', SIP_OUTBOUND_PASSWORD: '' }), /nothing to set up/);
    assert.equal(lk.requests().length, 0);
  });

  test('wrong API credentials: the 401 names LIVEKIT_API_KEY/SECRET, exit code 2, nothing created', async () => {
    await assert.rejects(setup({ LIVEKIT_API_SECRET: 'not-the-server-secret' }), (err: ProvisionError) => {
      assert.ok(err instanceof ProvisionError);
      assert.equal(err.exitCode, 2);
      assert.match(err.message, /401/);
      assert.match(err.message, /LIVEKIT_API_KEY and LIVEKIT_API_SECRET/);
      assert.deepEqual(err.result.steps.map((s) => s.status), ['failed', 'not run', 'not run']);
      assert.ok(!err.message.includes('not-the-server-secret'));
      return true;
    });
    assert.equal((await sip.listSipInboundTrunk()).length, 0);
  });

  test('a failure after some steps says what was created and what was not', async () => {
    // Two rules already carry our rule's name: setup cannot tell which is its own.
    for (const pin of ['1111', '2222']) {
      await sip.createSipDispatchRule({ type: 'individual', roomPrefix: 'x', pin }, { name: 'switchboard-dispatch' });
    }
    await assert.rejects(setup(), (err: ProvisionError) => {
      assert.ok(err instanceof ProvisionError);
      assert.equal(err.exitCode, 1);
      assert.deepEqual(err.result.steps.map((s) => [s.step, s.status]), [
        ['inbound trunk', 'created'],
        ['outbound trunk', 'created'],
        ['dispatch rule', 'failed'],
      ]);
      assert.equal(err.result.ok, false);
      assert.match(err.message, /2 dispatch rules are named "switchboard-dispatch"/);
      assert.match(err.message, /changed before the failure: inbound trunk "switchboard-inbound" ST_\w+ created, outbound trunk "switchboard-outbound" ST_\w+ created/);
      assert.match(err.message, /not done: dispatch rule "switchboard-dispatch" failed/);
      return true;
    });
  });

  test('an inbound number another trunk already claims is refused by LiveKit: exit code 2 with its reason', async () => {
    await sip.createSipInboundTrunk('someone-else', ['+15105550100']);
    await assert.rejects(setup(), (err: ProvisionError) => {
      assert.equal(err.exitCode, 2);
      assert.match(err.message, /LiveKit refused the request: Conflicting inbound SIP Trunks/);
      return true;
    });
  });

  test('CLI: --json prints one JSON object last; exit 0, then 2 for a number that is not E.164; dry run prints no secret', async () => {
    const ok = await cli(['setup', 'sip', '--json']);
    assert.equal(ok.status, 0, ok.stderr);
    const result = lastJson(ok.stdout);
    assert.equal(result.ok, true);
    assert.match(String((result.outputs as Record<string, string>).SIP_OUTBOUND_TRUNK_ID), /^ST_/);

    const dry = await cli(['setup', 'sip', '--dry-run']);
    assert.equal(dry.status, 0, dry.stderr);
    assert.match(dry.stdout, /dry run, nothing was changed/);
    assert.ok(!dry.stdout.includes(OUT_PASSWORD) && !dry.stderr.includes(OUT_PASSWORD));

    const bad = await cli(['setup', 'sip', '--json'], { SIP_INBOUND_NUMBERS: '510-555-0100' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /SIP_INBOUND_NUMBERS: "510-555-0100" is not an E\.164 number — write it as \+15105550100/);
    assert.equal(lastJson(bad.stdout).ok, false);
  });
});
