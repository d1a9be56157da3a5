/**
 * CSV records from a stream, in constant memory, that survive bad rows.
 *
 * Why not pipe the file through csv-parse's stream: after one bad quote its parser stays inside
 * the "quoted field" and every later row is lost or garbled (with `skip_records_with_error` it
 * keeps failing to the end of the file), which breaks "report the bad row, run the good ones".
 * So records are framed here — physical lines, joined while the quote count is odd, at most
 * MAX_RECORD_LINES lines — and each record is parsed by csv-parse on its own. A record that does
 * not parse (or spans lines and has the wrong number of columns: an unterminated quote that
 * swallowed the next rows) is reported at its first line, and framing restarts on the line after
 * it, so one stray quote costs one row.
 *
 * Lines are checked as UTF-8 one by one: a row saved in Latin-1 or Windows-1252 is a bad row naming
 * its line, never a name with replacement characters spoken to a person. The field separator is
 * whichever of `,` `;` or tab the first line uses most (spreadsheets in many locales save `;`).
 */
import { isUtf8 } from 'node:buffer';
import { parse } from 'csv-parse/sync';

export type CsvItem =
  /** A parsed record; `fields` is empty for an empty line. */
  | { line: number; fields: string[] }
  | { line: number; error: string };

export interface CsvOptions {
  /** A quoted field may hold newlines, but a record may not span more lines than this. */
  maxRecordLines?: number;
  /** Nor more characters than this. */
  maxRecordChars?: number;
}

interface Line {
  n: number;
  text: string;
  /** The line is not valid UTF-8. */
  notUtf8?: boolean;
}

export type Delimiter = ',' | ';' | '\t';

function quotes(s: string): number {
  let n = 0;
  for (let i = s.indexOf('"'); i >= 0; i = s.indexOf('"', i + 1)) n++;
  return n;
}

const ERRORS: Record<string, string> = {
  CSV_INVALID_CLOSING_QUOTE: 'unparseable quotes: text right after a closing quote',
  CSV_QUOTE_NOT_CLOSED: 'unparseable quotes: unterminated quoted field',
  CSV_INVALID_OPENING_QUOTE: 'unparseable quotes: a quote inside an unquoted field',
  CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE: 'unparseable quotes: text right after a closing quote',
};

function describe(err: unknown): string {
  const code = (err as { code?: string }).code ?? '';
  return ERRORS[code] ?? `unparseable: ${((err as Error).message ?? String(err)).split(/[:.]/)[0]}`;
}

function decodeLine(n: number, bytes: Buffer): Line {
  const end = bytes.length > 0 && bytes[bytes.length - 1] === 13 ? bytes.length - 1 : bytes.length;
  const line = bytes.subarray(0, end);
  return isUtf8(line) ? { n, text: line.toString('utf8') } : { n, text: line.toString('latin1'), notUtf8: true };
}

/** Physical lines of a byte stream, 1-based, without their \n or \r\n, BOM removed. */
async function* physicalLines(input: AsyncIterable<Buffer | string>): AsyncGenerator<Line> {
  let rest: Buffer = Buffer.alloc(0);
  let n = 0;
  let first = true;
  for await (const chunk of input) {
    let bytes = Buffer.concat([rest, typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk]);
    if (first && (bytes.length >= 3 || bytes.includes(10))) {
      if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
      first = false;
    }
    let start = 0;
    for (let i = bytes.indexOf(10); i >= 0; i = bytes.indexOf(10, start)) {
      yield decodeLine(++n, bytes.subarray(start, i));
      start = i + 1;
    }
    rest = Buffer.from(bytes.subarray(start));
  }
  if (first && rest.length >= 3 && rest[0] === 0xef && rest[1] === 0xbb && rest[2] === 0xbf) rest = rest.subarray(3);
  if (rest.length > 0) yield decodeLine(++n, rest);
}

/** The separator a header line uses: the most frequent of , ; and tab outside quotes (ties: comma). */
export function detectDelimiter(line: string): Delimiter {
  const counts: Record<Delimiter, number> = { ',': 0, ';': 0, '\t': 0 };
  let quoted = false;
  for (const ch of line) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && ch in counts) counts[ch as Delimiter]++;
  }
  return counts[';'] > counts[','] && counts[';'] >= counts['\t'] ? ';' : counts['\t'] > counts[','] ? '\t' : ',';
}

const NOT_UTF8 = 'not UTF-8 text (the file looks saved as Latin-1 or Windows-1252; save it as "CSV UTF-8" and run again)';

/**
 * Records of a CSV stream. Set `expectColumns` once the header is known: a multi-line record
 * with another column count is then treated as an unterminated quote.
 */
export class CsvRecords implements AsyncIterable<CsvItem> {
  expectColumns: number | undefined;
  /** Known once the first non-empty line is read. */
  delimiter: Delimiter | undefined;
  private readonly maxLines: number;
  private readonly maxChars: number;

  constructor(
    private readonly input: AsyncIterable<Buffer | string>,
    options: CsvOptions = {},
  ) {
    this.maxLines = options.maxRecordLines ?? 50;
    this.maxChars = options.maxRecordChars ?? 64 * 1024;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<CsvItem> {
    const source = physicalLines(this.input)[Symbol.asyncIterator]();
    const requeued: Line[] = [];
    const next = async (): Promise<Line | undefined> => {
      if (requeued.length > 0) return requeued.shift();
      const r = await source.next();
      return r.done ? undefined : r.value;
    };
    for (;;) {
      const first = await next();
      if (!first) return;
      if (first.text === '') {
        yield { line: first.n, fields: [] };
        continue;
      }
      this.delimiter ??= detectDelimiter(first.text);
      const lines = [first];
      let odd = quotes(first.text) % 2 === 1;
      let chars = first.text.length;
      while (odd && lines.length < this.maxLines && chars <= this.maxChars) {
        const l = await next();
        if (!l) break;
        lines.push(l);
        chars += l.text.length + 1;
        if (quotes(l.text) % 2 === 1) odd = false;
      }
      const retry = () => requeued.unshift(...lines.slice(1));
      if (odd) {
        yield { line: first.n, error: 'unparseable quotes: unterminated quoted field' };
        retry();
        continue;
      }
      if (lines.some((l) => l.notUtf8)) {
        const bad = lines.find((l) => l.notUtf8)!;
        yield { line: first.n, error: bad.n === first.n ? NOT_UTF8 : `${NOT_UTF8.replace('not UTF-8 text', `line ${bad.n} of this record is not UTF-8 text`)}` };
        continue;
      }
      const text = lines.length === 1 ? first.text : lines.map((l) => l.text).join('\n');
      let records: string[][];
      try {
        records = parse(text, { relax_column_count: true, skip_empty_lines: false, delimiter: this.delimiter }) as string[][];
      } catch (err) {
        yield { line: first.n, error: describe(err) };
        retry();
        continue;
      }
      const fields = records[0] ?? [];
      if (records.length !== 1 || (lines.length > 1 && this.expectColumns !== undefined && fields.length !== this.expectColumns)) {
        yield { line: first.n, error: 'unparseable quotes: unterminated quoted field' };
        retry();
        continue;
      }
      yield { line: first.n, fields };
    }
  }
}
