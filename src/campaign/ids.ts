/**
 * Names that must be stable across runs: the campaign id (derived from the CSV file so re-running
 * the same command resumes), contact ids (from a `contact_id` column or the number), and the room
 * of each attempt — the contract with the worker: `${campaignId}-${contactId}-a${attempt}`.
 */
import { createHash } from 'node:crypto';
import { basename, extname, resolve } from 'node:path';

/** Keeps what LiveKit room names and our ids allow: letters, digits, `_` and `-`. */
export function sanitise(s: string): string {
  return s.replace(/[^A-Za-z0-9_-]+/g, '_').replace(/^_+|_+$/g, '');
}

const shortHash = (s: string, hex: number) => createHash('sha256').update(s).digest('hex').slice(0, hex);

/** `<file name>-<6 hex of the absolute path>`: the same file resumes the same campaign. */
export function campaignIdFromFile(path: string): string {
  const abs = resolve(path);
  const stem = sanitise(basename(abs, extname(abs))).slice(0, 40) || 'campaign';
  return `${stem}-${shortHash(abs, 6)}`;
}

/**
 * A contact's id: its `contact_id` column (sanitised), else `n` + 16 hex of sha256 of the E.164
 * number — stable across imports, and no phone number in room names.
 */
export function contactIdFor(e164: string, column?: string): string {
  if (column !== undefined && column.trim() !== '') return sanitise(column.trim()).slice(0, 64);
  return `n${shortHash(e164, 16)}`;
}

/** The room of one attempt. The claim in the store builds the same string in SQL. */
export function roomName(campaignId: string, contactId: string, attempt: number): string {
  return sanitise(`${campaignId}-${contactId}-a${attempt}`);
}

/** Valid for `--campaign`: what sanitise would leave unchanged. */
export function isValidId(id: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$/.test(id);
}
