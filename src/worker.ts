/**
 * Worker entry: registers with LiveKit under AGENT_NAME and turns each dispatched job into a call.
 *
 * This file only adapts a LiveKit job to the call lifecycle: it finds the participant, decides
 * phone or browser, and hands `runCall` a room-backed `CallIo`. How a call ends lives in
 * `call/callLifecycle.ts`, not here.
 */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { AutoSubscribe, type JobContext, type JobProcess, ServerOptions, type VAD, cli, defineAgent, initializeLogger, log, workflows } from '@livekit/agents';
import {
  AudioStream,
  ParticipantKind,
  type RemoteParticipant,
  type RemoteTrack,
  RoomEvent,
  TrackKind,
} from '@livekit/rtc-node';
import { SipClient } from 'livekit-server-sdk';
import { type CallIo, abortCall, runCall } from './call/callLifecycle.js';
import { type CallSetup, callSetupFor } from './call/callSetup.js';
import type { WarmTransferRequest } from './call/transfer.js';
import { DTMF_KEYS } from './telephony/dtmfKeys.js';
import { MetadataError, parseJobMetadata } from './call/jobMetadata.js';
import { apiUrl, livekitRoomApi } from './livekit/roomApi.js';
import { type Config, ConfigError, drainMs, loadConfig, readEnv, workerId } from './config.js';
import { PriceTableError, loadPriceTable } from './cost/index.js';
import { PROFILE_RATES, isPhoneProfile, phoneProfile } from './session/providers.js';
import { loadVad, roomIoOptions } from './session/sessionFactory.js';
import type { Store } from './store/index.js';
import { openCallStore, replayJournal } from './call/callStore.js';
import { RoomJanitor } from './call/roomJanitor.js';
import { startWebhookDelivery } from './webhook/service.js';
import { waitForLiveKit } from './livekit/waitForServer.js';
import { warmTransferUnavailable } from './livekit/serverFeatures.js';
import { callerIdNumber } from './telephony/phoneNumber.js';
import { configWarnings } from './configWarnings.js';
import { joinOrEnd } from './call/joinRoom.js';
import { endLostCall } from './call/lostCall.js';
import { endOrphanedCalls } from './call/orphanSweep.js';
import { HostPool } from './host/hostPool.js';
import { sharedExecutorFactory } from './host/sharedJobExecutor.js';
import { onShutdownRequest } from './host/shutdownRequest.js';
import { buildVersion } from './observe/buildVersion.js';
import { processMetrics } from './observe/metrics.js';
import { metricsRoute, startMetricsServer } from './observe/metricsServer.js';
import { installTracing } from './observe/tracing.js';
import { redactFrameworkLogs } from './privacy/logRedaction.js';

interface ProcData extends Record<string, unknown> {
  vad: VAD;
}

