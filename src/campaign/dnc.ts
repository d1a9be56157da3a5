/**
 * The do-not-call list: a text file with one number per line (`#` comments and blank lines
 * ignored), or a CSV whose first column is the number (a header row is skipped because it is not
 * a number). Numbers are normalised like the contacts, so `(212) 555-0101` matches `+12125550101`.
 * Held in memory as a set of E.164 strings (~100 bytes a number).
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { normalisePhone } from '../telephony/phoneNumber.js';

export interface DncList {
  has(e164: string): boolean;
  readonly size: number;
  /** Lines that held something that is not a valid number (after the first line). */
  readonly unreadable: number;
}

export async function loadDnc(paths: string[], defaultRegion: string): Promise<DncList> {
  const numbers = new Set<string>();
  let unreadable = 0;
  for (const path of paths) {
    const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
    let n = 0;
    try {
      for await (const raw of lines) {
        n++;
        const text = raw.replace(/#.*$/, '').split(',')[0]!.replace(/^"|"$/g, '').trim();
        if (text === '') continue;
        const p = normalisePhone(text, defaultRegion);
        if (p.ok) numbers.add(p.e164);
        else if (n > 1) unreadable++;
      }
    } catch (err) {
      throw new Error(`cannot read the do-not-call list ${path}: ${(err as Error).message}`, { cause: err });
    }
  }
  return { has: (e) => numbers.has(e), size: numbers.size, unreadable };
}

export const EMPTY_DNC: DncList = { has: () => false, size: 0, unreadable: 0 };
