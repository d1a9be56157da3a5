/**
 * Numbers Switchboard never dials (emergency, premium rate, short codes, other countries), on each
 * path that dials: a transfer, the campaign dispatcher, and `switchboard call`. Each refusal is
 * named; good numbers on the same path still go out.
 */
import './helpers/logger.js';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TransferDesk } from '../src/call/transfer.js';
import { CallingWindow } from '../src/campaign/callingWindow.js';
import { FakeClock } from '../src/campaign/clock.js';
import { Dispatcher } from '../src/campaign/dispatcher.js';
import { simulatedWorker } from '../src/campaign/simulatedWorker.js';
import { LiveKitApiEmulator } from '../src/sandbox/livekitApi.js';
import { openStore } from '../src/store/index.js';
import type { CampaignStore, ContactInput, ExportRow } from '../src/store/index.js';
import { TransferAllowList } from '../src/call/transferAllowList.js';

const CLI = join(import.meta.dirname, '..', 'src', 'cli', 'main.js');

describe('transfers', () => {
  it('refuse allow-listed premium-rate and emergency destinations without dialling; a good one still goes', async () => {
    const dialled: string[] = [];
    const notes: string[] = [];
    const desk = new TransferDesk({
      callId: 'c1',
      allow: new TransferAllowList(['+19005550123', 'sip:911@carrier.example', '+15105550100']),
      mode: 'cold',
      fallback: 'callback',
      ringSeconds: 5,
      fallbackLine: "I couldn't reach anyone yet, so I'll put your call straight through.",
      dialPolicy: { defaultRegion: 'US', allowedCountries: [] },
      coldTransfer: async (uri) => void dialled.push(uri),
      say: async () => undefined,
      note: (t) => void notes.push(t),
      callerGone: () => false,
      now: () => new Date(0),
    });
    assert.equal((await desk.transfer({ destination: '+19005550123', handoff: 'One moment.' })).status, 'refused');
    assert.equal((await desk.transfer({ destination: 'sip:911@carrier.example', handoff: 'One moment.' })).status, 'refused');
    assert.equal((await desk.transfer({ destination: '+15105550100', handoff: 'One moment.' })).status, 'transferred');
    assert.deepEqual(dialled, ['tel:+15105550100']);
    assert.match(desk.attempts[0]!.error!, /premium-rate/);
    assert.match(desk.attempts[1]!.error!, /emergency number/);
    assert.match(notes.join('\n'), /transfer refused: .*premium-rate.*nothing was dialled/);
  });
});

describe('the campaign dispatcher', () => {
  it('excludes contacts it may not dial (imported before the rule, or under another ALLOWED_COUNTRIES) and dials the rest', async () => {
    const s = await openStore(':memory:');
    const c = s.campaigns as CampaignStore;
    await c.ensure('d', null, 0);
    const pass = await c.beginImport('d');
    const row = (contactId: string, line: number, phone: string): ContactInput => ({
      contactId, line, phone, name: contactId, appointmentId: null, zones: ['America/New_York'], zoneSource: 'column', fields: {},
    });
    await c.importRows('d', pass, [row('premium', 2, '+19005550123'), row('london', 3, '+442079460001'), row('ana', 4, '+12125550101')], 0);
    const dispatched: string[] = [];
    const worker = simulatedWorker(s.calls);
    const result = await new Dispatcher({
      campaignId: 'd',
      store: c,
      calls: s.calls,
      sink: {
        dispatch: async (room, metadata) => {
          dispatched.push(JSON.parse(metadata).phoneNumber);
          await worker({ room, metadata });
        },
        hasDispatch: async () => false,
        cancel: async () => undefined,
      },
      clock: new FakeClock('2026-03-02T15:00:00Z', { auto: true }),
      window: CallingWindow.always(),
      retry: { maxAttempts: 1, backoffMs: 0, retryOn: new Set() },
      maxConcurrent: 2,
      cps: 0,
      callTimeoutMs: 60_000,
      dialPolicy: { defaultRegion: 'US', allowedCountries: ['US'] },
    }).run();
    assert.equal(result.reason, 'complete');
    assert.deepEqual(dispatched, ['+12125550101']);
    const rows: ExportRow[] = [];
    for await (const r of c.exportRows('d')) rows.push(r);
    const by = Object.fromEntries(rows.map((r) => [r.contactId, r]));
    assert.equal(by.premium!.state, 'excluded');
    assert.match(by.premium!.note!, /^not dialled: .*premium-rate/);
    assert.equal(by.london!.state, 'excluded');
    assert.match(by.london!.note!, /outside ALLOWED_COUNTRIES=US/);
    assert.equal(by.ana!.finalOutcome, 'completed');
    await s.close();
  });
});

describe('switchboard call', () => {
  const lk = new LiveKitApiEmulator();
  let env: NodeJS.ProcessEnv;
  before(async () => {
    await lk.start();
    env = { PATH: process.env.PATH, HOME: tmpdir(), ...lk.env(), STORE_PATH: join(mkdtempSync(join(tmpdir(), 'sb-danger-')), 's.db'), LOG_LEVEL: 'error' };
  });
  after(() => lk.close());

  const cli = (args: string[], extra: Record<string, string> = {}) =>
    new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const child = spawn(process.execPath, [CLI, ...args], { env: { ...env, ...extra }, stdio: ['ignore', 'pipe', 'ignore'] });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.on('exit', (code) => resolve({ code, stdout }));
    });

  it('refuses emergency, premium-rate, short-code and other-country numbers with exit 2 and a named reason, dispatching nothing', async () => {
    for (const [number, why, extra] of [
      ['911', /emergency number/, {}],
      ['+44 999', /emergency number/, { ALLOWED_COUNTRIES: '*' }],
      ['+1 900 555 0123', /premium-rate/, {}],
      ['611', /short code/, {}],
      ['+44 20 7946 0001', /outside ALLOWED_COUNTRIES/, {}],
    ] as const) {
      const r = await cli(['call', number, '--name', 'X', '--no-wait', '--json'], extra);
      assert.equal(r.code, 2, number);
      const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
      assert.equal(out.ok, false);
      assert.match(out.error, why, number);
    }
    assert.equal(lk.count('CreateDispatch'), 0);
    const ok = await cli(['call', '+44 20 7946 0001', '--name', 'X', '--no-wait', '--json'], { ALLOWED_COUNTRIES: 'US,GB' });
    assert.equal(ok.code, 0);
    assert.equal(lk.count('CreateDispatch'), 1);
  });
});
