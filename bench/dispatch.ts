// Campaign dispatcher benchmark: a 100k-row contacts CSV through the real import and dispatch
// loop, with the store on disk (SQLite, WAL) as in production.
//
//   npm run bench:dispatch             readable table
//   npm run bench:dispatch -- --json   last stdout line is one JSON object
//   options: --rows N (100000), --emulator-calls N (2000), --concurrency N (200)
//
// Two runs:
//  1. all rows, dispatched into a no-op sink in virtual time (FakeClock): the sink plays the
//     worker and writes each call record at once; that worker time is measured and subtracted,
//     so `msPerDispatch` is the dispatcher's own work per call: window check, claim transaction,
//     job metadata, marking dispatched, outcome collection and recording.
//  2. the first `--emulator-calls` rows through the real AgentDispatchClient against the LiveKit
//     API emulator (JWT signing, HTTP, Twirp), wall time per call and CPU time of this process per call (all its threads: SDK JWT signing, HTTP, GC). The
//     emulator and the simulated worker run in a child process, as LiveKit and the worker would.
// `peakRssMb` is this process's maximum resident set after run 1 (import + dispatch of every row);
// `emulator.peakRssMb` the maximum after run 2, which loads the SDK. Benchmarks are not tests:
// nothing here asserts a number.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CallingWindow } from '../src/campaign/callingWindow.js';
import { FakeClock, systemClock } from '../src/campaign/clock.js';
import { Dispatcher } from '../src/campaign/dispatcher.js';
import { EMPTY_DNC } from '../src/campaign/dnc.js';
import { importContacts } from '../src/campaign/importer.js';
import type { DispatchSink } from '../src/campaign/dispatchSink.js';
import { simulatedWorker } from '../src/campaign/simulatedWorker.js';
import { openStore } from '../src/store/index.js';
import type { SqliteStore } from '../src/store/sqliteStore.js';
import type { CallOutcome, CampaignStore } from '../src/store/index.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const opt = (name: string, def: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const ROWS = opt('--rows', 100_000);
const EMULATOR_CALLS = Math.min(ROWS, opt('--emulator-calls', 2000));
const CONCURRENCY = opt('--concurrency', 200);

const AREA_CODES = ['212', '415', '312', '305', '206'];
const ZONES = ['', '', '', '', 'America/Chicago'];

async function writeCsv(path: string, rows: number): Promise<void> {
  const out = createWriteStream(path);
  const write = async (s: string) => {
    if (!out.write(s)) await once(out, 'drain');
  };
  await write('phone,name,appointment_id,timezone,notes,plan\n');
  for (let i = 0; i < rows; i++) {
    const phone = `+1${AREA_CODES[i % 5]}${2_000_000 + i}`;
    await write(`${phone},Contact ${i},apt-${i},${ZONES[i % 5]},"reminder, visit ${i % 31}",gold\n`);
  }
  out.end();
  await once(out, 'finish');
}

/** Busy on the first attempt for every 10th contact (so retries are exercised), else completed. */
const outcome = (job: { attempt: number; contactId?: string }): CallOutcome =>
  job.attempt === 1 && job.contactId !== undefined && job.contactId.charCodeAt(job.contactId.length - 1) % 10 === 0
    ? { kind: 'busy', sipStatus: 486 }
    : { kind: 'completed' };

