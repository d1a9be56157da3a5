import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { CallingWindow } from '../src/campaign/callingWindow.js';
import { CsvRecords } from '../src/campaign/csvRecords.js';
import { loadDnc } from '../src/campaign/dnc.js';
import { csvCell } from '../src/campaign/exportCsv.js';
import { campaignIdFromFile, contactIdFor, roomName } from '../src/campaign/ids.js';
import { importContacts } from '../src/campaign/importer.js';
import { jobFor } from '../src/campaign/outbound.js';
import { decideRetry } from '../src/campaign/retry.js';
import { guessZones } from '../src/campaign/timezones.js';
import { parseJobMetadata } from '../src/call/jobMetadata.js';
import { openStore } from '../src/store/index.js';
import type { BadRow, CampaignStore, ContactInput } from '../src/store/index.js';
import { BACKENDS, type Backend } from './helpers/backends.js';

const FIXTURES = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'campaign');
const tmp = () => mkdtempSync(join(tmpdir(), 'sb-campaign-'));

async function store(backend?: Backend) {
  const s = backend ? await backend.open() : await openStore(':memory:');
  return { s, c: s.campaigns as CampaignStore };
}

async function records(text: string) {
  const out = [];
  for await (const r of new CsvRecords(Readable.from([Buffer.from(text)]))) out.push(r);
  return out;
}

