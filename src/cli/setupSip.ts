/**
 * `switchboard setup sip [--dry-run] [--json]`: the LiveKit inbound trunk, outbound trunk and
 * dispatch rule, created or updated by name. Logic in provision/livekitSip.ts, loaded when it runs.
 */
import type { Command } from 'commander';
import { runProvision, setupCommand } from './setupCommon.js';

export function register(program: Command): void {
  setupCommand(program)
    .command('sip')
    .description(
      'create or update the LiveKit SIP inbound trunk, outbound trunk and dispatch rule (by name) from SIP_* settings; ' +
        'prints the outbound trunk id SIP_OUTBOUND_TRUNK_ID must be set to',
    )
    .option('--dry-run', 'read the current state and print the changing requests as JSON, without sending them')
    .option('--json', 'print one JSON object as the last line')
    .action(async (opts: { dryRun?: boolean; json?: boolean }) => {
      await runProvision(opts, 'LiveKit SIP setup', async (config) => {
        const { setupLiveKitSip } = await import('../provision/livekitSip.js');
        return setupLiveKitSip(config, { dryRun: opts.dryRun ?? false });
      });
    });
}
