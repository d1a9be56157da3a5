/**
 * The dispatcher in virtual time (FakeClock): contacts in different zones are dialled at the first
 * instant their local calling window opens, never outside it, and retries wait out the backoff.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CallingWindow } from '../src/campaign/callingWindow.js';
import { FakeClock } from '../src/campaign/clock.js';
import { Dispatcher } from '../src/campaign/dispatcher.js';
import { EMPTY_DNC } from '../src/campaign/dnc.js';
import { importContacts } from '../src/campaign/importer.js';
import type { DispatchSink } from '../src/campaign/dispatchSink.js';
import { simulatedWorker } from '../src/campaign/simulatedWorker.js';
import { openStore } from '../src/store/index.js';
import type { CallOutcome, CampaignStore } from '../src/store/index.js';

const H = 3_600_000;

describe('campaign calling window and retry backoff (fake clock)', () => {
  it('dials each contact only inside its local window and retries after the backoff', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-window-'));
    const csv = join(dir, 'zones.csv');
    // Monday 2 March 2026, 12:00 UTC: London 12:00, New York 07:00, Los Angeles 04:00, Tokyo 21:00.
    writeFileSync(
      csv,
      [
        'phone,name,timezone,contact_id',
        '+442071838750,London,,london',
        '+12125550101,New York,,ny',
        '+14155552671,San Francisco,,sf',
        '+12125550102,Tokyo by column,Asia/Tokyo,tokyo',
        '+442071838751,London busy,,busy',
        '+12125550103,NY no answer,,noanswer',
      ].join('\n'),
    );
    const start = Date.parse('2026-03-02T12:00:00Z');
    const clock = new FakeClock(start, { auto: true });
    const store = await openStore(join(dir, 'store.db'));
    const campaigns = store.campaigns as CampaignStore;
    await importContacts(campaigns, { campaignId: 'win', file: csv, defaultRegion: 'US', allowedCountries: ['US', 'GB'], dnc: EMPTY_DNC, now: () => clock.now() });

    const outcomes: Record<string, CallOutcome['kind']> = { busy: 'busy', noanswer: 'no_answer' };
    const worker = simulatedWorker(store.calls, {
      now: () => clock.now(),
      outcome: (job) => ({ kind: outcomes[job.contactId!] ?? 'completed' }) as CallOutcome,
    });
    const dialled: { room: string; contactId: string; attempt: number; at: number }[] = [];
    const sink: DispatchSink = {
      async dispatch(room, metadata) {
        const job = JSON.parse(metadata) as { contactId: string; attempt: number };
        dialled.push({ room, contactId: job.contactId, attempt: job.attempt, at: clock.now() });
        await worker({ room, metadata });
      },
      hasDispatch: async () => false,
      cancel: async () => undefined,
    };
    const window = CallingWindow.parse('09:00-20:00');
    const result = await new Dispatcher({
      campaignId: 'win',
      store: campaigns,
      calls: store.calls,
      sink,
      clock,
      window,
      retry: { maxAttempts: 3, backoffMs: 900_000, retryOn: new Set(['busy', 'no_answer']) },
      maxConcurrent: 2,
      cps: 0,
      callTimeoutMs: H,
    }).run();
    assert.equal(result.reason, 'complete');

    const zones: Record<string, string> = {
      london: 'Europe/London',
      busy: 'Europe/London',
      ny: 'America/New_York',
      noanswer: 'America/New_York',
      sf: 'America/Los_Angeles',
      tokyo: 'Asia/Tokyo',
    };
    for (const d of dialled) assert.ok(window.isOpenIn(zones[d.contactId]!, d.at), `${d.room} dialled at ${new Date(d.at).toISOString()}, outside its window`);
    const at = (id: string, attempt = 1) => dialled.find((d) => d.contactId === id && d.attempt === attempt)?.at;
    // First attempts at the moment each window opens (to within one poll of the loop).
    const near = (actual: number | undefined, expected: string, slackMs = 1000) =>
      assert.ok(actual !== undefined && actual >= Date.parse(expected) && actual <= Date.parse(expected) + slackMs, `${actual && new Date(actual).toISOString()} ≉ ${expected}`);
    near(at('london'), '2026-03-02T12:00:00Z');
    near(at('busy'), '2026-03-02T12:00:00Z');
    near(at('ny'), '2026-03-02T14:00:00Z'); // 09:00 EST
    near(at('sf'), '2026-03-02T17:00:00Z'); // 09:00 PST, from the 415 area code
    near(at('tokyo'), '2026-03-03T00:00:00Z'); // 09:00 JST, from the timezone column

    // Busy in London: retried 15 min and then 30 min after each outcome, then final.
    const b = [1, 2, 3].map((n) => at('busy', n)!);
    assert.ok(b[1]! - b[0]! >= 900_000 && b[1]! - b[0]! < 900_000 + 2000, `second attempt after ${(b[1]! - b[0]!) / 1000}s`);
    assert.ok(b[2]! - b[1]! >= 1_800_000 && b[2]! - b[1]! < 1_800_000 + 2000, `third attempt after ${(b[2]! - b[1]!) / 1000}s`);
    assert.equal(at('busy', 4), undefined, 'no fourth attempt');
    assert.equal(at('london', 2), undefined, 'completed is final');

    const stats = await campaigns.stats('win');
    assert.deepEqual(stats.byOutcome, { completed: 4, busy: 1, no_answer: 1 });
    assert.equal(stats.attempts, 4 + 3 + 3);
    assert.equal(dialled.length, 10);
    assert.equal(new Set(dialled.map((d) => d.room)).size, 10, 'one room per attempt');
    await store.close();
  });

  it('with exitWhenParked, returns at once saying when the first window opens', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-window-'));
    const csv = join(dir, 'later.csv');
    writeFileSync(csv, 'phone,name,timezone\n+12125550101,Ana,Asia/Tokyo\n');
    const clock = new FakeClock('2026-03-02T12:00:00Z', { auto: true });
    const store = await openStore(join(dir, 'store.db'));
    const campaigns = store.campaigns as CampaignStore;
    await importContacts(campaigns, { campaignId: 'later', file: csv, defaultRegion: 'US', dnc: EMPTY_DNC, now: () => clock.now() });
    const result = await new Dispatcher({
      campaignId: 'later',
      store: campaigns,
      calls: store.calls,
      sink: { dispatch: async () => assert.fail('nothing is due'), hasDispatch: async () => false, cancel: async () => undefined },
      clock,
      window: CallingWindow.parse('09:00-20:00'),
      retry: { maxAttempts: 1, backoffMs: 0, retryOn: new Set() },
      maxConcurrent: 1,
      cps: 0,
      callTimeoutMs: H,
      exitWhenParked: true,
    }).run();
    assert.deepEqual([result.reason, result.complete, result.resumesAt], ['parked', false, Date.parse('2026-03-03T00:00:00Z')]);
    assert.equal(result.progress.pending, 1);
    await store.close();
  });
});