async function entry(ctx: JobContext<ProcData>): Promise<void> {
  const config = loadConfig();
  const roomApi = livekitRoomApi(config);
  const callId = `call_${randomUUID()}`;
  const room = ctx.job.room?.name ?? ctx.room.name ?? '';
  let store: Store;
  try {
    store = await openCallStore(config);
  } catch (err) {
    // No store, no call: hang up (delete the room) rather than leave the caller in silence.
    log().error({ room, error: (err as Error).message }, 'the store cannot be opened; ending the call');
    await new RoomJanitor(roomApi, room).deleteOnce();
    ctx.shutdown('store unavailable');
    return;
  }
  const shutdown = new AbortController();
  let callDone: Promise<unknown> = Promise.resolve();
  // Worker shutdown (SIGTERM after the drain timeout, the worker gone, a job kill): wrap up with a
  // goodbye, then delete the room. The request comes while the session still runs; the shutdown
  // callback is the framework's last word, after it has closed the session.
  const stopListening = onShutdownRequest(ctx, () => void shutdownUnlessRoomGoes(ctx).then((ours) => ours && shutdown.abort()));
  ctx.addShutdownCallback(async () => {
    shutdown.abort();
    await callDone;
  });

  try {
    let meta;
    try {
      meta = parseJobMetadata(ctx.job.metadata);
    } catch (err) {
      if (!(err instanceof MetadataError)) throw err;
      await abortCall({ callId, room, direction: 'outbound', callerNumber: null }, { store, roomApi }, err.message);
      return;
    }
    const deps = { config, store, vad: ctx.proc.userData.vad, roomApi, prices: loadPriceTable(config.PRICES_FILE) };
    const join = () => ctx.connect(undefined, AutoSubscribe.AUDIO_ONLY);
    let setup: CallSetup;
    let identity: string;

    if (meta.kind === 'outbound') {
      // A dispatch delivered twice (or re-sent by a recovering dispatcher) must not dial twice.
      if (await store.calls.findByRoom(room)) {
        log().warn({ room }, 'this room already has a call record; not dialling again');
        return;
      }
      try {
        setup = callSetupFor({ callId, room }, { ...meta, profile: phoneProfile(config) }, config);
      } catch (err) {
        await abortCall({ callId, room, direction: 'outbound', callerNumber: meta.phoneNumber, campaignId: meta.campaignId, contactId: meta.contactId }, { store, roomApi }, (err as Error).message);
        return;
      }
      identity = setup.dial!.participantIdentity;
      if (!(await joinOrEnd(join, setup, deps))) return;
    } else {
      // Who called is known only inside the room; until then the record is an inbound call.
      const unknown = { callId, room, direction: 'inbound' as const, callerNumber: null };
      if (!(await joinOrEnd(join, unknown, deps))) return;
      const participant = await ctx.waitForParticipant();
      const isPhone = participant.kind === ParticipantKind.SIP;
      identity = participant.identity;
      const party = isPhone
        ? { kind: 'inbound' as const, profile: phoneProfile(config), callerNumber: callerIdNumber(participant.attributes['sip.phoneNumber'], config.DEFAULT_REGION) }
        : { kind: 'browser' as const };
      setup = callSetupFor({ callId, room }, party, config);
    }

    const sip = new SipClient(apiUrl(config.LIVEKIT_URL), config.LIVEKIT_API_KEY, config.LIVEKIT_API_SECRET);
    callDone = runCall(setup, { ...deps, sip }, {
      start: async (session, agent) => {
        await ctx.waitForParticipant(identity);
        // A dialled leg joins the room before it rings and leaves at once when the line is busy;
        // a session started on a leg that is already gone never closes.
        if (setup.dial) await callReachesPhone(ctx, identity);
        await session.start({ agent, room: ctx.room, ...roomIoOptions(setup.profile, identity, config.INPUT_FRAME_MS) });
      },
      hungUp: participantLeft(ctx, identity),
      shutdown: shutdown.signal,
      onCallerAudio: (listener) => streamCallerAudio(ctx, identity, PROFILE_RATES[setup.profile].room, listener),
      // A browser participant has no SIP leg: no transfers, no keypad.
      ...(isPhoneProfile(setup.profile) ? phoneControls(ctx, config, sip, room, identity, shutdown.signal) : {}),
    });
    const result = (await callDone) as Awaited<ReturnType<typeof runCall>>;
    log().info({ callId, room, outcome: result.record.outcome?.kind, roomDeleted: result.roomDeleted }, 'call ended');
  } finally {
    stopListening();
    await store.close();
    ctx.shutdown('call ended');
  }
}

/**
 * Call control on a real SIP leg: transfers through LiveKit's SIP API, keypad tones as room events.
 * LiveKit SIP turns the caller's RFC 4733 key presses into `DtmfReceived` data packets and plays
 * the tones we publish to the caller's side, so neither direction goes through the audio.
 */