const ms = (ns: bigint) => Number(ns) / 1e6;
const r3 = (x: number) => Math.round(x * 1000) / 1000;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sb-bench-dispatch-'));
  try {
    const csv = join(dir, 'contacts.csv');
    await writeCsv(csv, ROWS);
    const store = await openStore(join(dir, 'store.db'));
    const campaigns = store.campaigns as CampaignStore;
    // Monday 18:00 UTC: 09:00-20:00 is open in New York, Chicago and San Francisco.
    const clock = new FakeClock('2026-03-02T18:00:00Z', { auto: true });
    const window = CallingWindow.parse('09:00-20:00');
    const retry = { maxAttempts: 2, backoffMs: 60_000, retryOn: new Set(['busy', 'no_answer']) };

    // 1. import
    let t0 = process.hrtime.bigint();
    const imported = await importContacts(campaigns, { campaignId: 'bench', file: csv, defaultRegion: 'US', dnc: EMPTY_DNC, now: () => clock.now() });
    const importMs = ms(process.hrtime.bigint() - t0);


    // 2. dispatch, no-op sink
    // The worker's part, timed on its own and subtracted. It writes the call_records rows the real
    // worker writes through store.calls, but with statements prepared once: SqliteCallRecords
    // prepares a statement per call, native memory the GC frees late, which would be counted
    // here as the dispatcher's (+~45 MB per 100k calls).
    const db = (store as SqliteStore).db;
    const insertCall = db.prepare(
      `INSERT INTO call_records (id, room, direction, caller_number, campaign_id, contact_id, started_at)
       VALUES (?, ?, 'outbound', ?, ?, ?, ?)`,
    );
    const finishCall = db.prepare(
      `UPDATE call_records SET ended_at = ?, outcome = ?, outcome_kind = ?, agents = '[]', tool_calls = '[]',
         transcript = '[]', result = ? WHERE id = ? AND ended_at IS NULL`,
    );
    let workerNs = 0n;
    let sinkCalls = 0;
    let callSeq = 0;
    const sink: DispatchSink = {
      async dispatch(room, metadata) {
        sinkCalls++;
        const w0 = process.hrtime.bigint();
        const job = JSON.parse(metadata) as { phoneNumber: string; campaignId: string; contactId: string; attempt: number };
        const id = `call_${++callSeq}`;
        const at = new Date(clock.now()).toISOString();
        const o = outcome(job);
        insertCall.run(id, room, job.phoneNumber, job.campaignId, job.contactId, at);
        finishCall.run(at, JSON.stringify(o), o.kind, o.kind === 'completed' ? '{"action":"confirmed"}' : null, id);
        workerNs += process.hrtime.bigint() - w0;
      },
      hasDispatch: async () => false,
      cancel: async () => undefined,
    };
    const common = { store: campaigns, calls: store.calls, clock, window, retry, cps: 0, callTimeoutMs: 86_400_000 };
    t0 = process.hrtime.bigint();
    const run = await new Dispatcher({ ...common, campaignId: 'bench', sink, maxConcurrent: CONCURRENCY, batchSize: CONCURRENCY }).run();
    const dispatchWallMs = ms(process.hrtime.bigint() - t0);

    const dispatcherMs = dispatchWallMs - ms(workerNs);
    const stats = await campaigns.stats('bench');

    const peakRssMb = Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10;

    // 3. the real client against the emulator (in a child process, with the worker)
    const small = join(dir, 'small.csv');
    await writeCsv(small, EMULATOR_CALLS);
    await importContacts(campaigns, { campaignId: 'bench-emu', file: small, defaultRegion: 'US', dnc: EMPTY_DNC, now: () => clock.now() });
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve-emulator', join(dir, 'store.db')], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const [url] = (await once(child.stdout!, 'data')) as [Buffer];
    const { livekitDispatchSink } = await import('../src/campaign/livekitSink.js');
    const cpu0 = process.cpuUsage();
    t0 = process.hrtime.bigint();
    const emu = await new Dispatcher({
      ...common,
      campaignId: 'bench-emu',
      sink: livekitDispatchSink({ LIVEKIT_URL: url.toString().trim(), LIVEKIT_API_KEY: 'devkey', LIVEKIT_API_SECRET: 'secret', AGENT_NAME: 'switchboard' }),
      clock: systemClock,
      window: CallingWindow.always(), // real time of day: do not let the window park the run
      maxConcurrent: 50,
      retry: { ...retry, retryOn: new Set() },
      pollMs: 50,
    }).run();
    const emuWallMs = ms(process.hrtime.bigint() - t0);
    const cpu = process.cpuUsage(cpu0);
    child.stdin!.end();
    await once(child, 'exit');
    await store.close();

    const result = {
      rows: ROWS,
      contacts: imported.added,
      attempts: stats.attempts,
      complete: run.complete && emu.complete,
      concurrency: CONCURRENCY,
      importMs: Math.round(importMs),
      msPerRowImport: r3(importMs / ROWS),
      dispatchMs: Math.round(dispatcherMs),
      workerMs: Math.round(ms(workerNs)),
      msPerDispatch: r3(dispatcherMs / sinkCalls),
      emulator: {
        calls: emu.dispatched,
        wallMsPerDispatch: r3(emuWallMs / emu.dispatched),
        cpuMsPerDispatch: r3((cpu.user + cpu.system) / 1000 / emu.dispatched),
        peakRssMb: Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10,
      },
      peakRssMb,
    };
    if (json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      return;
    }
    const lines = [
      `Campaign dispatcher, ${ROWS} CSV rows (${imported.added} contacts, ${stats.attempts} attempts incl. retries), concurrency ${CONCURRENCY}`,
      '',
      `  import (stream, validate, insert)     ${result.importMs} ms   ${result.msPerRowImport} ms/row`,
      `  dispatcher work, no-op sink           ${result.dispatchMs} ms   ${result.msPerDispatch} ms/dispatch   (target < 2)`,
      `  simulated worker (subtracted)         ${result.workerMs} ms`,
      `  real client → LiveKit API emulator    ${result.emulator.wallMsPerDispatch} ms/dispatch wall, ${result.emulator.cpuMsPerDispatch} ms CPU (${emu.dispatched} calls; emulator + worker in a child process)`,
      `  peak RSS                              ${peakRssMb} MB   (target < 150)`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Child mode: the LiveKit API emulator plus the simulated worker, writing into the shared store. */
async function serveEmulator(storePath: string): Promise<void> {
  const { LiveKitApiEmulator } = await import('../src/sandbox/livekitApi.js');
  const store = await openStore(storePath);
  const lk = new LiveKitApiEmulator();
  await lk.start();
  lk.onDispatch(simulatedWorker(store.calls));
  process.stdout.write(`${lk.url}\n`);
  process.stdin.resume();
  await once(process.stdin, 'end');
  await lk.close();
  await store.close();
}

const serve = args.indexOf('--serve-emulator');
if (serve >= 0) await serveEmulator(args[serve + 1]!);
else await main();