const importTests = (backend: Backend) => {
  it('reports every kind of bad row with its line and reason, and keeps the good ones', async () => {
    const { c } = await store(backend);
    const dnc = await loadDnc([join(FIXTURES, 'dnc.txt')], 'US');
    const bad: BadRow[] = [];
    const summary = await importContacts(c, {
      campaignId: 'bad',
      file: join(FIXTURES, 'bad-rows.csv'),
      defaultRegion: 'US',
      dnc,
      now: () => 0,
      onBadRow: (b) => bad.push(b),
    });
    const expected: BadRow[] = [
      { line: 3, reason: 'invalid phone number "not-a-number": not a phone number' },
      { line: 4, reason: 'missing name' },
      { line: 5, reason: 'duplicate of line 2 (same number)' },
      { line: 6, reason: 'on the do-not-call list' },
      { line: 7, reason: 'expected 5 columns, got 7' },
      { line: 8, reason: 'empty line' },
      { line: 9, reason: 'unparseable quotes: text right after a closing quote' },
      { line: 12, reason: 'unknown time zone "Mars/Base" (expected an IANA zone such as America/Chicago)' },
      { line: 13, reason: 'unparseable quotes: unterminated quoted field' },
      { line: 14, reason: 'invalid phone number "+1212": too short' },
    ];
    assert.deepEqual([...bad].sort((a, b) => a.line - b.line), expected);
    assert.deepEqual(await c.badRows('bad'), expected, 'bad rows are kept in the store, in line order');
    assert.deepEqual(summary, { read: true, rows: 13, added: 3, alreadyImported: 0, badRows: 10, excluded: 0, changed: 0, removed: 0, restored: 0 });

    const rows = [];
    for await (const r of c.exportRows('bad')) rows.push(r);
    assert.deepEqual(rows.map((r) => [r.line, r.name, r.phone]), [
      [2, 'Ana', '+12125550101'],
      [10, 'Cy', '+12125550106'],
      [15, 'Fay', '+12125550109'],
    ]);
    const [ana, cy] = await c.due('bad', 0, 10);
    assert.deepEqual(ana!.fields, { notes: 'first' }, 'extra columns become fields');
    assert.equal(ana!.appointmentId, 'apt-1');
    assert.deepEqual(ana!.zones, ['America/New_York']);
    assert.deepEqual(cy!.fields, { notes: 'multi\nline note' }, 'a quoted field may span lines');
    assert.deepEqual([cy!.zones, cy!.zoneSource], [['America/Chicago'], 'column']);
    const stats = await c.stats('bad');
    assert.equal(stats.badRows, 10);
  });

  it('importing the same CSV again adds no contact and reports nothing new; a changed file is read again', async () => {
    const dir = tmp();
    const file = join(dir, 'contacts.csv');
    writeFileSync(file, 'phone,name,contact_id\n+12125550101,Ana,\n+12125550102,Bo,bo-7\n');
    const { c } = await store(backend);
    const opts = { campaignId: 'again', file, defaultRegion: 'US', dnc: { has: () => false, size: 0, unreadable: 0 }, now: () => 0 };
    const first = await importContacts(c, opts);
    assert.equal(first.added, 2);
    const skipped = await importContacts(c, opts);
    assert.equal(skipped.read, false, 'an unchanged file is not read again');
    const forced = await importContacts(c, { ...opts, force: true });
    assert.deepEqual([forced.added, forced.alreadyImported, forced.badRows], [0, 2, 0]);
    // Appending a row (and a duplicate of an existing one) adds only the new contact.
    writeFileSync(file, 'phone,name,contact_id\n+12125550101,Ana,\n+12125550102,Bo,bo-7\n+12125550103,Cy,\n+1 212 555 0101,Ana2,\n');
    const grown = await importContacts(c, opts);
    assert.deepEqual([grown.added, grown.alreadyImported, grown.badRows], [1, 2, 1]);
    assert.deepEqual(await c.badRows('again'), [{ line: 5, reason: 'duplicate of line 2 (same number)' }]);
    const ids = (await c.due('again', 0, 10)).map((r) => r.contactId);
    assert.deepEqual(ids, [contactIdFor('+12125550101'), 'bo-7', contactIdFor('+12125550103')]);
  });

  it('refuses a header without the required columns, naming them', async () => {
    const dir = tmp();
    const file = join(dir, 'x.csv');
    // "full name" would be the name (people's exports say so); "who" is nobody's guess.
    writeFileSync(file, 'number,who\n+12125550101,Ana\n');
    const { c } = await store(backend);
    await assert.rejects(
      importContacts(c, { campaignId: 'h', file, defaultRegion: 'US', dnc: { has: () => false, size: 0, unreadable: 0 }, now: () => 0 }),
      (err: Error & { exitCode?: number }) => /missing required columns phone, name/.test(err.message) && err.exitCode === 2,
    );
  });

  it('frames records: CRLF, BOM, quoted newlines, and one stray quote costs one row', async () => {
    const got = await records('\ufeffa,b\r\n1,"x\r\ny"\r\n2,"bad\r\n3,ok\r\n');
    assert.deepEqual(got, [
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['1', 'x\ny'] },
      { line: 4, error: 'unparseable quotes: unterminated quoted field' },
      { line: 5, fields: ['3', 'ok'] },
    ]);
  });
};
for (const backend of BACKENDS) describe(`campaign CSV import (${backend.name})`, () => importTests(backend));

