/**
 * `switchboard sandbox`: the outside world on loopback, until stopped. LiveKit's server API (on
 * 7880, so the CLI's defaults already point at it), OpenAI, Deepgram and Cartesia emulators; every
 * outbound dispatch becomes a simulated call whose SIP outcome is the one the emulator plays for
 * that number. A whole campaign runs offline: `campaign run` in one terminal, this in another.
 */
import { readFileSync } from 'node:fs';
import { type VAD, log } from '@livekit/agents';
import type { Command } from 'commander';
import { z } from 'zod';
import { MetadataError, parseJobMetadata } from '../call/jobMetadata.js';
import { type Config, loadConfig, readEnv, storeTarget } from '../config.js';
import { loadPriceTable } from '../cost/index.js';
import type { OutcomeInput } from '../sandbox/livekitApi.js';
import { Sandbox } from '../sandbox/sandbox.js';
import { loadVad } from '../session/sessionFactory.js';
import { dispatchedScenario } from '../simulate/dispatchedCall.js';
import { simulateCall } from '../simulate/simulatedCall.js';
import { type Store, openStore } from '../store/index.js';
import { UsageError, fail, report } from './output.js';
import { untilStopped } from './untilStopped.js';

const OUTCOME_KINDS = ['answer', 'voicemail', 'busy', 'no_answer', 'rejected', 'invalid', 'timeout', 'error'] as const;
const OutcomesFile = z.record(z.string().regex(/^\+[1-9]\d{6,14}$/, 'keys must be E.164 numbers'), z.enum(OUTCOME_KINDS));

export interface SandboxServiceOptions {
  livekitPort?: number;
  storePath?: string;
  outcomes?: Record<string, OutcomeInput>;
  defaultOutcome?: (typeof OUTCOME_KINDS)[number];
  speed?: number;
  msPerChar?: number;
  onCall?: (line: { room: string; number: string; outcome: string; result: unknown }) => void;
}

export interface SandboxService {
  sandbox: Sandbox;
  env: Record<string, string>;
  /** Resolves when every dispatched call so far has finished. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export async function startSandboxService(opts: SandboxServiceOptions = {}): Promise<SandboxService> {
  const port = opts.livekitPort ?? 7880;
  const sandbox = await Sandbox.start({
    msPerChar: opts.msPerChar,
    ports: { livekit: port, openai: port ? port + 10 : 0, deepgram: port ? port + 11 : 0, cartesia: port ? port + 12 : 0 },
  });
  for (const [n, o] of Object.entries(opts.outcomes ?? {})) sandbox.livekit.setOutcome(n, o);
  if (opts.defaultOutcome) sandbox.livekit.setDefaultOutcome(opts.defaultOutcome);
  const env = { ...sandbox.env(), ...(opts.storePath ? { STORE_URL: `sqlite:${opts.storePath}` } : {}) };
  const config: Config = loadConfig({ ...readEnv(), ...env });
  const store: Store = await openStore(storeTarget(config));
  const vad: VAD = await loadVad();
  const prices = loadPriceTable(config.PRICES_FILE);
  const running = new Set<Promise<unknown>>();

  const offDispatch = sandbox.livekit.onDispatch((ev) => {
    let job;
    try {
      job = parseJobMetadata(ev.metadata);
    } catch (err) {
      log().warn({ room: ev.room, error: (err as MetadataError).message }, 'sandbox: dispatch with bad metadata ignored');
      return;
    }
    if (job.kind !== 'outbound') return; // inbound calls come from `switchboard simulate`
    const scenario = dispatchedScenario(job, sandbox.livekit.outcomeFor(job.phoneNumber));
    const call = simulateCall(scenario, { sandbox, config, store, vad, prices }, {
      speed: opts.speed ?? 1,
      job: { room: ev.room, campaignId: job.campaignId, contactId: job.contactId, appointmentId: job.contact.appointmentId },
    })
      .then((r) => opts.onCall?.({ room: ev.room, number: job.phoneNumber, outcome: r.outcome?.kind ?? 'unknown', result: r.record.result }))
      .catch((err) => log().error({ room: ev.room, error: (err as Error).message }, 'sandbox: simulated call failed'))
      .finally(() => running.delete(call));
    running.add(call);
  });

  return {
    sandbox,
    env,
    idle: async () => {
      while (running.size > 0) await Promise.allSettled([...running]);
    },
    close: async () => {
      offDispatch();
      await Promise.allSettled([...running]);
      await sandbox.close();
      await store.close();
    },
  };
}

function readOutcomes(file: string | undefined): Record<string, OutcomeInput> {
  if (!file) return {};
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`--outcomes ${file}: ${(err as Error).message}`);
  }
  const parsed = OutcomesFile.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new UsageError(`--outcomes ${file}: ${i.path.join('.') || '(top level)'}: ${i.message} (outcomes: ${OUTCOME_KINDS.join(', ')})`);
  }
  return parsed.data;
}

interface Options {
  port: string;
  outcomes?: string;
  defaultOutcome: string;
  speed: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('sandbox')
    .description('Run LiveKit API and provider emulators on loopback until stopped; outbound dispatches become simulated calls')
    .option('--port <n>', 'LiveKit API port (providers use port+10..12)', '7880')
    .option('--outcomes <file>', 'JSON {"+15551234567": "busy", …}: how each number answers')
    .option('--default-outcome <kind>', `how other numbers answer (${OUTCOME_KINDS.join(', ')})`, 'answer')
    .option('--speed <n>', 'agent audio playback speed for simulated calls', '1')
    .option('--json', 'print the environment as one JSON object once ready')
    .action(async (opts: Options) => {
      try {
        const port = Number(opts.port);
        if (!Number.isInteger(port) || port < 0 || port > 65525) throw new UsageError(`--port must be a port number (got ${opts.port})`);
        if (!(OUTCOME_KINDS as readonly string[]).includes(opts.defaultOutcome)) {
          throw new UsageError(`--default-outcome must be one of ${OUTCOME_KINDS.join(', ')} (got ${opts.defaultOutcome})`);
        }
        const service = await startSandboxService({
          livekitPort: port,
          outcomes: readOutcomes(opts.outcomes),
          defaultOutcome: opts.defaultOutcome as SandboxServiceOptions['defaultOutcome'],
          speed: Number(opts.speed),
          onCall: (c) => process.stderr.write(`call ${c.room} to ${c.number}: ${c.outcome}${c.result ? ` ${JSON.stringify(c.result)}` : ''}\n`),
        });
        const lines = Object.entries(service.env).map(([k, v]) => `${k}=${v}`);
        report({ ok: true, env: service.env }, opts, () =>
          ['Sandbox running. These settings point the worker and the CLI at it (no real keys involved):', '', ...lines, '', 'Stop with Ctrl-C.'].join('\n'),
        );
        untilStopped(() => service.close());
      } catch (err) {
        fail(err, opts);
      }
    });
}
