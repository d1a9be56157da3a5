/**
 * How every CLI command reports: for people (tables, progress on a TTY) by default, and with
 * `--json` exactly one JSON object as the last line of stdout, for scripts and tests.
 */
import { ConfigError } from '../config.js';

export interface ReportOptions {
  json?: boolean;
}

/** Prints the result: JSON as the last stdout line, or the human rendering. */
export function report(result: object, options: ReportOptions, human: () => string): void {
  if (options.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else process.stdout.write(`${human()}\n`);
}

/** A plain text table: columns padded to their widest cell. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(cells[0]!), line(widths.map((w) => '-'.repeat(w))), ...cells.slice(1).map(line)].join('\n');
}

/** Progress for long runs: a redrawn bar on a TTY, a plain line every `every` items otherwise. */
export class Progress {
  private last = 0;
  constructor(
    private readonly total: number,
    private readonly label: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly every = 100,
  ) {}

  update(done: number, detail = ''): void {
    if (this.stream.isTTY) {
      const width = 30;
      const filled = this.total > 0 ? Math.round((done / this.total) * width) : 0;
      this.stream.write(`\r${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${this.total} ${detail}`.padEnd(80));
      if (done >= this.total) this.stream.write('\n');
    } else if (done - this.last >= this.every || done >= this.total) {
      this.last = done;
      this.stream.write(`${this.label}: ${done}/${this.total} ${detail}\n`);
    }
  }
}

/** A failure a person can act on: the message, then exit code 2 for bad input, 1 otherwise. */
export function fail(err: unknown, options: ReportOptions = {}): never {
  const code = err instanceof ConfigError || (err as { exitCode?: number }).exitCode === 2 ? 2 : 1;
  const message = (err as Error).message ?? String(err);
  if (options.json) process.stdout.write(`${JSON.stringify({ ok: false, error: message })}\n`);
  process.stderr.write(`error: ${message}\n`);
  process.exit(code);
}

/** Bad input from the command line (exit code 2), naming what was wrong. */
export class UsageError extends Error {
  readonly exitCode = 2;
}