export function phoneControls(
  ctx: Pick<JobContext<ProcData>, 'room'>,
  config: Config,
  sip: SipClient,
  room: string,
  identity: string,
  shutdown: AbortSignal,
): Pick<CallIo, 'transfer' | 'warmTransfer' | 'warmUnavailable' | 'onDtmf' | 'publishDtmf'> {
  return {
    // playDialtone: the caller hears ringing while the destination rings, not dead air.
    transfer: (to, { ringSeconds, headers }) =>
      sip.transferSipParticipant(room, identity, to, { playDialtone: true, ringingTimeout: ringSeconds, ...(headers ? { headers } : {}) }),
    // The framework's warm transfer dials on the outbound trunk; without one there is nothing to dial.
    ...(config.TRANSFER_MODE === 'warm' && config.SIP_OUTBOUND_TRUNK_ID
      ? { warmTransfer: (r: WarmTransferRequest) => warmTransfer(config, r, shutdown), warmUnavailable: () => warmTransferUnavailable(config) }
      : {}),
    onDtmf: (listener) => {
      ctx.room.on(RoomEvent.DtmfReceived, (code, digit, participant) => {
        // Only the caller's keys: a second SIP participant (a person joined by a warm transfer)
        // pressing keys is not talking to the agent.
        if (participant?.identity !== identity) return;
        const key = digit || DTMF_KEYS[code];
        if (key) listener(key);
      });
    },
    publishDtmf: async (code, key) => {
      const local = ctx.room.localParticipant;
      if (!local) throw new Error('not connected to the room');
      await local.publishDtmf(code, key);
    },
  };
}

/**
 * The framework's WarmTransferTask: dials the person into a side room on the outbound trunk (the
 * caller hears hold music meanwhile), briefs them from the conversation, and moves them into the
 * caller's room once they agree. Rejects (a ToolError) when nobody answers, they decline, or the
 * caller hangs up. Must run inside the transfer tool, which is where the lifecycle calls it from.
 */
/** How long a warm transfer may take once the person has answered (briefing them and merging). */
const WARM_CONSULT_SECONDS = 120;

async function warmTransfer(config: Config, r: WarmTransferRequest, shutdown: AbortSignal): Promise<void> {
  const task = workflows.createWarmTransferTask({
    sipCallTo: r.number,
    sipTrunkId: config.SIP_OUTBOUND_TRUNK_ID!,
    ...(config.CALLER_ID ? { sipNumber: config.CALLER_ID } : {}),
    ringingTimeout: r.ringSeconds * 1000,
    chatCtx: r.history,
    ...(r.reason ? { instructions: { extra: `The assistant noted why the caller needs a person: ${r.reason}` } } : {}),
    // A consultation that never merges (the person keeps talking, the merge keeps failing) must
    // not keep the caller on hold for good: past the deadline the task ends, and the desk falls back.
    abortSignal: AbortSignal.any([shutdown, AbortSignal.timeout((r.ringSeconds + WARM_CONSULT_SECONDS) * 1000)]),
  });
  await task.run();
}

/** Resolves once a dialled leg rings or is answered (sip.callStatus); rejects if it leaves first. */
function callReachesPhone(ctx: JobContext<ProcData>, identity: string): Promise<void> {
  const reached = () => ['ringing', 'active'].includes(ctx.room.remoteParticipants.get(identity)?.attributes['sip.callStatus'] ?? '');
  if (reached()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = () => {
      ctx.room.off(RoomEvent.ParticipantAttributesChanged, onChange);
      ctx.room.off(RoomEvent.ParticipantDisconnected, onLeft);
    };
    const onChange = () => {
      if (!reached()) return;
      done();
      resolve();
    };
    const onLeft = (p: RemoteParticipant) => {
      if (p.identity !== identity) return;
      done();
      reject(new Error('the dialled leg left before it rang'));
    };
    ctx.room.on(RoomEvent.ParticipantAttributesChanged, onChange);
    ctx.room.on(RoomEvent.ParticipantDisconnected, onLeft);
  });
}

const ROOM_CLOSE_GRACE_MS = 1000;

/**
 * Whether a shutdown request is really the worker's. LiveKit ends a job whose room closed (the
 * server closes a call's room the moment the SIP caller leaves) through the same executor close as
 * a worker shutdown, and that request can come before the room's own disconnect event: a caller
 * who hung up was then recorded as `shutdown` (seen on the real stack). A room that goes within a
 * moment of the request was the caller's doing; its disconnect ends the call as a hang-up.
 */
