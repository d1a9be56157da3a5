// CLI conventions (exit codes, --version, --env-file, lazy command loading) and `calls list|show`,
// run as a person runs them: the built CLI in a child process.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { before, describe, test } from 'node:test';
import { openStore } from '../src/store/index.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(import.meta.dirname, '..', 'src', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'sb-cli-'));

function cli(args: string[], env: Record<string, string> = {}, nodeArgs: string[] = []) {
  const r = spawnSync(process.execPath, [...nodeArgs, CLI, ...args], {
    env: { PATH: process.env.PATH, HOME: dir, ...env },
    cwd: dir,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, last: () => JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, any> };
}

/** The modules a run of the CLI loaded, recorded by a resolve hook in a file. */
function loadedBy(args: string[]): string[] {
  const log = join(dir, `loaded-${Math.random().toString(36).slice(2)}.txt`);
  const hooks = join(dir, 'hooks.mjs');
  writeFileSync(
    hooks,
    `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(process.env.SB_LOADED_LOG, r.url + '\\n');
  return r;
}
`,
  );
  const register = join(dir, 'register.mjs');
  writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
  const r = cli(args, { SB_LOADED_LOG: log }, ['--import', pathToFileURL(register).href]);
  assert.equal(r.status, 0, r.stderr);
  return readFileSync(log, 'utf8').split('\n').filter(Boolean);
}

const uses = (loaded: string[], pkg: string) => loaded.some((u) => u.includes(`/node_modules/${pkg}/`));

describe('CLI conventions', () => {
  test('--version prints the package version; --help exits 0', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const v = cli(['--version']);
    assert.equal(v.status, 0);
    assert.equal(v.stdout.trim(), pkg.version);
    assert.equal(cli(['token', '--help']).status, 0);
    assert.equal(cli(['--help']).status, 0);
  });

  test('usage and parse errors exit 2 and say what was wrong', () => {
    const unknown = cli(['dial', '+15105550100']);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /unknown command 'dial'/);
    const option = cli(['token', '--colour']);
    assert.equal(option.status, 2);
    assert.match(option.stderr, /unknown option '--colour'/);
    const missing = cli(['calls', 'show']);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /missing required argument 'id'/);
    assert.equal(cli([]).status, 2, 'no command is a usage error too');
    assert.equal(cli(['token', '--ttl', 'forever']).status, 2);
  });

  test('only the invoked command is loaded: token and setup do not load the agents framework or the SDKs', () => {
    const token = loadedBy(['token', '--help']);
    assert.ok(!uses(token, '@livekit/agents'), 'token --help loads @livekit/agents');
    assert.ok(!uses(token, 'twilio'), 'token --help loads twilio');
    const setup = loadedBy(['setup', '--help']);
    assert.ok(!uses(setup, '@livekit/agents') && !uses(setup, 'twilio') && !uses(setup, 'telnyx'), 'setup --help loads a provider SDK');
    // The detector sees what a command really loads.
    assert.ok(uses(loadedBy(['simulate', '--help']), '@livekit/agents'));
  });

  test('--env-file reads settings from that file instead of ./.env; the real environment still wins', () => {
    writeFileSync(join(dir, '.env'), 'AGENT_NAME=from-dotenv\n');
    const file = join(dir, 'staging.env');
    writeFileSync(file, 'AGENT_NAME=from-env-file\nROOM_PREFIX=staging\n');
    assert.equal(cli(['token', '--json']).last().agentName, 'from-dotenv');
    const r = cli(['--env-file', file, 'token', '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.last().agentName, 'from-env-file');
    assert.match(r.last().room as string, /^staging_browser_/);
    assert.equal(cli(['--env-file', file, 'token', '--json'], { AGENT_NAME: 'from-shell' }).last().agentName, 'from-shell');
    // Node itself also reads --env-file, and stops on a missing file before the CLI runs.
    const gone = cli(['--env-file', join(dir, 'missing.env'), 'token']);
    assert.notEqual(gone.status, 0);
    assert.match(gone.stderr, /missing\.env/);
  });

  test('LOG_LEVEL is checked by the config schema like every other setting', () => {
    const r = cli(['calls', 'list'], { LOG_LEVEL: 'loud', STORE_PATH: join(dir, 'x.db') });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /LOG_LEVEL: .*log level/);
  });
});

