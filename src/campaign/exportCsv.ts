/** `campaign export`: one CSV row per contact, streamed from the store. */
import type { ExportRow } from '../store/index.js';

export const EXPORT_COLUMNS = [
  'contact_id',
  'line',
  'name',
  'phone',
  'attempts',
  'final_outcome',
  'outcome',
  'result',
  'last_room',
  'note',
] as const;

/**
 * RFC 4180 quoting, and a leading ' on every cell a spreadsheet could run as a formula (OWASP
 * "CSV injection": cells starting with = + - @ tab or CR). The one exception is a cell that is a
 * bare number (E.164 phone numbers, -5): digits alone cannot call anything, and the phone column
 * stays a number for whoever reads the file with another tool.
 */
export function csvCell(value: unknown): string {
  let s = value === null || value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  if (/^[=+\-@\t\r]/.test(s) && !/^[+-]?\d+(\.\d+)?$/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function exportLine(r: ExportRow): string {
  return [r.contactId, r.line, r.name, r.phone, r.attempts, r.finalOutcome, r.outcome, r.result, r.room, r.note]
    .map(csvCell)
    .join(',');
}
