/**
 * Contacts CSVs the way people export them (address books, spreadsheets in other locales), bytes
 * that are not UTF-8, and numbers that must never be dialled: each a bad row or an accepted
 * contact, through the real importer and store.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseColumnMap } from '../src/campaign/contactsCsv.js';
import { EMPTY_DNC } from '../src/campaign/dnc.js';
import { type ImportOptions, importContacts } from '../src/campaign/importer.js';
import { openStore } from '../src/store/index.js';
import type { BadRow, CampaignStore, ExportRow } from '../src/store/index.js';

async function importText(content: string | Buffer, extra: Partial<ImportOptions> = {}) {
  const s = await openStore(':memory:');
  const c = s.campaigns as CampaignStore;
  const file = join(mkdtempSync(join(tmpdir(), 'sb-contacts-')), 'contacts.csv');
  writeFileSync(file, content);
  const bad: BadRow[] = [];
  const summary = await importContacts(c, { campaignId: 'k', file, defaultRegion: 'US', dnc: EMPTY_DNC, now: () => 0, onBadRow: (b) => bad.push(b), ...extra });
  const rows: ExportRow[] = [];
  for await (const r of c.exportRows('k')) rows.push(r);
  return { summary, bad, rows, contacts: rows.map((r) => [r.name, r.phone]) };
}

describe('contacts CSVs as people export them', () => {
  it('first_name + last_name and phone_number, whatever the case and spacing', async () => {
    const r = await importText('First Name,Last Name,Phone Number,Clinic\nAna,Diaz,(212) 555-0101,east\nBo,,212 555 0102,west\n');
    assert.deepEqual(r.bad, []);
    assert.deepEqual(r.contacts, [['Ana Diaz', '+12125550101'], ['Bo', '+12125550102']]);
  });

  it('full_name and mobile; Phone and FullName', async () => {
    assert.deepEqual((await importText('full_name,mobile\nAna Diaz,2125550101\n')).contacts, [['Ana Diaz', '+12125550101']]);
    assert.deepEqual((await importText('FullName,Phone\nCy Park,2125550103\n')).contacts, [['Cy Park', '+12125550103']]);
  });

  it('a UTF-8 BOM and ; separators (spreadsheets in many locales)', async () => {
    const r = await importText(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('Name;Phone;Note\nZoë Müller;+12125550104;"a; b"\n')]));
    assert.deepEqual(r.bad, []);
    assert.deepEqual(r.contacts, [['Zoë Müller', '+12125550104']]);
  });

  it('--columns maps headers nobody could guess, joining name parts', async () => {
    const columns = parseColumnMap('phone=Handy,name=Vorname+Nachname');
    const r = await importText('Vorname,Nachname,Handy\nAna,Diaz,2125550101\n', { columns });
    assert.deepEqual(r.contacts, [['Ana Diaz', '+12125550101']]);
    assert.throws(() => parseColumnMap('mobile=Handy'), /--columns: "mobile=Handy" must be <column>=<header>/);
  });

  it('a missing column names what was found and suggests the --columns mapping', async () => {
    await assert.rejects(importText('Vorname,Nachname,Handynummer\nAna,Diaz,2125550101\n'), (e: Error) => {
      assert.match(e.message, /missing required columns phone, name/);
      assert.match(e.message, /found: vorname, nachname, handynummer/);
      assert.match(e.message, /--columns phone=Handynummer,name=/);
      return true;
    });
    await assert.rejects(importText('First Name,Surname,Mobile Phone\n', { columns: parseColumnMap('phone=Mobile') }), /--columns phone=Mobile: no column "Mobile"/);
  });
});

describe('bytes that are not UTF-8', () => {
  it('are a bad row naming the line, and the good rows still import', async () => {
    const latin1 = Buffer.concat([
      Buffer.from('phone,name\n+12125550101,Ana\n+12125550102,Jos'),
      Buffer.from([0xe9]), // é in Latin-1 / Windows-1252
      Buffer.from('\n+12125550103,Cy\n'),
    ]);
    const r = await importText(latin1);
    assert.equal(r.bad.length, 1);
    assert.equal(r.bad[0]!.line, 3);
    assert.match(r.bad[0]!.reason, /not UTF-8/);
    assert.deepEqual(r.contacts, [['Ana', '+12125550101'], ['Cy', '+12125550103']]);
    assert.ok(r.rows.every((row) => !row.name.includes('\uFFFD')));
  });
});

describe('numbers a campaign never dials', () => {
  it('emergency, premium-rate, short-code and other-country rows are bad rows with their reason; the rest run', async () => {
    const r = await importText(
      'phone,name\n911,Emergency\n+1 900 555 0123,Premium\n611,Carrier\n+44 20 7946 0001,London\n+1 876 555 1234,Jamaica\n(212) 555-0101,Ana\n',
      { allowedCountries: ['US', 'GB'] },
    );
    const reasons = Object.fromEntries(r.bad.map((b) => [b.line, b.reason]));
    assert.match(reasons[2]!, /emergency number/);
    assert.match(reasons[3]!, /premium-rate/);
    assert.match(reasons[4]!, /short code/);
    assert.match(reasons[6]!, /JM, outside ALLOWED_COUNTRIES=US,GB/);
    assert.deepEqual(r.contacts, [['London', '+442079460001'], ['Ana', '+12125550101']]);
  });

  it('with ALLOWED_COUNTRIES unset, only DEFAULT_REGION numbers are called', async () => {
    const r = await importText('phone,name\n+44 20 7946 0001,London\n(212) 555-0101,Ana\n');
    assert.match(r.bad[0]!.reason, /GB, outside ALLOWED_COUNTRIES=US \(DEFAULT_REGION\)/);
    assert.deepEqual(r.contacts, [['Ana', '+12125550101']]);
  });
});