describe('campaign ids, jobs and retry policy', () => {
  it('room names follow the contract and the store builds the same one when claiming', async () => {
    assert.equal(roomName('cmp-1', 'n0123', 2), 'cmp-1-n0123-a2');
    assert.equal(roomName('c.x', 'a b', 1), 'c_x-a_b-a1');
    assert.match(campaignIdFromFile('/data/Spring Reminders.csv'), /^Spring_Reminders-[0-9a-f]{6}$/);
    assert.equal(campaignIdFromFile('/data/a.csv'), campaignIdFromFile('/data/./a.csv'));
    assert.match(contactIdFor('+12125550101'), /^n[0-9a-f]{16}$/);

    const { c } = await store();
    await c.ensure('cmp-1', null, 0);
    const contact: ContactInput = { contactId: 'n0123', line: 2, phone: '+12125550101', name: 'Ana', appointmentId: 'apt-9', zones: ['America/New_York'], zoneSource: 'column', fields: { notes: 'x' } };
    await c.importRows('cmp-1', await c.beginImport('cmp-1'), [contact], 0);
    const claim = await c.claim('cmp-1', { owner: 'me', now: 1, leaseMs: 1000, maxInFlight: 5, cps: 0, contactIds: ['n0123'] });
    const row = claim.claimed[0]!;
    assert.equal(row.room, roomName('cmp-1', 'n0123', 1));
    const job = jobFor(row);
    assert.deepEqual(parseJobMetadata(JSON.stringify(job)), {
      kind: 'outbound',
      phoneNumber: '+12125550101',
      contact: { name: 'Ana', appointmentId: 'apt-9', fields: { notes: 'x' } },
      campaignId: 'cmp-1',
      contactId: 'n0123',
      attempt: 1,
    });
  });

  it('retries busy and no_answer with doubling backoff up to the attempt limit; other outcomes are final', () => {
    const policy = { maxAttempts: 3, backoffMs: 1000, retryOn: new Set(['busy', 'no_answer']) };
    assert.deepEqual(decideRetry(policy, 'busy', 1, 0), { retry: true, at: 1000 });
    assert.deepEqual(decideRetry(policy, 'no_answer', 2, 0), { retry: true, at: 2000 });
    assert.deepEqual(decideRetry(policy, 'busy', 3, 0), { retry: false });
    for (const kind of ['completed', 'rejected', 'invalid_number', 'voicemail'] as const) {
      assert.deepEqual(decideRetry(policy, kind, 1, 0), { retry: false }, kind);
    }
  });

  it('exports formulas and quotes safely', () => {
    assert.equal(csvCell('=HYPERLINK("x")'), `"'=HYPERLINK(""x"")"`);
    assert.equal(csvCell('+12125550101'), '+12125550101');
    // OWASP CSV injection: anything after the sign that is not just a number makes it a formula.
    assert.equal(csvCell('-1+HYPERLINK("http://x","y")'), `"'-1+HYPERLINK(""http://x"",""y"")"`);
    assert.equal(csvCell('+1+cmd|\' /C calc\'!A0'), `'+1+cmd|' /C calc'!A0`);
    assert.equal(csvCell('@SUM(1+1)'), `'@SUM(1+1)`);
    assert.equal(csvCell('\t=1+1'), `'\t=1+1`);
    assert.equal(csvCell('\r=1+1'), `"'\r=1+1"`);
    assert.equal(csvCell('-5'), '-5');
    assert.equal(csvCell('+1 212 555 0101'), `'+1 212 555 0101`);
    assert.equal(csvCell({ action: 'confirmed' }), '"{""action"":""confirmed""}"');
  });
});

const claimTests = (backend: Backend) => {
  async function seeded(n: number) {
    const { s, c } = await store(backend);
    await c.ensure('k', null, 0);
    const rows: ContactInput[] = Array.from({ length: n }, (_, i) => ({
      contactId: `c${i}`,
      line: i + 2,
      phone: `+1212555${String(1000 + i)}`,
      name: `N${i}`,
      appointmentId: null,
      zones: ['UTC'],
      zoneSource: 'column',
      fields: {},
    }));
    await c.importRows('k', await c.beginImport('k'), rows, 0);
    return { s, c, ids: rows.map((r) => r.contactId) };
  }

  it('never exceeds the concurrency limit, and a claimed contact cannot be claimed again', async () => {
    const { c, ids } = await seeded(10);
    const a = await c.claim('k', { owner: 'a', now: 1, leaseMs: 1000, maxInFlight: 4, cps: 0, contactIds: ids });
    assert.equal(a.claimed.length, 4);
    assert.equal(a.limitedBy, 'concurrency');
    const b = await c.claim('k', { owner: 'b', now: 1, leaseMs: 1000, maxInFlight: 8, cps: 0, contactIds: ids });
    assert.deepEqual(b.claimed.map((r) => r.contactId), ['c4', 'c5', 'c6', 'c7'], 'the first four were taken by a');
    assert.ok(b.claimed.every((r) => r.owner === 'b' && r.attempts === 1));
  });

  it('spaces claims by the calls-per-second budget shared in the store', async () => {
    const { c, ids } = await seeded(10);
    const first = await c.claim('k', { owner: 'a', now: 10_000, leaseMs: 1000, maxInFlight: 10, cps: 2, contactIds: ids });
    assert.equal(first.claimed.length, 1);
    assert.equal(first.nextSlotAt, 10_500);
    const early = await c.claim('k', { owner: 'b', now: 10_200, leaseMs: 1000, maxInFlight: 10, cps: 2, contactIds: ids });
    assert.deepEqual([early.claimed.length, early.limitedBy, early.nextSlotAt], [0, 'cps', 10_500]);
    const onTime = await c.claim('k', { owner: 'b', now: 10_500, leaseMs: 1000, maxInFlight: 10, cps: 2, contactIds: ids });
    assert.equal(onTime.claimed.length, 1);
  });

  it('a stale claim is taken over once: the guard is the old owner and attempt', async () => {
    const { c, ids } = await seeded(1);
    await c.claim('k', { owner: 'dead', now: 1, leaseMs: 10, maxInFlight: 1, cps: 0, contactIds: ids });
    const [row] = await c.othersDispatching('k', 'x', 10);
    assert.equal(await c.takeOver('k', row!, 'x', 100), true);
    assert.equal(await c.takeOver('k', row!, 'y', 100), false, 'the second taker loses');
  });
};
for (const backend of BACKENDS) describe(`campaign claims (${backend.name})`, () => claimTests(backend));

