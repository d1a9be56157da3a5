/**
 * `switchboard token [--room R] [--identity I] [--ttl 15m] [--json]`: a short-lived join token
 * that dispatches our agent, for testing from a browser without a phone.
 */
import type { Command } from 'commander';
import { loadConfig } from '../config.js';
import { mintJoinToken, parseTtl } from '../livekit/joinToken.js';
import { UsageError, fail, report } from './output.js';

export const PLAYGROUND_URL = 'https://agents-playground.livekit.io';

export function register(program: Command): void {
  program
    .command('token')
    .description('mint a short-lived join token (room join, publish, subscribe, data; no admin) whose room config dispatches AGENT_NAME')
    .option('--room <name>', 'room to join (default: a new <ROOM_PREFIX>_browser_<random> room — the agent is dispatched only when the token creates the room)')
    .option('--identity <identity>', 'participant identity (default: tester_<random>)')
    .option('--ttl <duration>', 'how long the token is valid: 15m, 1h, 90s or seconds; at most 24h', '15m')
    .option('--json', 'print one JSON object as the last line')
    .action(async (opts: { room?: string; identity?: string; ttl: string; json?: boolean }) => {
      try {
        const ttlSeconds = parseTtl(opts.ttl);
        if (ttlSeconds === undefined) {
          throw new UsageError(`--ttl: ${JSON.stringify(opts.ttl)} is not a duration between 10s and 24h — write e.g. 15m, 1h, 90s or 900`);
        }
        for (const [flag, value] of [['--room', opts.room], ['--identity', opts.identity]] as const) {
          if (value !== undefined && !/^[A-Za-z0-9_.:@+-]{1,128}$/.test(value)) {
            throw new UsageError(`${flag}: ${JSON.stringify(value)} — use 1-128 letters, digits and _ . : @ + - (no spaces)`);
          }
        }
        const config = loadConfig();
        const t = await mintJoinToken({
          apiKey: config.LIVEKIT_API_KEY,
          apiSecret: config.LIVEKIT_API_SECRET,
          agentName: config.AGENT_NAME,
          roomPrefix: config.ROOM_PREFIX,
          ttlSeconds,
          ...(opts.room ? { room: opts.room } : {}),
          ...(opts.identity ? { identity: opts.identity } : {}),
        });
        const result = { ok: true, url: config.LIVEKIT_URL, ...t, playground: PLAYGROUND_URL };
        report(result, opts, () =>
          [
            `LiveKit URL  ${result.url}`,
            `Room         ${t.room}`,
            `Identity     ${t.identity}`,
            `Agent        ${t.agentName} (dispatched when this token's join creates the room)`,
            `Expires      ${t.expiresAt} (${opts.ttl})`,
            '',
            'Token:',
            t.token,
            '',
            `Test from a browser: open ${PLAYGROUND_URL}, choose the manual connection, and paste the URL and token above.`,
            'The worker must be running (npm run dev, or npm start). A room that already exists keeps its config, so use a new room each time.',
          ].join('\n'),
        );
      } catch (err) {
        fail(err, opts);
      }
    });
}
