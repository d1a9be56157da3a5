// Claim throughput of the campaign store, per backend: how fast dispatchers sharing one store can
// take contacts (claim → dispatched → outcome), and proof that none was taken twice.
//
//   npm run bench:claims                                  SQLite file
//   npm run bench:claims -- --store postgres://…          a PostgreSQL database (an empty schema is made)
//   options: --rows N (5000), --claimers N (4), --batch N (20), --json
//
// Each claimer opens its own store (its own connection or pool), as separate dispatcher processes
// would, and loops until no contact is left. Benchmarks are not tests: nothing here asserts a number.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { type CampaignStore, type ContactInput, type Store, openStore } from '../src/store/index.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const opt = (name: string, def: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : def;
};
const ROWS = Number(opt('--rows', '5000'));
const CLAIMERS = Number(opt('--claimers', '4'));
const BATCH = Number(opt('--batch', '20'));

async function location(): Promise<string> {
  const given = opt('--store', '');
  if (!given.startsWith('postgres')) return given || `sqlite:${join(mkdtempSync(join(tmpdir(), 'sb-bench-claims-')), 'store.db')}`;
  const schema = `bench_claims_${Date.now().toString(36)}`;
  const c = new pg.Client(given);
  await c.connect();
  await c.query(`CREATE SCHEMA ${schema}`);
  await c.end();
  const url = new URL(given);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}

async function claimer(store: Store, owner: string, taken: Map<string, number>): Promise<number> {
  const c = store.campaigns as CampaignStore;
  let n = 0;
  for (;;) {
    const now = Date.now();
    const due = await c.due('bench', now, BATCH * 2);
    if (due.length === 0) return n;
    const { claimed } = await c.claim('bench', { owner, now, leaseMs: 60_000, maxInFlight: ROWS, cps: 0, contactIds: due.map((d) => d.contactId) });
    for (const row of claimed) {
      taken.set(row.contactId, (taken.get(row.contactId) ?? 0) + 1);
      await c.markDispatched('bench', row.contactId, row.attempts, now);
      await c.recordOutcome('bench', { contactId: row.contactId, attempt: row.attempts, outcome: { kind: 'completed' }, result: null, callId: null, endedAt: now, next: { state: 'done' } });
      n++;
    }
  }
}

async function main(): Promise<void> {
  const where = await location();
  const setup = await openStore(where);
  const c = setup.campaigns as CampaignStore;
  await c.ensure('bench', null, 0);
  const rows: ContactInput[] = Array.from({ length: ROWS }, (_, i) => ({
    contactId: `c${i}`, line: i + 2, phone: `+1212${String(2_000_000 + i)}`, name: `N${i}`, appointmentId: null, zones: ['UTC'], zoneSource: 'column', fields: {},
  }));
  const pass = await c.beginImport('bench');
  for (let i = 0; i < rows.length; i += 1000) await c.importRows('bench', pass, rows.slice(i, i + 1000), 0);
  const stores = await Promise.all(Array.from({ length: CLAIMERS }, () => openStore(where)));
  const taken = new Map<string, number>();
  const t0 = performance.now();
  const counts = await Promise.all(stores.map((s, i) => claimer(s, `bench-${i}`, taken)));
  const seconds = (performance.now() - t0) / 1000;
  const duplicates = [...taken.values()].filter((n) => n > 1).length;
  const result = {
    backend: setup.schema.backend,
    rows: ROWS,
    claimers: CLAIMERS,
    batch: BATCH,
    claimed: counts.reduce((a, b) => a + b, 0),
    perClaimer: counts,
    duplicates,
    seconds: Math.round(seconds * 1000) / 1000,
    contactsPerSecond: Math.round(ROWS / seconds),
  };
  await Promise.all([...stores, setup].map((s) => s.close()));
  if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else
    process.stdout.write(
      `${result.backend}: ${result.claimed}/${ROWS} contacts claimed, dispatched and finished by ${CLAIMERS} claimers in ${result.seconds} s ` +
        `(${result.contactsPerSecond}/s; per claimer ${counts.join(', ')}); taken twice: ${duplicates}\n`,
    );
}

void main();
