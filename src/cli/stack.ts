/**
 * `switchboard stack`: the real LiveKit server, LiveKit SIP, Redis, the provider emulators and the
 * worker on loopback, until stopped (src/stack/). Point a softphone at the SIP URI it prints, or
 * the CLI at its environment; the e2e suite starts the same stack.
 */
import type { Command } from 'commander';
import { LiveStack } from '../stack/stack.js';
import { fail, report } from './output.js';
import { untilStopped } from './untilStopped.js';

interface Options {
  dir?: string;
  randomPorts?: boolean;
  worker: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('stack')
    .description('Run the real LiveKit server, LiveKit SIP, Redis, the provider emulators and the worker on loopback until stopped')
    .option('--dir <path>', 'folder for configs, logs, the store and recordings (default: a new temporary folder)')
    .option('--random-ports', 'free ports instead of the usual ones (7880 LiveKit, 5060 SIP)')
    .option('--no-worker', 'leave the worker out (run your own against the printed environment)')
    .option('--json', 'print the stack as one JSON object once ready')
    .action(async (opts: Options) => {
      try {
        const stack = await LiveStack.start({
          dir: opts.dir,
          ports: opts.randomPorts ? 'random' : 'fixed',
          worker: opts.worker,
          log: (line) => process.stderr.write(`${line}\n`),
        });
        const env = stack.env;
        report({ ok: true, sipUri: stack.sipUri, dir: stack.dir, env }, opts, () =>
          [
            'Stack running on loopback.',
            '',
            `  call the agent:   ${stack.sipUri}   (any softphone, UDP, no registration)`,
            `  LiveKit:          ${env.LIVEKIT_URL}   (browser: switchboard token, with the settings below)`,
            `  logs, store:      ${stack.dir}`,
            '',
            'These settings point the CLI at it (the key pair is made for this run only):',
            '',
            ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
            '',
            'Stop with Ctrl-C.',
          ].join('\n'),
        );
        untilStopped(() => stack.close());
      } catch (err) {
        fail(err, opts);
      }
    });
}
