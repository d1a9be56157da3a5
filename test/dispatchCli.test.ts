/**
 * `switchboard call` and `campaign run` on the bad-rows fixture, through the real CLI against the
 * LiveKit API emulator; the test plays the worker (call records into the shared store).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseJobMetadata } from '../src/call/jobMetadata.js';
import { simulatedWorker } from '../src/campaign/simulatedWorker.js';
import { LiveKitApiEmulator } from '../src/sandbox/livekitApi.js';
import { openStore } from '../src/store/index.js';
import type { Store } from '../src/store/index.js';

const CLI = join(import.meta.dirname, '..', 'src', 'cli', 'main.js');
const FIXTURES = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'campaign');

function cli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}
const lastJson = (s: string) => JSON.parse(s.trim().split('\n').at(-1)!) as Record<string, any>;

describe('switchboard call and campaign run (CLI, LiveKit API emulator)', { timeout: 120_000 }, () => {
  const lk = new LiveKitApiEmulator();
  let store: Store;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    await lk.start();
    const dir = mkdtempSync(join(tmpdir(), 'sb-cli-'));
    store = await openStore(join(dir, 'store.db'));
    lk.onDispatch(simulatedWorker(store.calls, { callMs: 50, outcome: (job) => (job.phoneNumber.endsWith('9') ? { kind: 'voicemail', messageLeft: true } : { kind: 'completed' }) }));
    env = { ...process.env, ...lk.env(), STORE_URL: `sqlite:${join(dir, 'store.db')}`, CALLING_WINDOW: '00:00-24:00', CAMPAIGN_CPS: '0', LOG_LEVEL: 'error' };
  });
  after(async () => {
    await store.close();
    await lk.close();
  });

  it('call: validates the number, dispatches an OutboundJob, waits for and prints the outcome', async () => {
    const r = await cli(['call', '(212) 555-0101', '--name', 'Ana', '--contact-json', '{"appointmentId":"apt-1","clinic":"east","visits":3}', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const out = lastJson(r.stdout);
    assert.equal(out.phoneNumber, '+12125550101');
    assert.deepEqual(out.outcome, { kind: 'completed' });
    assert.deepEqual(out.result, { action: 'confirmed' });
    const req = lk.requests({ method: 'CreateDispatch' }).at(-1)!;
    const body = req.body as { room: string; agentName: string; metadata: string };
    assert.equal(body.room, out.room);
    assert.match(body.room, /^call-\d{14}-[0-9a-f]{6}-n[0-9a-f]{16}-a1$/);
    assert.equal(body.agentName, 'switchboard');
    assert.deepEqual(parseJobMetadata(body.metadata), {
      kind: 'outbound',
      phoneNumber: '+12125550101',
      contact: { name: 'Ana', appointmentId: 'apt-1', fields: { clinic: 'east', visits: '3' } },
      contactId: out.room.split('-')[3],
      attempt: 1,
    });
  });

  it('call --no-wait returns the room at once; a bad number or a missing name is a usage error (exit 2)', async () => {
    const r = await cli(['call', '+12125550102', '--name', 'Bo', '--no-wait', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(lastJson(r.stdout).dispatched, true);
    const bad = await cli(['call', '12', '--name', 'X', '--json'], env);
    assert.equal(bad.code, 2);
    assert.match(lastJson(bad.stdout).error, /invalid phone number "12": too short/);
    const noName = await cli(['call', '+12125550102'], env);
    assert.equal(noName.code, 2);
    assert.match(noName.stderr, /--name is required/);
  });

  it('campaign run on a CSV with every kind of bad row: each reported by line, the good rows still called; export has the results', async () => {
    const csv = join(FIXTURES, 'bad-rows.csv');
    const r = await cli(['campaign', 'run', csv, '--campaign', 'bad-rows', '--dnc', join(FIXTURES, 'dnc.txt'), '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    for (const [line, reason] of [
      [3, 'invalid phone number "not-a-number"'],
      [4, 'missing name'],
      [5, 'duplicate of line 2'],
      [6, 'on the do-not-call list'],
      [7, 'expected 5 columns, got 7'],
      [8, 'empty line'],
      [9, 'unparseable quotes'],
      [12, 'unknown time zone'],
      [13, 'unparseable quotes: unterminated quoted field'],
      [14, 'invalid phone number "+1212": too short'],
    ] as const) {
      assert.ok(r.stderr.includes(`line ${line}: ${reason}`), `line ${line} reported: ${r.stderr}`);
    }
    const out = lastJson(r.stdout);
    assert.equal(out.complete, true);
    assert.equal(out.badRows, 10);
    assert.deepEqual(out.byOutcome, { completed: 2, voicemail: 1 });
    assert.equal(lk.requests({ method: 'CreateDispatch', body: { agentName: 'switchboard' } }).filter((q) => (q.body as { room: string }).room.startsWith('bad-rows-')).length, 3);

    const status = await cli(['campaign', 'status', 'bad-rows', '--json'], env);
    const s = lastJson(status.stdout);
    assert.deepEqual([s.byOutcome, s.attempts, s.inFlight, s.badRows], [{ completed: 2, voicemail: 1 }, 3, 0, 10]);

    const file = join(mkdtempSync(join(tmpdir(), 'sb-export-')), 'out.csv');
    const exp = await cli(['campaign', 'export', 'bad-rows', '--out', file], env);
    assert.equal(exp.code, 0, exp.stderr);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    assert.equal(lines[0], 'contact_id,line,name,phone,attempts,final_outcome,outcome,result,last_room,note');
    assert.equal(lines.length, 4);
    assert.match(lines[1]!, /^n[0-9a-f]{16},2,Ana,\+12125550101,1,completed,"\{""kind"":""completed""\}","\{""action"":""confirmed""\}",bad-rows-n[0-9a-f]{16}-a1,$/);
    assert.match(lines[3]!, /,15,Fay,\+12125550109,1,voicemail,/);

    const unknown = await cli(['campaign', 'status', 'nope'], env);
    assert.equal(unknown.code, 2);
  });
});
