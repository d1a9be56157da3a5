#!/usr/bin/env node
/**
 * `switchboard`: one CLI for people and scripts. Each command lives in its own module and
 * registers itself here; this file only wires them together.
 *
 * Only the module of the command being run is loaded (all of them for the top-level help or an
 * unknown command), so `switchboard token` does not pay for the agents framework, the Twilio
 * SDK and the simulator. The framework's logger is set up only for the commands that run agent
 * code. Usage and parse errors exit 2, like bad settings; other failures exit 1.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { readEnv, useEnvFile } from '../config.js';

export type Register = (program: Command) => void;

interface CommandModule {
  /** Module under src/cli/. */
  module: string;
  /** Runs agent code, so the framework's (global) logger must exist first. */
  framework?: boolean;
}

/** Top-level command name → the modules that register it. */
const COMMANDS: Record<string, CommandModule[]> = {
  simulate: [{ module: 'simulate', framework: true }],
  sandbox: [{ module: 'sandbox', framework: true }],
  setup: [{ module: 'setupSip' }, { module: 'setupTwilio' }, { module: 'setupTelnyx' }],
  token: [{ module: 'token' }],
  playground: [{ module: 'playground' }],
  call: [{ module: 'call' }],
  calls: [{ module: 'calls' }],
  campaign: [{ module: 'campaign' }],
  // The real stack on loopback runs the production worker and the provider emulators.
  stack: [{ module: 'stack', framework: true }],
  db: [{ module: 'db' }],
  webhooks: [{ module: 'webhooks' }],
  report: [{ module: 'report' }],
  messages: [{ module: 'messages' }],
  purge: [{ module: 'purge' }],
};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** The command the arguments name (the first word that is not an option or an option's value). */
function commandName(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--env-file') i++;
    else if (!a.startsWith('-')) return a;
  }
  return undefined;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const program = new Command()
    .name('switchboard')
    .description('Telephony voice agents on LiveKit SIP: hotline, outbound campaigns, browser testing.')
    .version(version(), '-V, --version', 'print the version')
    .option('--env-file <path>', 'read settings from this file instead of ./.env (real environment variables still win)')
    .showHelpAfterError()
    // Exit codes are ours: 2 for usage and parse errors, 0 for --help and --version.
    .exitOverride();
  program.hook('preAction', () => {
    const file = program.opts<{ envFile?: string }>().envFile;
    if (file !== undefined) useEnvFile(file);
  });

  const named = commandName(args);
  const wanted = named !== undefined && COMMANDS[named] ? COMMANDS[named] : Object.values(COMMANDS).flat();
  if (wanted.some((c) => c.framework)) {
    const { initializeLogger } = await import('@livekit/agents');
    const envFile = envFileArg(args);
    const level = process.env.LOG_LEVEL ?? readEnv(envFile ?? '.env').LOG_LEVEL ?? 'warn';
    initializeLogger({ pretty: process.stderr.isTTY === true, level });
    const { redactFrameworkLogs } = await import('../privacy/logRedaction.js');
    redactFrameworkLogs();
  }
  for (const c of wanted) {
    const mod = (await import(`./${c.module}.js`)) as { register: Register };
    mod.register(program);
  }
  // Subcommands exit through the same override (commander copies it only to commands made after).
  const override = (cmd: Command) => {
    cmd.exitOverride();
    cmd.commands.forEach(override);
  };
  program.commands.forEach(override);
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    // Help and version print and succeed; everything else commander rejects (an unknown command
    // or option, a missing argument, no command at all) is bad usage. Commander printed why.
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
    // A bad --env-file (ConfigError) and other bad input found before the command ran.
    const code = (err as { exitCode?: number }).exitCode === 2 ? 2 : 1;
    process.stderr.write(`error: ${(err as Error).message}\n`);
    process.exit(code);
  }
}

/** `--env-file <path>` as given, for what must be read before commander parses (the log level). */
function envFileArg(args: string[]): string | undefined {
  const i = args.indexOf('--env-file');
  if (i >= 0) return args[i + 1];
  return args.find((a) => a.startsWith('--env-file='))?.slice('--env-file='.length);
}

void main();
