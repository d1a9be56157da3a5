// `switchboard setup telnyx` through the real `telnyx` SDK, against the local emulator of the
// Telnyx API v2 endpoints it uses (src/sandbox/telnyxApi.ts; no internet).
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.js';
import { ProvisionError } from '../src/provision/plan.js';
import { runCli } from './helpers/cli.js';
import { setupTelnyx } from '../src/provision/telnyx.js';
import { TelnyxApiEmulator } from '../src/sandbox/telnyxApi.js';

// Fixture credentials: shaped like Telnyx's, valid nowhere.
const KEY = 'KEYfixture0000notreal0000';
const PASSWORD = 'fixture-connection-pw-1';

let emu: TelnyxApiEmulator;

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    TELNYX_API_KEY: KEY,
    TELNYX_API_BASE_URL: emu.url,
    LIVEKIT_SIP_URI: 'sip:abcd1234.sip.livekit.cloud',
    SIP_INBOUND_NUMBERS: '+15105550100',
    SIP_OUTBOUND_USERNAME: 'switchboard',
    SIP_OUTBOUND_PASSWORD: PASSWORD,
    ...extra,
  };
}

const run = (extra: Record<string, string> = {}, opts: { dryRun?: boolean; updatePassword?: boolean } = {}) => setupTelnyx(loadConfig(env(extra)), opts);

/** Changing requests as "METHOD path" with Telnyx ids replaced by ":id". */
function writeCalls(): string[] {
  return emu.writes().map((r) => `${r.method} ${r.path.replace(/\/\d+$/, '/:id')}`);
}

const cli = (args: string[], extra: Record<string, string> = {}) => runCli(args, env(extra));

