// `switchboard setup twilio` through the real `twilio` SDK, against a local fake of the Twilio
// trunking and SIP credential endpoints (src/sandbox/twilioApi.ts; no internet).
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.js';
import { ProvisionError } from '../src/provision/plan.js';
import { runCli } from './helpers/cli.js';
import { defaultTrunkDomain, setupTwilio } from '../src/provision/twilio.js';
import { TwilioApiEmulator } from '../src/sandbox/twilioApi.js';

// Fixture credentials: shaped like Twilio's, valid nowhere.
const ACCOUNT = 'ACfeedfacefeedfacefeedface0000beef';
const TOKEN = 'fixture-auth-token-not-real';
const PASSWORD = 'Fixture-Termination-Pw1';
const DOMAIN = 'switchboard-0000beef.pstn.twilio.com';

let fake: TwilioApiEmulator;

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    TWILIO_ACCOUNT_SID: ACCOUNT,
    TWILIO_AUTH_TOKEN: TOKEN,
    TWILIO_API_BASE_URL: fake.url,
    LIVEKIT_SIP_URI: 'sip:abcd1234.sip.livekit.cloud',
    SIP_INBOUND_NUMBERS: '+15105550100',
    SIP_OUTBOUND_USERNAME: 'switchboard',
    SIP_OUTBOUND_PASSWORD: PASSWORD,
    ...extra,
  };
}

const run = (extra: Record<string, string> = {}, opts: { dryRun?: boolean; updatePassword?: boolean } = {}) => setupTwilio(loadConfig(env(extra)), opts);

/** Writes as "METHOD product path" with Twilio SIDs replaced by their two-letter prefix. */
function writeCalls(): string[] {
  return fake.calls((r) => r.method !== 'GET').map((c) => c.replace(/\b(TK|CL|CR|PN|OU)[0-9a-f]{32}\b/g, '$1…'));
}

const cli = (args: string[], extra: Record<string, string> = {}) => runCli(args, env(extra));