export function shutdownUnlessRoomGoes(ctx: Pick<JobContext<ProcData>, 'room'>): Promise<boolean> {
  // Not in the room (yet, or any more): nothing to wait for. A room already gone has ended the
  // call as a hang-up by now (the first reason wins), and a job not yet joined must hear it.
  if (!ctx.room.isConnected) return Promise.resolve(true);
  return new Promise((resolve) => {
    const gone = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      ctx.room.off(RoomEvent.Disconnected, gone);
      resolve(true);
    }, ROOM_CLOSE_GRACE_MS);
    ctx.room.once(RoomEvent.Disconnected, gone);
  });
}

/** Resolves when the caller leaves or the room connection drops. */
function participantLeft(ctx: JobContext<ProcData>, identity: string): Promise<void> {
  return new Promise((resolve) => {
    ctx.room.on(RoomEvent.ParticipantDisconnected, (p) => {
      if (p.identity === identity) resolve();
    });
    ctx.room.on(RoomEvent.Disconnected, () => resolve());
  });
}

/** The caller's audio, read from their own track (a second reader beside the session's). */
function streamCallerAudio(
  ctx: JobContext<ProcData>,
  identity: string,
  sampleRate: number,
  listener: (pcm: Int16Array, sampleRate: number, at: number) => void,
): void {
  const read = async (track: RemoteTrack) => {
    for await (const frame of new AudioStream(track, { sampleRate, numChannels: 1 })) {
      listener(new Int16Array(frame.data), frame.sampleRate, Date.now() - (frame.samplesPerChannel / frame.sampleRate) * 1000);
    }
  };
  const participant = ctx.room.remoteParticipants.get(identity);
  const existing = participant && [...participant.trackPublications.values()].find((p) => p.kind === TrackKind.KIND_AUDIO && p.track);
  if (existing?.track) {
    void read(existing.track as RemoteTrack).catch(() => undefined);
    return;
  }
  const onTrack = (track: RemoteTrack, _pub: unknown, p: RemoteParticipant) => {
    if (p.identity !== identity || track.kind !== TrackKind.KIND_AUDIO) return;
    ctx.room.off(RoomEvent.TrackSubscribed, onTrack);
    void read(track).catch(() => undefined);
  };
  ctx.room.on(RoomEvent.TrackSubscribed, onTrack);
}

export default defineAgent<ProcData>({
  prewarm: async (proc: JobProcess<ProcData>) => {
    // Every process that runs calls passes here once, before its first call.
    startTracing(loadConfig());
    proc.userData.vad = await loadVad();
  },
  entry,
});

/** The worker's own start-up: validate config, say what we wait for, then hand over to the framework. */
async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(readEnv(), { requireProviderKeys: true });
    loadPriceTable(config.PRICES_FILE);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof PriceTableError) {
      process.stderr.write(`${err.message}\nSee .env.example for every setting.\n`);
      process.exit(err.exitCode);
    }
    throw err;
  }
  // The framework's warm transfer builds its own SIP client from the environment; a key that came
  // from .env must be there too (jobs inherit this process's environment). Never printed.
  process.env.LIVEKIT_API_KEY ??= config.LIVEKIT_API_KEY;
  process.env.LIVEKIT_API_SECRET ??= config.LIVEKIT_API_SECRET;
  // The framework reads its log level from LOG_LEVEL (checked above, also when it came from .env).
  if (config.LOG_LEVEL) process.env.LOG_LEVEL ??= config.LOG_LEVEL;
  // The start-up steps below log through the framework's logger, which cli.runApp only sets up
  // later (and sets up again, at the level it is given).
  initializeLogger({ pretty: false, level: process.env.LOG_LEVEL ?? 'info' });
  redactFrameworkLogs();
  for (const warning of configWarnings(config)) process.stderr.write(`warning: ${warning}\n`);
  await waitForLiveKit(config.LIVEKIT_URL, (line) => process.stderr.write(`${line}\n`));
  // Migrations, records journaled by an earlier run, and the webhook loop: once per worker.
  if (['start', 'dev', 'connect'].includes(process.argv[2] ?? '')) {
    const store = await openCallStore(config).catch((err: Error) => {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    });
    await replayJournal(config, store);
    // Before any call process starts: an open record whose process is gone is one we left behind.
    await endCallsLeftOpen(config, store);
    startWebhookDelivery(config, store);
  }
  const agent = fileURLToPath(import.meta.url);
  startTracing(config);
  const pool = config.CALLS_PER_PROCESS > 1 ? callHosts(config, agent) : undefined;
  const metrics = processMetrics();
  metrics.collectProcessMetrics();
  if (pool) metrics.watchHosts(() => pool.stats());
  // The framework's own job processes have no channel to this registry (src/observe/README.md).
  else process.stderr.write('CALLS_PER_PROCESS=1: /metrics shows the worker itself, not its calls (src/observe/README.md)\n');
  if (config.METRICS_PORT) await startMetricsServer(config.METRICS_PORT);
  cli.runApp(
    new ServerOptions({
      agent,
      agentName: config.AGENT_NAME,
      wsURL: config.LIVEKIT_URL,
      apiKey: config.LIVEKIT_API_KEY,
      apiSecret: config.LIVEKIT_API_SECRET,
      port: config.HEALTH_PORT,
      drainTimeout: drainMs(config),
      // LiveKit gives jobs only to workers reporting a load under 0.65; machine-wide CPU (the
      // framework's measure) also counts whatever else runs there.
      ...(config.WORKER_MAX_CALLS > 0 ? { loadFunc: async (w: { activeJobs: unknown[] }) => w.activeJobs.length / config.WORKER_MAX_CALLS } : {}),
      ...(pool ? { jobExecutorFactory: sharedExecutorFactory(pool) } : {}),
      ...(config.METRICS_PORT ? {} : { httpRoutes: { '/metrics': metricsRoute(metrics) } }),
      // The framework loads its audio end-of-turn model into a process of its own whether or not a
      // session uses it: ~250 MB per worker, for a model our VAD turn detection never asks
      // (sessionFactory.ts).
      localAudioEot: false,
    }),
  );
}

