#!/usr/bin/env node
/**
 * `switchboard`: one CLI for people and scripts. Each command lives in its own module and
 * registers itself here; this file only wires them together.
 */
import { initializeLogger } from '@livekit/agents';
import { Command } from 'commander';
import { redactFrameworkLogs } from '../privacy/logRedaction.js';

export type Register = (program: Command) => void;

const COMMANDS: string[] = ['simulate', 'sandbox', 'setupSip', 'setupTwilio', 'token', 'call', 'campaign', 'messages', 'purge'];

async function main(): Promise<void> {
  // The framework's logger is global and must exist before any agent code runs.
  initializeLogger({ pretty: process.stderr.isTTY === true, level: process.env.LOG_LEVEL ?? 'warn' });
  redactFrameworkLogs();
  const program = new Command()
    .name('switchboard')
    .description('Telephony voice agents on LiveKit SIP: hotline, outbound campaigns, browser testing.')
    .showHelpAfterError();
  for (const name of COMMANDS) {
    const mod = (await import(`./${name}.js`)) as { register: Register };
    mod.register(program);
  }
  await program.parseAsync(process.argv);
}

void main();
