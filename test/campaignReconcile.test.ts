/**
 * Rerunning a campaign with an edited contacts file: the store follows the file. Removed rows are
 * cancelled (never dialled), a corrected number under the same contact_id replaces the pending
 * one, and the changes are kept for `campaign status`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EMPTY_DNC } from '../src/campaign/dnc.js';
import { importContacts } from '../src/campaign/importer.js';
import { openStore } from '../src/store/index.js';
import type { CampaignStore, ExportRow } from '../src/store/index.js';
import { BACKENDS, type Backend } from './helpers/backends.js';

const CLI = join(import.meta.dirname, '..', 'src', 'cli', 'main.js');

async function harness(backend: Backend) {
  const dir = mkdtempSync(join(tmpdir(), 'sb-reconcile-'));
  const file = join(dir, 'contacts.csv');
  const storeUrl = await backend.location();
  const s = await openStore(storeUrl);
  const c = s.campaigns as CampaignStore;
  let t = 1_000;
  const write = (text: string) => {
    writeFileSync(file, text);
    t += 10;
    utimesSync(file, t, t); // a new mtime, as an editor gives
  };
  const run = () => importContacts(c, { campaignId: 'r', file, defaultRegion: 'US', dnc: EMPTY_DNC, now: () => 0 });
  const rows = async () => {
    const out: ExportRow[] = [];
    for await (const r of c.exportRows('r')) out.push(r);
    return Object.fromEntries(out.map((r) => [r.contactId, r]));
  };
  return { s, c, file, storeUrl, write, run, rows };
}

function reconcileTests(backend: Backend) {
  it('cancels removed rows, replaces a corrected number under the same contact_id, and says so', async () => {
    const h = await harness(backend);
    h.write('phone,name,contact_id\n+12125550101,Ana,ana\n+12125550102,Bo,bo\n+12125550109,Cy,cy\n');
    await h.run();
    // Bo's number was wrong; Cy asked not to be in this campaign.
    h.write('phone,name,contact_id\n+12125550101,Ana,ana\n+12125550112,Bo,bo\n');
    const second = await h.run();
    assert.deepEqual([second.added, second.changed, second.removed, second.badRows], [0, 1, 1, 0]);
    const rows = await h.rows();
    assert.equal(rows.bo!.phone, '+12125550112');
    assert.equal(rows.bo!.state, 'pending');
    assert.equal(rows.cy!.state, 'excluded');
    assert.match(rows.cy!.note!, /removed from the CSV/);
    // Only Ana and Bo (at the new number) are due; Cy is never dialled.
    assert.deepEqual((await h.c.due('r', 0, 10)).map((r) => [r.contactId, r.phone]), [['ana', '+12125550101'], ['bo', '+12125550112']]);

    const changes = await h.c.importChanges('r');
    assert.equal(changes.removed, 1);
    assert.equal(changes.numberChanged, 1);
    assert.deepEqual(
      changes.items.map((x) => [x.kind, x.contactId, x.oldPhone, x.newPhone]),
      [['number_changed', 'bo', '+12125550102', '+12125550112'], ['removed', 'cy', '+12125550109', null]],
    );
    await h.s.close();

    const status = spawnSync(process.execPath, [CLI, 'campaign', 'status', 'r', '--json'], {
      env: { PATH: process.env.PATH, HOME: tmpdir(), STORE_URL: h.storeUrl, LOG_LEVEL: 'error' },
      encoding: 'utf8',
    });
    assert.equal(status.status, 0, status.stderr);
    const out = JSON.parse(status.stdout.trim().split('\n').at(-1)!);
    assert.deepEqual([out.changes.removed, out.changes.numberChanged], [1, 1]);
    const text = spawnSync(process.execPath, [CLI, 'campaign', 'status', 'r'], {
      env: { PATH: process.env.PATH, HOME: tmpdir(), STORE_URL: h.storeUrl, LOG_LEVEL: 'error' },
      encoding: 'utf8',
    });
    assert.match(text.stdout, /last import changed: 1 removed \(cancelled\), 1 number changed/);
  });

  it('a removed row whose call is in flight is not retried afterwards; a restored row is dialled again', async () => {
    const h = await harness(backend);
    h.write('phone,name,contact_id\n+12125550101,Ana,ana\n+12125550102,Bo,bo\n');
    await h.run();
    const claim = await h.c.claim('r', { owner: 'me', now: 0, leaseMs: 60_000, maxInFlight: 10, cps: 0, contactIds: ['bo'] });
    assert.equal(claim.claimed.length, 1);
    await h.c.markDispatched('r', 'bo', 1, 0);
    h.write('phone,name,contact_id\n+12125550101,Ana,ana\n');
    await h.run();
    // Bo's call ends busy, which would normally be retried: removed from the file, it is done.
    await h.c.recordOutcome('r', { contactId: 'bo', attempt: 1, outcome: { kind: 'busy' }, result: null, callId: null, endedAt: 1, next: { state: 'pending', nextAt: 5 } });
    assert.equal((await h.rows()).bo!.state, 'done');
    // Ana removed, then put back: she is pending again.
    h.write('phone,name,contact_id\n+12125550102,Bo,bo\n');
    await h.run();
    assert.equal((await h.rows()).ana!.state, 'excluded');
    h.write('phone,name,contact_id\n+12125550101,Ana,ana\n+12125550102,Bo,bo\n');
    const back = await h.run();
    assert.equal(back.restored, 1);
    assert.equal((await h.rows()).ana!.state, 'pending');
    await h.s.close();
  });

  it("a corrected number that is another contact's is a duplicate, and the rest of the file still imports", async () => {
    const h = await harness(backend);
    h.write('phone,name,contact_id\n+12125550101,Ana,ana\n+12125550102,Bo,bo\n');
    await h.run();
    // Bo's new number is Ana's: refused by the store's unique phone, which on PostgreSQL must not
    // abort the import's transaction (Cy, after it, is still imported).
    h.write('phone,name,contact_id\n+12125550101,Ana,ana\n+12125550101,Bo,bo\n+12125550109,Cy,cy\n');
    const r = await h.run();
    assert.deepEqual([r.added, r.changed, r.badRows], [1, 0, 1]);
    assert.deepEqual(await h.c.badRows('r'), [{ line: 3, reason: 'duplicate of line 2 (same number)' }]);
    const rows = await h.rows();
    assert.equal(rows.bo!.phone, '+12125550102');
    assert.equal(rows.cy!.state, 'pending');
    assert.equal((await h.c.importChanges('r')).numberChanged, 0);
    await h.s.close();
  });

  it('a number changed while a call to the old one is in flight waits for the next run, and says why', async () => {
    const h = await harness(backend);
    h.write('phone,name,contact_id\n+12125550102,Bo,bo\n');
    await h.run();
    await h.c.claim('r', { owner: 'me', now: 0, leaseMs: 60_000, maxInFlight: 10, cps: 0, contactIds: ['bo'] });
    h.write('phone,name,contact_id\n+12125550112,Bo,bo\n');
    const r = await h.run();
    assert.equal(r.badRows, 1);
    assert.match((await h.c.badRows('r'))[0]!.reason, /in flight.*run again/);
    assert.equal((await h.rows()).bo!.phone, '+12125550102');
    assert.equal((await h.c.get('r'))!.importedKey, null, 'the file is read again on the next run');
    await h.s.close();
  });
}

for (const backend of BACKENDS) describe(`a campaign file that changes (${backend.name})`, () => reconcileTests(backend));
