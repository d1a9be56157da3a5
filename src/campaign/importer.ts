/**
 * Import: stream the contacts CSV into the store, in batches, reporting each bad row.
 *
 * Idempotent: contacts are keyed by contact id (and unique by number) per campaign, so importing
 * the same file again — a resumed run, or two dispatchers starting together — adds nothing and
 * dials nobody twice. An edited file is reconciled: rows no longer in it are cancelled, a new
 * number under the same contact_id replaces the old one, and the store keeps what changed. A complete import remembers the file's path, size and mtime; an unchanged
 * file is not read again on resume.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { BadRow, CampaignStore, ContactInput } from '../store/index.js';
import { type ColumnMap, ContactRows, CsvHeaderError } from './contactsCsv.js';
import { CsvRecords } from './csvRecords.js';
import type { DncList } from './dnc.js';

export interface ImportOptions {
  campaignId: string;
  file: string;
  defaultRegion: string;
  /** ALLOWED_COUNTRIES: rows in other countries are bad rows (empty: DEFAULT_REGION only). */
  allowedCountries?: string[];
  /** `--columns`: where phone, name, … are in this file when the headers are not the usual ones. */
  columns?: ColumnMap;
  dnc: DncList;
  now: () => number;
  /** Told about every bad row as it is found. */
  onBadRow?: (row: BadRow) => void;
  /** Read the file even if it looks unchanged since the last complete import. */
  force?: boolean;
  batchSize?: number;
}

export interface ImportSummary {
  /** False when the file was unchanged and not read again. */
  read: boolean;
  /** Data rows (lines after the header, empty ones included). */
  rows: number;
  added: number;
  alreadyImported: number;
  badRows: number;
  /** Contacts imported earlier, now excluded because they are on the do-not-call list. */
  excluded: number;
  /** Contacts whose number the file now gives differently (same contact_id): the new one replaced it. */
  changed: number;
  /** Contacts no longer in the file: cancelled if they were still to be called. */
  removed: number;
  /** Contacts removed by an earlier import and back in the file. */
  restored: number;
}

export async function importContacts(store: CampaignStore, o: ImportOptions): Promise<ImportSummary> {
  const path = resolve(o.file);
  const st = await stat(path).catch((err: NodeJS.ErrnoException) => {
    throw Object.assign(new Error(`cannot read ${o.file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`), {
      exitCode: 2,
    });
  });
  const key = JSON.stringify([path, st.size, Math.floor(st.mtimeMs)]);
  const campaign = await store.ensure(o.campaignId, path, o.now());
  const summary: ImportSummary = { read: false, rows: 0, added: 0, alreadyImported: 0, badRows: 0, excluded: 0, changed: 0, removed: 0, restored: 0 };
  // A change that had to wait (a call to the old number in flight): read the file again next run.
  let deferred = false;
  if (!o.force && campaign.importedKey === key) {
    summary.rows = campaign.rows;
    return summary;
  }
  summary.read = true;
  const pass = await store.beginImport(o.campaignId);
  const batchSize = o.batchSize ?? 500;
  const records = new CsvRecords(createReadStream(path, { highWaterMark: 64 * 1024 }));
  let reader: ContactRows | undefined;
  let contacts: ContactInput[] = [];
  let bad: BadRow[] = [];
  let dncHits: string[] = [];

  const report = (row: BadRow) => {
    bad.push(row);
    summary.badRows++;
    o.onBadRow?.(row);
  };
  const flush = async () => {
    if (contacts.length > 0) {
      const results = await store.importRows(o.campaignId, pass, contacts, o.now());
      for (const [i, r] of results.entries()) {
        if (r.status === 'new') summary.added++;
        else if (r.status === 'seen') summary.alreadyImported++;
        else if (r.status === 'changed') summary.changed++;
        else if (r.status === 'restored') summary.restored++;
        else if (r.status === 'in_flight') {
          deferred = true;
          report({
            line: contacts[i]!.line,
            reason: `number changed to ${contacts[i]!.phone} while a call to ${r.phone} is in flight; run again once it ends to use the new number`,
          });
        } else {
          const what = r.by === 'phone' ? 'same number' : 'same contact_id';
          report({ line: contacts[i]!.line, reason: `duplicate of line ${r.of} (${what})` });
        }
      }
      contacts = [];
    }
    if (dncHits.length > 0) {
      summary.excluded += await store.excludePhones(o.campaignId, dncHits, 'do-not-call list', o.now());
      dncHits = [];
    }
    if (bad.length > 0) {
      await store.recordBadRows(o.campaignId, pass, bad);
      bad = [];
    }
  };

  for await (const item of records) {
    if (!reader) {
      if ('error' in item) throw new CsvHeaderError(`CSV header (line ${item.line}): ${item.error}`);
      if (item.fields.length === 0) continue; // blank lines before the header
      reader = new ContactRows(item.fields, { defaultRegion: o.defaultRegion, allowedCountries: o.allowedCountries ?? [] }, o.columns);
      records.expectColumns = reader.columns;
      continue;
    }
    summary.rows++;
    if ('error' in item) {
      report({ line: item.line, reason: item.error });
    } else {
      const r = reader.row(item.line, item.fields);
      if (!r.ok) report({ line: r.line, reason: r.reason });
      else if (o.dnc.has(r.contact.phone)) {
        report({ line: item.line, reason: 'on the do-not-call list' });
        dncHits.push(r.contact.phone);
      } else contacts.push(r.contact);
    }
    if (contacts.length >= batchSize || bad.length >= batchSize) await flush();
  }
  if (!reader) throw new CsvHeaderError(`${o.file} is empty: expected a header row with at least phone,name`);
  await flush();
  summary.removed = (await store.finishImport(o.campaignId, pass, deferred ? null : key, summary.rows)).removed;
  return summary;
}
