/**
 * `switchboard setup telnyx [--dry-run] [--update-password] [--json]`: the Telnyx outbound voice
 * profile, FQDN connection (to LiveKit) and number assignments, created or updated by name.
 * Logic in provision/telnyx.ts, loaded only when the command runs.
 */
import type { Command } from 'commander';
import { runProvision, setupCommand } from './setupCommon.js';

export function register(program: Command): void {
  setupCommand(program)
    .command('telnyx')
    .description(
      'create or update on Telnyx: an outbound voice profile and an FQDN connection named SIP_TRUNK_NAME that sends calls to LIVEKIT_SIP_URI ' +
        '(outbound by SIP_OUTBOUND_USERNAME/PASSWORD, or by IP with TELNYX_AUTH=ip; G.722 first with SIP_WIDEBAND=true), and the numbers assigned to it',
    )
    .option('--dry-run', 'read the current state and print the changing requests as JSON, without sending them')
    .option('--update-password', "also set the connection's password from SIP_OUTBOUND_PASSWORD (Telnyx never returns it to compare)")
    .option('--json', 'print one JSON object as the last line')
    .action(async (opts: { dryRun?: boolean; updatePassword?: boolean; json?: boolean }) => {
      await runProvision(opts, 'Telnyx SIP connection setup', async (config) => {
        const { setupTelnyx } = await import('../provision/telnyx.js');
        return setupTelnyx(config, { dryRun: opts.dryRun ?? false, updatePassword: opts.updatePassword ?? false });
      });
    });
}