describe('time zones and the calling window', () => {
  it('guesses zones from the area code, the country, or every mainland zone when unsure', () => {
    assert.deepEqual(guessZones('US', '2125550101', 'US'), { zones: ['America/New_York'], source: 'area_code' });
    assert.deepEqual(guessZones('US', '4155552671', 'US'), { zones: ['America/Los_Angeles'], source: 'area_code' });
    // Idaho straddles Mountain and Pacific time: both, so the window must be open in both.
    assert.deepEqual(guessZones('US', '2085550101', 'US'), { zones: ['America/Denver', 'America/Los_Angeles'], source: 'area_code' });
    assert.deepEqual(guessZones('US', '9995550101', 'US').source, 'country_uncertain');
    assert.deepEqual(guessZones('GB', '2071838750', 'US'), { zones: ['Europe/London'], source: 'country' });
    assert.deepEqual(guessZones('RU', '4951234567', 'US'), { zones: ['Europe/Moscow'], source: 'country' });
    assert.deepEqual(guessZones(undefined, '80012345678', 'DE'), { zones: ['Europe/Berlin'], source: 'default_region' });
  });

  it('opens in local time, crosses midnight, skips days, and intersects uncertain zones', () => {
    const w = CallingWindow.parse('09:00-20:00');
    const t = Date.parse('2026-03-02T12:00:00Z'); // Monday
    assert.equal(w.nextOpen(['Europe/London'], t), t);
    assert.equal(w.nextOpen(['America/New_York'], t), Date.parse('2026-03-02T14:00:00Z'));
    assert.equal(w.nextOpen(['Asia/Tokyo'], t), Date.parse('2026-03-03T00:00:00Z'));
    // Open in New York AND Los Angeles: 09:00 in LA.
    assert.equal(w.nextOpen(['America/New_York', 'America/Los_Angeles'], t), Date.parse('2026-03-02T17:00:00Z'));
    const weekdays = CallingWindow.parse('09:00-17:00', ['mon', 'tue', 'wed', 'thu', 'fri']);
    assert.equal(weekdays.nextOpen(['UTC'], Date.parse('2026-03-07T10:00:00Z')), Date.parse('2026-03-09T09:00:00Z'));
    const night = CallingWindow.parse('22:00-02:00');
    assert.equal(night.isOpenIn('UTC', Date.parse('2026-03-03T01:00:00Z')), true);
    assert.equal(night.nextOpen(['UTC'], Date.parse('2026-03-03T03:00:00Z')), Date.parse('2026-03-03T22:00:00Z'));
    assert.throws(() => CallingWindow.parse('9-5'), /HH:MM-HH:MM/);
    // Windows that never overlap across the zones: null (the dispatcher then uses the first zone).
    assert.equal(CallingWindow.parse('09:00-10:00').nextOpen(['America/New_York', 'Asia/Tokyo'], t), null);
  });
});