describe('calls list | show', () => {
  const store = join(dir, 'calls.db');
  const env = { STORE_URL: `sqlite:${store}` };

  before(async () => {
    const s = await openStore(`sqlite:${store}`);
    await s.calls.start({ id: 'hotline-1', room: 'call_+15105550123_a', direction: 'inbound', callerNumber: '+15105550123', startedAt: '2026-12-01T10:00:00.000Z' });
    await s.calls.finish('hotline-1', {
      endedAt: '2026-12-01T10:01:30.000Z',
      outcome: { kind: 'completed', summary: 'booked a cleaning' },
      agents: ['intro', 'desk'],
      toolCalls: [{ name: 'book_appointment', args: { start: '2026-12-03T15:00:00Z' }, isError: false, at: '2026-12-01T10:01:00.000Z' }],
      userdata: {},
      transcript: [
        { role: 'agent', text: 'Riverside Clinic, how can I help?', at: '2026-12-01T10:00:02.000Z', agent: 'intro' },
        { role: 'caller', text: 'I need a cleaning.', at: '2026-12-01T10:00:05.000Z' },
      ],
      recordingPath: '/app/recordings/hotline-1.wav',
      latency: { turns: [{ turn: 1, sttFinalMs: 60, llmFirstTokenMs: 420, ttsFirstByteMs: 530, firstAudioMs: 610 }], firstAudioMs: { p50: 610, p95: 610 } },
      cost: { totalUsd: 0.0123, perMinuteUsd: 0.0082, estimated: false, notes: [] },
    });
    await s.calls.start({ id: 'campaign-1', room: 'out_1', direction: 'outbound', callerNumber: '+15105550124', startedAt: '2026-12-01T11:00:00.000Z', campaignId: 'spring', contactId: 'c1' });
    await s.calls.finish('campaign-1', { endedAt: '2026-12-01T11:00:20.000Z', outcome: { kind: 'voicemail', messageLeft: true }, agents: ['desk'], toolCalls: [], userdata: {}, transcript: [] });
    await s.calls.start({ id: 'browser-1', room: 'call_browser_x', direction: 'browser', callerNumber: null, startedAt: '2026-12-01T12:00:00.000Z' });
    await s.close();
  });

  test('list shows the calls outside campaigns, newest first, with outcome, latency, cost and recording', () => {
    const r = cli(['calls', 'list', '--json'], env);
    assert.equal(r.status, 0, r.stderr);
    const out = r.last();
    assert.equal(out.scope, 'calls outside campaigns');
    assert.deepEqual(out.calls.map((c: { id: string }) => c.id), ['browser-1', 'hotline-1']);
    assert.deepEqual(out.calls[1], {
      id: 'hotline-1',
      direction: 'inbound',
      callerNumber: '+15105550123',
      startedAt: '2026-12-01T10:00:00.000Z',
      endedAt: '2026-12-01T10:01:30.000Z',
      durationSeconds: 90,
      outcome: 'completed',
      campaignId: null,
      turns: 1,
      firstAudioP50Ms: 610,
      costUsd: 0.0123,
      recordingPath: '/app/recordings/hotline-1.wav',
    });
    assert.equal(out.calls[0].outcome, 'in progress');
    const human = cli(['calls', 'list'], env).stdout;
    assert.match(human, /hotline-1\s+2026-12-01T10:00:00\.000Z\s+inbound\s+\+15105550123\s+completed\s+90\s+1\s+610 ms\s+\$0\.0123\s+yes/);
  });

  test('--all adds campaign calls, --campaign keeps one campaign\'s; bad flags exit 2', () => {
    assert.deepEqual(cli(['calls', 'list', '--all', '--json'], env).last().calls.map((c: { id: string }) => c.id), ['browser-1', 'campaign-1', 'hotline-1']);
    assert.deepEqual(cli(['calls', 'list', '--campaign', 'spring', '--json'], env).last().calls.map((c: { id: string }) => c.id), ['campaign-1']);
    assert.deepEqual(cli(['calls', 'list', '--limit', '1', '--json'], env).last().calls.map((c: { id: string }) => c.id), ['browser-1']);
    const bad = cli(['calls', 'list', '--limit', '0'], env);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--limit: "0" must be a whole number from 1 to 1000/);
  });

  test('show prints the transcript, tools, latency per turn, cost and recording; --json gives the whole record', () => {
    const human = cli(['calls', 'show', 'hotline-1'], env);
    assert.equal(human.status, 0, human.stderr);
    for (const line of [
      /Outcome\s+completed: booked a cleaning/,
      /Agents\s+intro → desk/,
      /Recording\s+\/app\/recordings\/hotline-1\.wav/,
      /Cost\s+\$0\.0123 \(\$0\.0082\/min\)/,
      /1\s+60 ms\s+420 ms\s+530 ms\s+610 ms/,
      /book_appointment\(\{"start":"2026-12-03T15:00:00Z"\}\)/,
      /10:00:02\s+agent \(intro\): Riverside Clinic, how can I help\?/,
      /10:00:05\s+caller: I need a cleaning\./,
    ]) {
      assert.match(human.stdout, line);
    }
    const json = cli(['calls', 'show', 'hotline-1', '--json'], env).last();
    assert.equal(json.call.transcript.length, 2);
    assert.equal(json.call.cost.totalUsd, 0.0123);
    assert.equal(json.summary.durationSeconds, 90);
    const none = cli(['calls', 'show', 'nope', '--json'], env);
    assert.equal(none.status, 2);
    assert.match(none.stderr, /no call "nope" in .*calls\.db/);
  });
});