describe('setup twilio (Elastic SIP trunk)', () => {
  beforeEach(async () => {
    fake = new TwilioApiEmulator({ accountSid: ACCOUNT, authToken: TOKEN, numbers: ['+15105550100', '+15105550199'] });
    await fake.start();
  });
  afterEach(async () => {
    await fake.close();
  });

  test('first run creates trunk, origination URL, credential list, credential, attaches both, in that order', async () => {
    const result = await run({ SIP_OUTBOUND_NUMBERS: '+15105550199' });
    assert.deepEqual(writeCalls(), [
      'POST trunking /v1/Trunks',
      'POST trunking /v1/Trunks/TK…/OriginationUrls',
      `POST api /2010-04-01/Accounts/${ACCOUNT}/SIP/CredentialLists.json`,
      `POST api /2010-04-01/Accounts/${ACCOUNT}/SIP/CredentialLists/CL…/Credentials.json`,
      'POST trunking /v1/Trunks/TK…/CredentialLists',
      'POST trunking /v1/Trunks/TK…/PhoneNumbers',
      'POST trunking /v1/Trunks/TK…/PhoneNumbers',
    ]);
    const forms = fake.writes().map((r) => r.form);
    assert.deepEqual(forms[0], { FriendlyName: 'switchboard', DomainName: DOMAIN, TransferMode: 'sip-only' });
    assert.equal(fake.trunks[0]!.transfer_mode, 'sip-only', 'the trunk accepts SIP REFER');
    assert.deepEqual(forms[1], { FriendlyName: 'switchboard to LiveKit', SipUrl: 'sip:abcd1234.sip.livekit.cloud', Priority: '10', Weight: '10', Enabled: 'true' });
    assert.deepEqual(forms[2], { FriendlyName: 'switchboard-livekit' });
    assert.deepEqual(forms[3], { Username: 'switchboard', Password: PASSWORD });
    assert.deepEqual(forms[4], { CredentialListSid: fake.credentialLists[0]!.sid });
    assert.deepEqual(forms.slice(5).map((f) => f.PhoneNumberSid), fake.incomingNumbers.map((n) => n.sid));
    assert.deepEqual(result.steps.map((s) => s.status), Array(7).fill('created'));
    assert.equal(result.outputs.SIP_OUTBOUND_ADDRESS, DOMAIN);
    assert.ok(result.next.some((n) => n.includes(`SIP_OUTBOUND_ADDRESS=${DOMAIN}`)), 'says what SIP_OUTBOUND_ADDRESS must be');
    assert.ok(!JSON.stringify(result).includes(PASSWORD) && !JSON.stringify(result).includes(TOKEN));
  });

  test('a second run finds everything and makes no creating (or any changing) request', async () => {
    const first = await run();
    const before = fake.log.length;
    const second = await run();
    const after = fake.log.slice(before);
    assert.deepEqual(after.filter((r) => r.method !== 'GET'), []);
    assert.deepEqual(second.steps.map((s) => s.status), Array(second.steps.length).fill('unchanged'));
    assert.deepEqual(second.steps.map((s) => s.id), first.steps.map((s) => s.id));
    assert.match(second.steps.find((s) => s.step === 'credential')!.note!, /never returns passwords/);
    assert.equal(fake.trunks.length, 1);
    assert.equal(fake.originationUrls.length, 1);
  });

  test('call transfer: enable-all when TRANSFER_ALLOWLIST has a phone number, sip-only for sip: URIs only', async () => {
    await run({ TRANSFER_ALLOWLIST: 'sip:desk@pbx.example.com,+15105550123' });
    assert.equal(fake.writes()[0]!.form.TransferMode, 'enable-all');
    assert.equal(fake.trunks[0]!.transfer_mode, 'enable-all');
    assert.match(String((await run({ TRANSFER_ALLOWLIST: 'sip:desk@pbx.example.com,+15105550123' })).steps[0]!.note), /call transfer enable-all \(SIP REFER\)/);
  });

  test('a trunk made before (transfers off) gets TransferMode set and nothing else; the run after that changes nothing', async () => {
    const trunkSid = `TK${'3'.repeat(32)}`;
    fake.trunks.push({ sid: trunkSid, friendly_name: 'switchboard', domain_name: DOMAIN, transfer_mode: 'disable-all', transfer_caller_id: 'from-transferee' });
    const extra = { TRANSFER_ALLOWLIST: '+15105550123' };
    const first = await run(extra);
    const trunkWrites = fake.writes().filter((r) => r.path === `/v1/Trunks/${trunkSid}`);
    assert.deepEqual(trunkWrites.map((r) => r.form), [{ TransferMode: 'enable-all' }]);
    assert.deepEqual(first.steps[0], { step: 'trunk', name: 'switchboard', status: 'updated', id: trunkSid, changes: ['transferMode'], note: `termination domain ${DOMAIN}; call transfer enable-all (SIP REFER)` });
    assert.equal(fake.trunks[0]!.transfer_mode, 'enable-all');
    assert.equal(fake.trunks[0]!.transfer_caller_id, 'from-transferee', 'the transfer target still sees the caller');
    const before = fake.log.length;
    const second = await run(extra);
    assert.deepEqual(fake.log.slice(before).filter((r) => r.method !== 'GET'), []);
    assert.equal(second.steps[0]!.status, 'unchanged');
  });

  test('a wider transfer setting chosen on the trunk (enable-all) is not narrowed to sip-only', async () => {
    fake.trunks.push({ sid: `TK${'4'.repeat(32)}`, friendly_name: 'switchboard', domain_name: DOMAIN, transfer_mode: 'enable-all' });
    const dry = await run({}, { dryRun: true });
    assert.equal(dry.steps[0]!.status, 'unchanged');
    assert.deepEqual(dry.requests.filter((r) => r.step === 'trunk'), []);
    await run();
    assert.equal(fake.trunks[0]!.transfer_mode, 'enable-all');
  });

  test('--update-password sets the existing credential\'s password, and nothing else', async () => {
    await run();
    const before = fake.log.length;
    const result = await run({ SIP_OUTBOUND_PASSWORD: 'Fixture-Rotated-Pw22' }, { updatePassword: true });
    const writes = fake.log.slice(before).filter((r) => r.method !== 'GET');
    assert.equal(writes.length, 1);
    assert.match(writes[0]!.path, /\/Credentials\/CR[0-9a-f]{32}\.json$/);
    assert.deepEqual(writes[0]!.form, { Password: 'Fixture-Rotated-Pw22' });
    assert.equal(result.steps.find((s) => s.step === 'credential')!.status, 'updated');
    assert.equal(fake.credentials[0]!.password, 'Fixture-Rotated-Pw22');
  });

  test('--dry-run reads only and plans the same writes a real run makes, with secrets redacted', async () => {
    const plan = await run({}, { dryRun: true });
    assert.deepEqual(fake.writes(), []);
    assert.deepEqual(plan.requests.map((r) => r.call.split(' ')[0]), Array(6).fill('POST'));
    assert.deepEqual(plan.requests.find((r) => r.step === 'credential')!.body, { Username: 'switchboard', Password: '[redacted]' });
    const shown = JSON.stringify(plan);
    assert.ok(!shown.includes(PASSWORD) && !shown.includes(TOKEN));

    await run();
    const real = fake.writes();
    assert.equal(real.length, plan.requests.length);
    for (const [i, r] of real.entries()) {
      const planned = plan.requests[i]!;
      assert.equal(planned.call.replace(/^POST https:\/\/(\w+)\.twilio\.com/, 'POST $1 ').replace(/<sid of the \w+( \w+)? created above>/g, '*'), `POST ${r.product} ${r.path}`.replace(/\b(TK|CL)[0-9a-f]{32}\b/g, '*'));
      const body = { ...(planned.body as Record<string, string>) };
      if (body.Password) body.Password = PASSWORD;
      if (body.CredentialListSid?.startsWith('<')) body.CredentialListSid = r.form.CredentialListSid!;
      assert.deepEqual(body, r.form);
    }
  });

  test('an existing trunk with another origination URL gets ours added, the other left and reported', async () => {
    fake.trunks.push({ sid: `TK${'1'.repeat(32)}`, friendly_name: 'switchboard', domain_name: 'kept-domain.pstn.twilio.com' });
    fake.originationUrls.push({ sid: `OU${'2'.repeat(32)}`, trunk_sid: `TK${'1'.repeat(32)}`, sip_url: 'sip:old-pbx.example.com', enabled: true, priority: 10, weight: 10, friendly_name: 'old' });
    const result = await run();
    const trunk = result.steps.find((s) => s.step === 'trunk')!;
    // Transfers were off on that trunk (Twilio's default); its domain is kept when TWILIO_TRUNK_DOMAIN is unset.
    assert.deepEqual([trunk.status, trunk.changes], ['updated', ['transferMode']]);
    assert.equal(fake.trunks[0]!.domain_name, 'kept-domain.pstn.twilio.com');
    assert.equal(result.outputs.SIP_OUTBOUND_ADDRESS, 'kept-domain.pstn.twilio.com');
    const ou = result.steps.find((s) => s.step === 'origination URL')!;
    assert.equal(ou.status, 'created');
    assert.match(ou.note!, /also sends calls to sip:old-pbx\.example\.com/);
  });

  test('wrong auth token: Twilio\'s 401 names TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN, exit code 2, nothing created', async () => {
    await assert.rejects(run({ TWILIO_AUTH_TOKEN: 'fixture-wrong-token' }), (err: ProvisionError) => {
      assert.ok(err instanceof ProvisionError);
      assert.equal(err.exitCode, 2);
      assert.match(err.message, /Twilio rejected TWILIO_ACCOUNT_SID \/ TWILIO_AUTH_TOKEN \(401, code 20003/);
      assert.equal(err.result.steps[0]!.status, 'failed');
      assert.ok(err.result.steps.slice(1).every((s) => s.status === 'not run'));
      assert.ok(!err.message.includes('fixture-wrong-token'));
      return true;
    });
    assert.deepEqual(fake.writes(), []);
  });

  test('a number not in the account fails its step with exit code 2, after saying what was already created', async () => {
    await assert.rejects(run({ SIP_INBOUND_NUMBERS: '+15105550100,+15105550142' }), (err: ProvisionError) => {
      assert.equal(err.exitCode, 2);
      assert.deepEqual(err.result.steps.map((s) => `${s.step} ${s.status}`), [
        'trunk created',
        'origination URL created',
        'credential list created',
        'credential created',
        'trunk credential list created',
        'phone number created',
        'phone number failed',
      ]);
      assert.match(err.message, /\+15105550142 is not a number in Twilio account AC\w+ — buy or port it first, or correct SIP_INBOUND_NUMBERS/);
      assert.match(err.message, /changed before the failure: trunk "switchboard" TK\w+ created/);
      return true;
    });
  });

  test('bad settings are all reported before any request: missing SIP endpoint, non-E.164 number, weak password', async () => {
    await assert.rejects(
      run({ LIVEKIT_SIP_URI: '', SIP_INBOUND_NUMBERS: '5105550100', SIP_OUTBOUND_PASSWORD: 'short' }),
      (err: ConfigError) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.exitCode, 2);
        const text = err.problems.join('\n');
        assert.match(text, /LIVEKIT_SIP_URI: not set — the LiveKit SIP endpoint/);
        assert.match(text, /SIP_INBOUND_NUMBERS: "5105550100" is not an E\.164 number — write it as \+15105550100/);
        assert.match(text, /SIP_OUTBOUND_PASSWORD: Twilio requires at least 12 characters/);
        assert.ok(!text.includes('short'));
        return true;
      },
    );
    await assert.rejects(run({ LIVEKIT_SIP_URI: 'https://abcd.sip.livekit.cloud' }), /LIVEKIT_SIP_URI: "https:\/\/abcd\.sip\.livekit\.cloud" is not a SIP URI/);
    assert.deepEqual(fake.log, []);
  });

  test('the default termination domain is derived from the trunk name and account', () => {
    assert.equal(defaultTrunkDomain('switchboard', ACCOUNT), DOMAIN);
    assert.equal(defaultTrunkDomain('Front_Desk', ACCOUNT), 'front-desk-0000beef.pstn.twilio.com');
  });

  test('CLI: exit 0 with JSON last, then exit 2 for wrong credentials; the auth token is never printed', async () => {
    const ok = await cli(['setup', 'twilio', '--json']);
    assert.equal(ok.status, 0, ok.stderr);
    const last = JSON.parse(ok.stdout.trim().split('\n').pop()!) as { ok: boolean; outputs: Record<string, string> };
    assert.equal(last.ok, true);
    assert.equal(last.outputs.SIP_OUTBOUND_ADDRESS, DOMAIN);
    const bad = await cli(['setup', 'twilio'], { TWILIO_AUTH_TOKEN: 'fixture-wrong-token' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /TWILIO_AUTH_TOKEN/);
    for (const out of [ok.stdout, ok.stderr, bad.stdout, bad.stderr]) {
      assert.ok(!out.includes(TOKEN) && !out.includes('fixture-wrong-token') && !out.includes(PASSWORD));
    }
  });
});
