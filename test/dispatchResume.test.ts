/**
 * The real CLI (`node dist/src/cli/main.js campaign run …`) against the LiveKit API emulator,
 * killed with SIGKILL mid-campaign several times and run again; and two dispatchers on one
 * campaign at once. The test process plays the worker: every dispatch the emulator receives gets
 * a call record (start, then finish) in the shared store (SQLite, and PostgreSQL when
 * TEST_POSTGRES_URL is set) after a short delay.
 *
 * What must hold: every contact attempt is dispatched exactly once (the emulator's request log),
 * every contact ends with its outcome, and no call record is written twice for a room.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { simulatedWorker } from '../src/campaign/simulatedWorker.js';
import { LiveKitApiEmulator } from '../src/sandbox/livekitApi.js';
import { openStore } from '../src/store/index.js';
import type { CallOutcome, CampaignStore, Store } from '../src/store/index.js';
import { BACKENDS, type Backend, rows } from './helpers/backends.js';

const CLI = join(import.meta.dirname, '..', 'src', 'cli', 'main.js');

interface Harness {
  dir: string;
  csv: string;
  env: NodeJS.ProcessEnv;
  store: Store;
  phones: string[];
  /** Stops this harness's simulated worker and closes its store. */
  close(): Promise<void>;
}

/** Contacts: every 5th is busy on its first attempt, every 7th never answers, the rest complete. */
function expectedFinal(i: number): string {
  if (i % 7 === 3) return 'no_answer';
  return 'completed';
}

function outcomeFor(i: number, attempt: number): CallOutcome {
  if (i % 7 === 3) return { kind: 'no_answer', sipStatus: 480 };
  if (i % 5 === 1 && attempt === 1) return { kind: 'busy', sipStatus: 486 };
  return { kind: 'completed' };
}

async function setup(backend: Backend, lk: LiveKitApiEmulator, n: number, extraEnv: Record<string, string> = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'sb-dispatch-'));
  const csv = join(dir, 'contacts.csv');
  const phones = Array.from({ length: n }, (_, i) => `+1212555${String(1000 + i)}`);
  writeFileSync(csv, ['phone,name,appointment_id,notes', ...phones.map((p, i) => `${p},Contact ${i},apt-${i},"note, ${i}"`)].join('\n') + '\n');
  const storeUrl = await backend.location();
  const store = await openStore(storeUrl);
  const index = new Map(phones.map((p, i) => [p, i]));
  const unhook = lk.onDispatch(
    simulatedWorker(store.calls, {
      startDelayMs: () => 20 + Math.random() * 40,
      callMs: () => 30 + Math.random() * 120,
      outcome: (job) => outcomeFor(index.get(job.phoneNumber)!, job.attempt),
    }),
  );
  const env = {
    ...process.env,
    ...lk.env(),
    STORE_URL: storeUrl,
    AGENT_NAME: 'switchboard',
    CAMPAIGN_MAX_CONCURRENT: '4',
    CAMPAIGN_CPS: '40',
    CALLING_WINDOW: '00:00-24:00',
    RETRY_MAX_ATTEMPTS: '3',
    RETRY_BACKOFF_SECONDS: '0.2',
    LOG_LEVEL: 'error',
    ...extraEnv,
  };
  return { dir, csv, env, store, phones, close: () => (unhook(), store.close()) };
}

function run(h: Harness, args: string[] = []): { child: ChildProcess; done: Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, [CLI, 'campaign', 'run', h.csv, '--campaign', 'resume-test', ...args], {
    env: h.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, done };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(10);
  }
  return cond();
}

/** Every attempt the store knows was CreateDispatch'ed exactly once, and no other room was. */
async function assertExactlyOnce(lk: LiveKitApiEmulator, h: Harness, campaignId: string) {
  const attempts = (await rows(h.store, 'SELECT room FROM campaign_attempts WHERE campaign_id = $1', [campaignId])) as { room: string }[];
  const ok = new Map<string, number>();
  for (const r of lk.requests({ method: 'CreateDispatch', ok: true })) {
    const room = (r.body as { room: string }).room;
    ok.set(room, (ok.get(room) ?? 0) + 1);
  }
  const twice = [...ok].filter(([, n]) => n > 1);
  assert.deepEqual(twice, [], 'rooms dispatched more than once');
  assert.deepEqual([...ok.keys()].sort(), attempts.map((a) => a.room).sort(), 'dispatched rooms = recorded attempts');
  const records = await rows(h.store, 'SELECT room, count(*) AS n FROM call_records GROUP BY room HAVING count(*) > 1');
  assert.deepEqual(records, [], 'no room has two call records');
  return attempts.length;
}

async function assertOutcomes(h: Harness, campaignId: string) {
  const campaigns = h.store.campaigns as CampaignStore;
  const byPhone = new Map<string, { finalOutcome: string; attempts: number }>();
  for await (const r of campaigns.exportRows(campaignId)) byPhone.set(r.phone, r);
  assert.equal(byPhone.size, h.phones.length);
  h.phones.forEach((p, i) => {
    const r = byPhone.get(p)!;
    assert.equal(r.finalOutcome, expectedFinal(i), `contact ${i}`);
    const attempts = i % 7 === 3 ? 3 : i % 5 === 1 ? 2 : 1;
    assert.equal(r.attempts, attempts, `attempts of contact ${i}`);
  });
}

