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
 */
import { StringDecoder } from 'node:string_decoder';
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
}

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

/** Physical lines of a byte stream, 1-based, without their \n or \r\n, BOM removed. */
async function* physicalLines(input: AsyncIterable<Buffer | string>): AsyncGenerator<Line> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  let n = 0;
  let first = true;
  for await (const chunk of input) {
    let text = rest + (typeof chunk === 'string' ? chunk : decoder.write(chunk));
    if (first && text.length > 0) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      first = false;
    }
    let start = 0;
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', start)) {
      const end = i > start && text.charCodeAt(i - 1) === 13 ? i - 1 : i;
      yield { n: ++n, text: text.slice(start, end) };
      start = i + 1;
    }
    rest = text.slice(start);
  }
  rest += decoder.end();
  if (rest.length > 0) yield { n: ++n, text: rest.endsWith('\r') ? rest.slice(0, -1) : rest };
}

/**
 * Records of a CSV stream. Set `expectColumns` once the header is known: a multi-line record
 * with another column count is then treated as an unterminated quote.
 */
export class CsvRecords implements AsyncIterable<CsvItem> {
  expectColumns: number | undefined;
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
      const text = lines.length === 1 ? first.text : lines.map((l) => l.text).join('\n');
      let records: string[][];
      try {
        records = parse(text, { relax_column_count: true, skip_empty_lines: false }) as string[][];
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