describe('setup telnyx (FQDN connection to LiveKit)', () => {
  beforeEach(async () => {
    emu = new TelnyxApiEmulator({ apiKey: KEY, numbers: ['+15105550100', '+15105550199'] });
    await emu.start();
  });
  afterEach(async () => {
    await emu.close();
  });

  test('first run creates the profile, the connection, its FQDN and assigns the numbers, in that order', async () => {
    const result = await run({ SIP_OUTBOUND_NUMBERS: '+15105550199' });
    assert.deepEqual(writeCalls(), [
      'POST /outbound_voice_profiles',
      'POST /fqdn_connections',
      'POST /fqdns',
      'PATCH /phone_numbers/:id',
      'PATCH /phone_numbers/:id',
    ]);
    const [profile, connection, fqdn, n1, n2] = emu.writes().map((r) => r.body);
    assert.deepEqual(profile, { name: 'switchboard' });
    const profileId = emu.outboundVoiceProfiles[0]!.id;
    assert.deepEqual(connection, {
      connection_name: 'switchboard',
      active: true,
      transport_protocol: 'TCP',
      inbound: { ani_number_format: '+E.164', dnis_number_format: '+e164', codecs: ['G711U', 'G711A'] },
      outbound: { outbound_voice_profile_id: profileId, ip_authentication_method: 'credential-authentication' },
      user_name: 'switchboard',
      password: PASSWORD,
    });
    const connectionId = emu.connections[0]!.id;
    assert.deepEqual(fqdn, { connection_id: connectionId, fqdn: 'abcd1234.sip.livekit.cloud', port: 5060, dns_record_type: 'a' });
    assert.deepEqual([n1, n2], [{ connection_id: connectionId }, { connection_id: connectionId }]);
    assert.deepEqual(emu.phoneNumbers.map((p) => p.connection_id), [connectionId, connectionId]);
    assert.deepEqual(result.steps.map((s) => `${s.step} ${s.status}`), [
      'outbound voice profile created',
      'FQDN connection created',
      'FQDN created',
      'phone number created',
      'phone number created',
    ]);
    assert.equal(result.outputs.SIP_OUTBOUND_ADDRESS, 'sip.telnyx.com');
    assert.equal(result.outputs.SIP_OUTBOUND_TRANSPORT, 'tcp');
    assert.equal(result.outputs.connectionId, connectionId);
    assert.ok(!JSON.stringify(result).includes(PASSWORD) && !JSON.stringify(result).includes(KEY));
    assert.ok(!emu.log.some((r) => r.method === 'GET' && JSON.stringify(r).includes(PASSWORD)));
  });

  test('a second run reads everything and sends no changing request', async () => {
    const first = await run();
    const before = emu.log.length;
    const second = await run();
    assert.deepEqual(emu.log.slice(before).filter((r) => r.method !== 'GET'), []);
    assert.deepEqual(second.steps.map((s) => s.status), Array(second.steps.length).fill('unchanged'));
    assert.deepEqual(second.steps.map((s) => s.id), first.steps.map((s) => s.id));
    assert.match(second.steps[1]!.note!, /does not return passwords/);
    assert.equal(emu.connections.length, 1);
    assert.equal(emu.fqdns.length, 1);
  });

  test('--dry-run reads only and plans the writes a real run then makes, with secrets redacted', async () => {
    const plan = await run({}, { dryRun: true });
    assert.deepEqual(emu.writes(), []);
    assert.deepEqual(plan.steps.map((s) => s.status), ['would create', 'would create', 'would create', 'would create']);
    assert.equal((plan.requests[1]!.body as { password: string }).password, '[redacted]');
    assert.ok(!JSON.stringify(plan).includes(PASSWORD));
    await run();
    const real = emu.writes();
    assert.equal(real.length, plan.requests.length);
    for (const [i, r] of real.entries()) {
      const planned = plan.requests[i]!;
      assert.equal(planned.call.replace('https://api.telnyx.com/v2', '').replace(/\/\d+$/, '/:id'), `${r.method} ${r.path.replace(/\/\d+$/, '/:id')}`);
      const ids = JSON.stringify(r.body).replace(/"\d{6,}"/g, '"<id>"');
      const planBody = JSON.stringify(planned.body).replace(/"<id of the [\w ]+ created above>"/g, '"<id>"').replace('"[redacted]"', JSON.stringify(PASSWORD));
      assert.equal(planBody, ids);
    }
  });

  test('the profile and connection are found by exact name past the first page of results', async () => {
    for (let i = 0; i < 25; i++) emu.outboundVoiceProfiles.push({ id: String(9_000_000 + i), name: `switchboard-old-${i}` });
    await run();
    const before = emu.log.length;
    const second = await run();
    assert.equal(emu.outboundVoiceProfiles.filter((p) => p.name === 'switchboard').length, 1);
    assert.ok(emu.log.slice(before).some((r) => r.path === '/outbound_voice_profiles' && r.query['page[number]'] === '2'), 'the SDK paged on');
    assert.equal(second.steps[0]!.status, 'unchanged');
  });

  test('SIP_WIDEBAND offers G.722 first and turns HD voice on; turned on later it patches only that', async () => {
    await run();
    const before = emu.log.length;
    const result = await run({ SIP_WIDEBAND: 'true' });
    const writes = emu.log.slice(before).filter((r) => r.method !== 'GET');
    assert.deepEqual(writes.map((r) => [r.method, r.path.replace(/\d+$/, ':id'), r.body]), [
      ['PATCH', '/fqdn_connections/:id', { inbound: { ani_number_format: '+E.164', dnis_number_format: '+e164', codecs: ['G722', 'G711U', 'G711A'] } }],
      ['PATCH', '/phone_numbers/:id', { hd_voice_enabled: true }],
    ]);
    assert.deepEqual(result.steps[1]!.changes, ['inbound.codecs']);
    assert.deepEqual((emu.connections[0]!.inbound as { codecs: string[] }).codecs, ['G722', 'G711U', 'G711A']);
    assert.equal(emu.phoneNumbers[0]!.hd_voice_enabled, true);
    assert.ok(result.next.some((n) => /16 kHz/.test(n)));
  });

  test('TELNYX_AUTH=ip: outbound by address, no credentials sent or needed', async () => {
    const result = await run({ TELNYX_AUTH: 'ip', SIP_OUTBOUND_USERNAME: '', SIP_OUTBOUND_PASSWORD: '', LIVEKIT_SIP_URI: 'sip:sip.example.com:5080;transport=udp', SIP_OUTBOUND_TRANSPORT: 'udp' });
    const connection = emu.writes()[1]!.body!;
    assert.equal((connection.outbound as { ip_authentication_method: string }).ip_authentication_method, 'ip-authentication');
    assert.equal(connection.transport_protocol, 'UDP');
    assert.ok(!('user_name' in connection) && !('password' in connection));
    assert.deepEqual(emu.writes()[2]!.body, { connection_id: emu.connections[0]!.id, fqdn: 'sip.example.com', port: 5080, dns_record_type: 'a' });
    assert.ok(result.next.some((n) => /leave SIP_OUTBOUND_USERNAME\/PASSWORD unset/.test(n)));
  });

  test('--update-password sets the password on the existing connection, and nothing else', async () => {
    await run();
    const before = emu.log.length;
    await run({ SIP_OUTBOUND_PASSWORD: 'fixture-rotated-pw-22' }, { updatePassword: true });
    const writes = emu.log.slice(before).filter((r) => r.method !== 'GET');
    assert.deepEqual(writes.map((r) => r.body), [{ password: 'fixture-rotated-pw-22' }]);
    assert.equal(emu.connections[0]!.password, 'fixture-rotated-pw-22');
  });

  test('a wrong API key: Telnyx\'s 401 names TELNYX_API_KEY, exit code 2, nothing created', async () => {
    await assert.rejects(run({ TELNYX_API_KEY: 'KEYfixture-wrong' }), (err: ProvisionError) => {
      assert.ok(err instanceof ProvisionError);
      assert.equal(err.exitCode, 2);
      assert.match(err.message, /Telnyx rejected TELNYX_API_KEY \(401 Authentication failed/);
      assert.deepEqual(err.result.steps.map((s) => s.status), ['failed', 'not run', 'not run', 'not run']);
      assert.ok(!err.message.includes('KEYfixture-wrong'));
      return true;
    });
    assert.deepEqual(emu.writes(), []);
  });

  test('a number not on the account, or on another connection, fails its step with exit code 2 after the rest was done', async () => {
    await assert.rejects(run({ SIP_INBOUND_NUMBERS: '+15105550100,+15105550142' }), (err: ProvisionError) => {
      assert.equal(err.exitCode, 2);
      assert.deepEqual(err.result.steps.map((s) => s.status), ['created', 'created', 'created', 'created', 'failed']);
      assert.match(err.message, /\+15105550142 is not a number on this Telnyx account — buy or port it first/);
      return true;
    });
    emu.connections.push({ id: '4242424242', connection_name: 'pbx' });
    emu.addPhoneNumber('+15105550177', '4242424242');
    await assert.rejects(run({ SIP_INBOUND_NUMBERS: '+15105550177' }), /\+15105550177 is assigned to another connection \(4242424242\)/);
    assert.equal(emu.phoneNumbers.find((p) => p.phone_number === '+15105550177')!.connection_id, '4242424242');
  });

  test('bad settings are all reported before any request', async () => {
    await assert.rejects(
      run({ TELNYX_API_KEY: '', LIVEKIT_SIP_URI: 'sip:203.0.113.10:5060', SIP_OUTBOUND_USERNAME: 'sw', SIP_OUTBOUND_PASSWORD: 'short', SIP_INBOUND_NUMBERS: '5105550100' }),
      (err: ConfigError) => {
        assert.ok(err instanceof ConfigError);
        const text = err.problems.join('\n');
        assert.match(text, /TELNYX_API_KEY: not set/);
        assert.match(text, /LIVEKIT_SIP_URI: "sip:203\.0\.113\.10:5060" is an IP address/);
        assert.match(text, /SIP_OUTBOUND_USERNAME: Telnyx takes 4-32 letters and digits/);
        assert.match(text, /SIP_OUTBOUND_PASSWORD: Telnyx takes 8 to 128 characters/);
        assert.match(text, /SIP_INBOUND_NUMBERS: "5105550100" is not an E\.164 number/);
        assert.ok(!text.includes('short'));
        return true;
      },
    );
    assert.deepEqual(emu.log, []);
  });

  test('CLI: --dry-run then a real run, each with JSON last; a wrong key exits 2; the key is never printed', async () => {
    const dry = await cli(['setup', 'telnyx', '--dry-run', '--json']);
    assert.equal(dry.status, 0, dry.stderr);
    const planned = JSON.parse(dry.stdout.trim().split('\n').pop()!) as { ok: boolean; dryRun: boolean; requests: unknown[] };
    assert.deepEqual([planned.ok, planned.dryRun, planned.requests.length], [true, true, 4]);
    assert.deepEqual(emu.writes(), []);
    const ok = await cli(['setup', 'telnyx']);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /FQDN connection\s+switchboard\s+created/);
    assert.match(ok.stdout, /SIP_OUTBOUND_ADDRESS=sip\.telnyx\.com/);
    const bad = await cli(['setup', 'telnyx', '--json'], { TELNYX_API_KEY: 'KEYfixture-wrong' });
    assert.equal(bad.status, 2);
    assert.equal((JSON.parse(bad.stdout.trim().split('\n').pop()!) as { ok: boolean }).ok, false);
    for (const out of [dry.stdout, dry.stderr, ok.stdout, ok.stderr, bad.stdout, bad.stderr]) {
      assert.ok(!out.includes(KEY) && !out.includes('KEYfixture-wrong') && !out.includes(PASSWORD));
    }
  });
});
