/**
 * The contacts CSV: which columns it must have, and how one row becomes a contact or a bad row.
 *
 * Columns (header row first; names match whatever their case, spaces, `-` or `_`):
 *   phone           required: the number, E.164 or national (read in DEFAULT_REGION); also
 *                   found as phone_number, mobile, mobile_number, mobile_phone, cell, telephone
 *   name            required: how the agent greets the contact; also found as full_name, or
 *                   first_name (+ last_name), the way address books export people
 *   appointment_id  optional: goes to the job's contact.appointmentId
 *   timezone        optional: IANA zone (America/Chicago); else guessed from the number
 *   contact_id      optional: stable id; else derived from the number
 * `--columns phone=Mobile,name=first_name+last_name` names the columns instead. Any other column
 * goes, as text, to the job's contact.fields under its header name.
 *
 * A number Switchboard may never dial (emergency, premium rate, short code, a country outside
 * ALLOWED_COUNTRIES) is a bad row with that reason; the good rows still run.
 */
import { IANAZone } from 'luxon';
import type { ContactInput } from '../store/index.js';
import { type DialPolicy, checkDialable } from '../telephony/dialPolicy.js';
import { contactIdFor } from './ids.js';
import { guessZones } from './timezones.js';

export const REQUIRED_COLUMNS = ['phone', 'name'] as const;
export const KNOWN_COLUMNS = ['phone', 'name', 'appointment_id', 'timezone', 'contact_id'] as const;
type Known = (typeof KNOWN_COLUMNS)[number];

/** Other names people's exports give a column, in order of preference; a name may be several columns joined. */
const ALIASES: Record<Known, string[][]> = {
  phone: [['phone'], ['phone_number'], ['mobile'], ['mobile_number'], ['mobile_phone'], ['cell'], ['cell_phone'], ['telephone']],
  name: [['name'], ['full_name'], ['first_name', 'last_name'], ['first_name']],
  appointment_id: [['appointment_id']],
  timezone: [['timezone'], ['time_zone']],
  contact_id: [['contact_id']],
};

/** `--columns`: which header(s) each known column comes from. */
export type ColumnMap = Partial<Record<Known, string[]>>;

/** The key headers are matched on: case, spaces, `-` and `_` do not matter. */
const matchKey = (h: string) => h.toLowerCase().replace(/[\s_-]+/g, '');

/** Parses `phone=Mobile,name=first_name+last_name`; throws a CsvHeaderError naming what is wrong. */
export function parseColumnMap(spec: string): ColumnMap {
  const map: ColumnMap = {};
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([^=]+)=(.+)$/.exec(part);
    const key = m ? normaliseHeader(m[1]!) : '';
    if (!m || !(KNOWN_COLUMNS as readonly string[]).includes(key)) {
      throw new CsvHeaderError(
        `--columns: ${JSON.stringify(part)} must be <column>=<header>[+<header>], with <column> one of ${KNOWN_COLUMNS.join(', ')}`,
      );
    }
    const sources = m[2]!.split('+').map((h) => h.trim());
    if (sources.some((h) => h === '')) throw new CsvHeaderError(`--columns: ${JSON.stringify(part)} has an empty header name`);
    if (key !== 'name' && sources.length > 1) throw new CsvHeaderError(`--columns: only name may join several headers (${JSON.stringify(part)})`);
    map[key as Known] = sources;
  }
  return map;
}

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

/** A `--columns` suggestion from the headers a file has: the likeliest phone and name columns. */
function suggestMapping(headers: string[]): string {
  const find = (re: RegExp) => headers.filter((h) => re.test(matchKey(h)));
  const phone = find(/phone|mobile|cell|tel|num/)[0] ?? '<phone column>';
  const names = find(/name/);
  const first = names.find((h) => /first|given/.test(matchKey(h)));
  const last = names.find((h) => /last|family|sur/.test(matchKey(h)));
  const name = first && last ? `${first}+${last}` : (names[0] ?? '<name column>');
  return `--columns phone=${phone},name=${name}`;
}

export class ContactRows {
  /** Field positions of each known column (name may be several, joined with a space). */
  private readonly index: Partial<Record<Known, number[]>> = {};
  private readonly extra: { name: string; i: number }[] = [];
  readonly columns: number;

  constructor(
    header: string[],
    private readonly policy: DialPolicy,
    columnMap: ColumnMap = {},
  ) {
    const names = header.map(normaliseHeader);
    const position = new Map<string, number>();
    for (const [i, name] of names.entries()) {
      if (name === '') throw new CsvHeaderError(`CSV header: column ${i + 1} has no name`);
      if (position.has(matchKey(name))) throw new CsvHeaderError(`CSV header: column "${name}" appears twice`);
      position.set(matchKey(name), i);
    }
    for (const key of KNOWN_COLUMNS) {
      const mapped = columnMap[key];
      if (mapped) {
        const at = mapped.map((h) => position.get(matchKey(h)));
        const absent = mapped.filter((_, j) => at[j] === undefined);
        if (absent.length > 0) {
          throw new CsvHeaderError(`--columns ${key}=${mapped.join('+')}: no column ${absent.map((h) => JSON.stringify(h)).join(', ')} in the header (found: ${names.join(', ')})`);
        }
        this.index[key] = at as number[];
        continue;
      }
      for (const alias of ALIASES[key]) {
        const at = alias.map((h) => position.get(matchKey(h)));
        if (at.every((i) => i !== undefined)) {
          this.index[key] = at as number[];
          break;
        }
      }
    }
    const used = new Set(Object.values(this.index).flat());
    for (const [i, name] of names.entries()) if (!used.has(i)) this.extra.push({ name, i });
    const missing = REQUIRED_COLUMNS.filter((c) => this.index[c] === undefined);
    if (missing.length > 0) {
      throw new CsvHeaderError(
        `CSV header: missing required column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ` +
          `(found: ${names.join(', ') || 'nothing'}; required: phone (or phone_number, mobile), name (or full_name, ` +
          `first_name + last_name); optional: appointment_id, timezone, contact_id; others become contact fields). ` +
          `If your columns are called something else, map them: ${suggestMapping(header.map((h) => h.trim()))}`,
      );
    }
    this.columns = header.length;
  }

  row(line: number, fields: string[]): RowResult {
    const bad = (reason: string): RowResult => ({ ok: false, line, reason });
    if (fields.length === 0 || fields.every((f) => f.trim() === '')) return bad('empty line');
    if (fields.length !== this.columns) return bad(`expected ${this.columns} columns, got ${fields.length}`);
    const get = (c: Known) =>
      (this.index[c] ?? [])
        .map((i) => (fields[i] ?? '').trim())
        .filter((v) => v !== '')
        .join(' ');
    const name = get('name');
    if (name === '') return bad('missing name');
    const rawPhone = get('phone');
    if (rawPhone === '') return bad('missing phone number');
    const phone = checkDialable(rawPhone, this.policy);
    if (!phone.ok) return bad(phone.reason);
    const tz = get('timezone');
    let zones: ContactInput['zones'];
    let zoneSource: string;
    if (tz !== '') {
      if (!isValidZone(tz)) return bad(`unknown time zone ${JSON.stringify(tz)} (expected an IANA zone such as America/Chicago)`);
      zones = [tz];
      zoneSource = 'column';
    } else {
      const guess = guessZones(phone.country, phone.nationalNumber, this.policy.defaultRegion);
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
