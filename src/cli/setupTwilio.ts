/**
 * `switchboard setup twilio [--dry-run] [--update-password] [--json]`: the Twilio Elastic SIP
 * trunk (origination to LiveKit, termination credentials, phone numbers), created where missing,
 * found by name. Logic in provision/twilio.ts, loaded only when the command runs (the SDK is large).
 */
import type { Command } from 'commander';
import { runProvision, setupCommand } from './setupCommon.js';

export function register(program: Command): void {
  setupCommand(program)
    .command('twilio')
    .description(
      'create what is missing on Twilio: an Elastic SIP trunk named SIP_TRUNK_NAME whose origination URI is LIVEKIT_SIP_URI, ' +
        'a termination credential list from SIP_OUTBOUND_USERNAME/PASSWORD, and the numbers attached',
    )
    .option('--dry-run', 'read the current state and print the changing requests as JSON, without sending them')
    .option('--update-password', 'also set an existing credential\'s password from SIP_OUTBOUND_PASSWORD (Twilio never returns it to compare)')
    .option('--json', 'print one JSON object as the last line')
    .action(async (opts: { dryRun?: boolean; updatePassword?: boolean; json?: boolean }) => {
      await runProvision(opts, 'Twilio Elastic SIP trunk setup', async (config) => {
        const { setupTwilio } = await import('../provision/twilio.js');
        return setupTwilio(config, { dryRun: opts.dryRun ?? false, updatePassword: opts.updatePassword ?? false });
      });
    });
}