function startTracing(config: Config): void {
  installTracing({
    endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
    serviceName: config.AGENT_NAME,
    buildVersion: buildVersion(config.BUILD_VERSION),
    includeContent: config.OTEL_TRACE_CONTENT,
  });
}

/**
 * Several calls per process (src/host/): the runtimes, the VAD and the JIT are paid for once per
 * process instead of once per call. A host that dies takes its calls with it, so their rooms are
 * deleted and their records closed here, by the worker.
 */
function callHosts(config: Config, agentModule: string): HostPool {
  // Unref'd: after a drain the worker exits, and idle hosts follow it (they watch the IPC channel).
  // CALL_HOST_CPU_PROF_DIR: each call host writes a V8 CPU profile there when it exits (for
  // bench:rooms --cpu-prof; --cpu-prof cannot come through NODE_OPTIONS).
  const profDir = process.env.CALL_HOST_CPU_PROF_DIR;
  const execArgv = profDir ? ['--cpu-prof', '--cpu-prof-dir', profDir] : undefined;
  const pool = new HostPool({ agentModule, callsPerHost: config.CALLS_PER_PROCESS, memoryLimitMB: config.HOST_MEMORY_LIMIT_MB, unref: true, ...(execArgv ? { execArgv } : {}) });
  pool.on('job-lost', (info, reason) => {
    void cleanUpLostCall(config, info.job.room?.name ?? '', reason);
  });
  return pool;
}

async function endCallsLeftOpen(config: Config, store: Store): Promise<void> {
  try {
    const sweep = await endOrphanedCalls({ store, roomApi: livekitRoomApi(config), workerId: workerId(config) });
    if (sweep.ended.length > 0) log().warn({ rooms: sweep.ended, workerId: workerId(config) }, 'ended calls an earlier run of this worker left open');
  } catch (error) {
    // Never a reason not to take new calls: the next start tries again.
    log().error({ error }, 'could not end the calls an earlier run left open');
  }
}

async function cleanUpLostCall(config: Config, room: string, reason: string): Promise<void> {
  const roomApi = livekitRoomApi(config);
  try {
    const store = await openCallStore(config);
    await endLostCall(room, reason, { store, roomApi }).finally(() => store.close());
  } catch (error) {
    // Without the store the record waits for the journal, but the room must go now.
    await new RoomJanitor(roomApi, room).deleteOnce();
    log().error({ error, room }, 'could not clean up a lost call');
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  void main();
}
