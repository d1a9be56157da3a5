/**
 * What the `setup …` commands share: the `setup` parent command, and how a provisioning result
 * is shown — including a run that failed halfway, which still lists what it did and did not do.
 */
import type { Command } from 'commander';
import { loadConfig, type Config } from '../config.js';
import { ProvisionError, type ProvisionResult } from '../provision/plan.js';
import { fail, report, table } from './output.js';

/** The `setup` command, created by whichever setup module registers first. */
export function setupCommand(program: Command): Command {
  const existing = program.commands.find((c) => c.name() === 'setup');
  if (existing) return existing;
  return program
    .command('setup')
    .description('create or update telephony resources (idempotent: found by name, a second run changes nothing)');
}

export function renderProvision(result: ProvisionResult, title: string): string {
  const lines: string[] = [];
  const mode = result.dryRun ? ' — dry run, nothing was changed' : '';
  lines.push(`${title} (${result.target})${mode}`, '');
  lines.push(
    table(
      ['STEP', 'NAME', 'RESULT', 'ID', 'NOTE'],
      result.steps.map((s) => [
        s.step,
        s.name,
        s.changes && s.changes.length > 0 ? `${s.status} (${s.changes.join(', ')})` : s.status,
        s.id ?? '',
        s.error ? 'see the error below' : s.note ?? '',
      ]),
    ),
  );
  if (result.dryRun) {
    lines.push('', `Requests that would be sent (${result.requests.length}; secrets redacted):`, JSON.stringify(result.requests, null, 2));
  } else if (result.requests.length > 0) {
    lines.push('', `Changing requests sent: ${result.requests.map((r) => r.call).join('; ')}`);
  }
  const outputs = Object.entries(result.outputs);
  if (outputs.length > 0) lines.push('', ...outputs.map(([k, v]) => `${k}=${v}`));
  if (result.next.length > 0) lines.push('', 'Next:', ...result.next.map((n) => `  - ${n}`));
  return lines.join('\n');
}

/** Loads config, runs `work`, and reports; exits 2 on bad input, 1 on other failures. */
export async function runProvision(
  options: { json?: boolean },
  title: string,
  work: (config: Config) => Promise<ProvisionResult>,
): Promise<void> {
  try {
    const result = await work(loadConfig());
    report(result, options, () => renderProvision(result, title));
  } catch (err) {
    if (err instanceof ProvisionError) {
      // Half-done runs say exactly what exists now: the table (or JSON) first, then the error.
      report(err.result, options, () => renderProvision(err.result, title));
      process.stderr.write(`error: ${err.message}\n`);
      process.exit(err.exitCode);
    }
    // Bad settings (ConfigError, exit 2) are found before any request is sent.
    fail(err, options);
  }
}