for (const backend of BACKENDS) describe(`campaign dispatcher (${backend.name}): kill and resume, two dispatchers (real CLI, LiveKit API emulator)`, { timeout: 180_000 }, () => {
  const lk = new LiveKitApiEmulator();
  before(async () => {
    await lk.start();
  });
  after(async () => {
    await lk.close();
  });

  it('SIGKILLed several times mid-campaign, then run again: every attempt dispatched once, every outcome kept', async () => {
    lk.reset();
    const h = await setup(backend, lk, 40);
    let kills = 0;
    let logs = '';
    const closedPort = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const port = (srv.address() as AddressInfo).port;
        srv.close(() => resolve(port));
      });
    });
    for (let round = 0; round < 5; round++) {
      const before = lk.count('CreateDispatch');
      if (round === 0) {
        // LiveKit unreachable from the start: claims are recorded, CreateDispatch fails, then the
        // process dies. The next run must find neither a dispatch nor a call record, and dispatch
        // those rooms (the same attempt, the same room).
        const { child, done } = run({ ...h, env: { ...h.env, LIVEKIT_URL: `http://127.0.0.1:${closedPort}` } });
        let err = '';
        child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
        assert.ok(await waitFor(() => (err.match(/dispatch of \S+ failed/g) ?? []).length >= 2, 20_000), 'the dispatches failed');
        child.kill('SIGKILL');
        kills++;
        logs += (await done).stderr;
        continue;
      }
      let killedInHook = false;
      const { child, done } = run(h);
      const unhook =
        round === 1
          ? // Killed right after LiveKit created the dispatch, before the CLI hears back: the next run
            // must find the dispatch (ListDispatch) and not dial again.
            lk.onDispatch(() => {
              if (!killedInHook && lk.count('CreateDispatch') >= before + 3) {
                killedInHook = child.kill('SIGKILL');
              }
            })
          : () => undefined;
      // Let it dispatch a few, then kill it without warning.
      const progressed = await waitFor(() => killedInHook || lk.count('CreateDispatch') >= before + 2 + round, 20_000);
      if (round !== 1) await sleep(Math.random() * 60);
      if (child.exitCode === null && progressed && !killedInHook) child.kill('SIGKILL');
      const r = await done;
      unhook();
      logs += r.stderr;
      if (r.signal === 'SIGKILL') kills++;
      else assert.equal(r.code, 0, r.stderr);
    }
    assert.ok(kills >= 4, `killed ${kills} times`);
    const { done } = run(h, ['--json']);
    const r = await done;
    assert.equal(r.code, 0, r.stderr);
    logs += r.stderr;
    assert.match(logs, /recovered \S+: the (dispatch|call record) already existed, not dialled again/);
    assert.match(logs, /redispatched \S+: the earlier run stopped before CreateDispatch/);
    const result = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    assert.equal(result.complete, true);
    assert.equal(result.inFlight, 0);
    assert.equal(result.badRows, 0);
    const attempts = await assertExactlyOnce(lk, h, 'resume-test');
    const expected = h.phones.reduce((n, _, i) => n + (i % 7 === 3 ? 3 : i % 5 === 1 ? 2 : 1), 0);
    assert.equal(attempts, expected, 'busy contacts twice, no-answer contacts three times');
    assert.deepEqual(result.byOutcome, { completed: 34, no_answer: 6 });
    assert.equal(result.attempts, attempts);
    await assertOutcomes(h, 'resume-test');

    // status and export read the same state.
    const status = spawn(process.execPath, [CLI, 'campaign', 'status', 'resume-test', '--json'], { env: h.env });
    let out = '';
    status.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((res) => status.on('exit', res));
    const s = JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, unknown>;
    assert.deepEqual([s.byOutcome, s.attempts, s.inFlight, s.badRows], [{ completed: 34, no_answer: 6 }, attempts, 0, 0]);
    await h.close();
  });

  it('two dispatchers on the same campaign at once never dispatch a contact twice', async () => {
    lk.reset();
    const h = await setup(backend, lk, 30, { CAMPAIGN_MAX_CONCURRENT: '6', CAMPAIGN_CPS: '0' });
    const a = run(h, ['--json']);
    const b = run(h, ['--json']);
    const [ra, rb] = await Promise.all([a.done, b.done]);
    assert.equal(ra.code, 0, ra.stderr);
    assert.equal(rb.code, 0, rb.stderr);
    const last = (s: string) => JSON.parse(s.trim().split('\n').at(-1)!) as { complete: boolean; thisRun: { dispatched: number } };
    const [ja, jb] = [last(ra.stdout), last(rb.stdout)];
    assert.equal(ja.complete && jb.complete, true);
    const attempts = await assertExactlyOnce(lk, h, 'resume-test');
    assert.equal(ja.thisRun.dispatched + jb.thisRun.dispatched, attempts, 'each attempt dispatched by exactly one of them');
    await assertOutcomes(h, 'resume-test');
    await h.close();
  });
});
