/**
 * `switchboard playground [--port 8089] [--host 127.0.0.1] [--livekit-url URL] [--json]`: a local
 * web page that calls the agent from the browser (src/playground/). Runs until Ctrl-C; with
 * `--json`, prints `{ ok, url, livekitUrl }` once it listens.
 */
import type { Command } from 'commander';
import { loadConfig } from '../config.js';
import { startPlayground } from '../playground/server.js';
import { UsageError, fail, report } from './output.js';
import { untilStopped } from './untilStopped.js';

interface Flags {
  port: string;
  host: string;
  livekitUrl?: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('playground')
    .description('serve a local web page that calls the agent from your browser: microphone, agent audio, live transcript, turn latency')
    .option('--port <n>', 'port to listen on (0: any free port)', '8089')
    .option('--host <addr>', 'address to listen on; the page hands out join tokens, so keep it on loopback unless you mean it', '127.0.0.1')
    .option('--livekit-url <url>', 'LiveKit URL the browser connects to (default LIVEKIT_URL)')
    .option('--json', 'print one JSON object once it listens')
    .action(async (opts: Flags) => {
      try {
        const port = Number(opts.port);
        if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new UsageError(`--port: ${JSON.stringify(opts.port)} is not a port (0-65535)`);
        const config = loadConfig();
        const livekitUrl = opts.livekitUrl ?? config.LIVEKIT_URL;
        if (!/^(wss?|https?):\/\//.test(livekitUrl)) throw new UsageError(`--livekit-url: ${JSON.stringify(livekitUrl)} is not a ws://, wss://, http:// or https:// URL`);
        const pg = await startPlayground({
          livekitUrl,
          apiKey: config.LIVEKIT_API_KEY,
          apiSecret: config.LIVEKIT_API_SECRET,
          agentName: config.AGENT_NAME,
          roomPrefix: config.ROOM_PREFIX,
          host: opts.host,
          port,
        });
        untilStopped(pg.close);
        report({ ok: true, url: pg.url, livekitUrl, agentName: config.AGENT_NAME }, opts, () =>
          [
            `Playground   ${pg.url}`,
            `LiveKit URL  ${livekitUrl}`,
            `Agent        ${config.AGENT_NAME} (dispatched to a new room at each call)`,
            '',
            'Open the page, press "Call the agent" and allow the microphone. The worker must be running. Ctrl-C stops.',
          ].join('\n'),
        );
      } catch (err) {
        fail(err, opts);
      }
    });
}
