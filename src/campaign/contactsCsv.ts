/**
 * The contacts CSV: which columns it must have, and how one row becomes a contact or a bad row.
 *
 * Columns (header row first; names are case-insensitive, spaces become `_`):
 *   phone           required: the number, E.164 or national (read in DEFAULT_REGION)
 *   name            required: how the agent greets the contact
 *   appointment_id  optional: goes to the job's contact.appointmentId
 *   timezone        optional: IANA zone (America/Chicago); else guessed from the number
 *   contact_id      optional: stable id; else derived from the number
 * Any other column goes, as text, to the job's contact.fields under its header name.
 */
import { IANAZone } from 'luxon';
import type { ContactInput } from '../store/index.js';
import { contactIdFor } from './ids.js';
import { normalisePhone } from './phone.js';
import { guessZones } from './timezones.js';

export const REQUIRED_COLUMNS = ['phone', 'name'] as const;
export const KNOWN_COLUMNS = ['phone', 'name', 'appointment_id', 'timezone', 'contact_id'] as const;

/**
 * Zone validity, remembered: luxon's IANAZone.isValidZone builds a new Intl.DateTimeFormat on
 * every call, ICU memory the garbage collector does not see — 100k rows grew RSS by gigabytes.
 */
const zoneValidity = new Map<string, boolean>();
function isValidZone(zone: string): boolean {
  let ok = zoneValidity.get(zone);
  if (ok === undefined) {
    ok = IANAZone.isValidZone(zone);
    if (zoneValidity.size < 10_000) zoneValidity.set(zone, ok);
  }
  return ok;
}

export class CsvHeaderError extends Error {
  readonly exitCode = 2;
}

export type RowResult = { ok: true; contact: ContactInput } | { ok: false; line: number; reason: string };

export function normaliseHeader(h: string): string {
  return h.trim().toLowerCase().replace(/\s+/g, '_');
}

export class ContactRows {
  private readonly index: Record<string, number> = {};
  private readonly extra: { name: string; i: number }[] = [];
  readonly columns: number;

  constructor(
    header: string[],
    private readonly defaultRegion: string,
  ) {
    const names = header.map(normaliseHeader);
    const seen = new Set<string>();
    for (const [i, name] of names.entries()) {
      if (name === '') throw new CsvHeaderError(`CSV header: column ${i + 1} has no name`);
      if (seen.has(name)) throw new CsvHeaderError(`CSV header: column "${name}" appears twice`);
      seen.add(name);
      if ((KNOWN_COLUMNS as readonly string[]).includes(name)) this.index[name] = i;
      else this.extra.push({ name, i });
    }
    const missing = REQUIRED_COLUMNS.filter((c) => this.index[c] === undefined);
    if (missing.length > 0) {
      throw new CsvHeaderError(
        `CSV header: missing required column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ` +
          `(found: ${names.join(', ') || 'nothing'}; required: ${REQUIRED_COLUMNS.join(', ')}; ` +
          `optional: appointment_id, timezone, contact_id; others become contact fields)`,
      );
    }
    this.columns = header.length;
  }

  row(line: number, fields: string[]): RowResult {
    const bad = (reason: string): RowResult => ({ ok: false, line, reason });
    if (fields.length === 0 || fields.every((f) => f.trim() === '')) return bad('empty line');
    if (fields.length !== this.columns) return bad(`expected ${this.columns} columns, got ${fields.length}`);
    const get = (c: string) => {
      const i = this.index[c];
      return i === undefined ? '' : (fields[i] ?? '').trim();
    };
    const name = get('name');
    if (name === '') return bad('missing name');
    const phone = normalisePhone(get('phone'), this.defaultRegion);
    if (!phone.ok) return bad(phone.reason);
    const tz = get('timezone');
    let zones: ContactInput['zones'];
    let zoneSource: string;
    if (tz !== '') {
      if (!isValidZone(tz)) return bad(`unknown time zone ${JSON.stringify(tz)} (expected an IANA zone such as America/Chicago)`);
      zones = [tz];
      zoneSource = 'column';
    } else {
      const guess = guessZones(phone.country, phone.nationalNumber, this.defaultRegion);
      zones = guess.zones;
      zoneSource = guess.source;
    }
    const rawId = get('contact_id');
    const contactId = contactIdFor(phone.e164, rawId);
    if (contactId === '') return bad(`contact_id ${JSON.stringify(rawId)} has no letters or digits`);
    const extra: Record<string, string> = {};
    for (const { name: key, i } of this.extra) extra[key] = fields[i] ?? '';
    const appointmentId = get('appointment_id');
    return {
      ok: true,
      contact: {
        contactId,
        line,
        phone: phone.e164,
        name,
        appointmentId: appointmentId === '' ? null : appointmentId,
        zones,
        zoneSource,
        fields: extra,
      },
    };
  }
}
