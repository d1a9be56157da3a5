// Call hosts (src/host/): several calls per worker process, driven the way the framework drives
// its executors. Real host processes, the real framework JobContext and (in the last test) the
// framework's own ProcPool through the jobExecutorFactory seam the patch adds.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import './helpers/logger.js';
import { JobStatus, type RunningJobInfo } from '@livekit/agents';
import { Job, Room } from '@livekit/protocol';
import { endLostCall } from '../src/call/lostCall.js';
import { HostPool } from '../src/host/hostPool.js';
import { SharedJobExecutor, sharedExecutorFactory } from '../src/host/sharedJobExecutor.js';
import { livekitRoomApi } from '../src/livekit/roomApi.js';
import { LiveKitApiEmulator } from '../src/sandbox/livekitApi.js';
import { openStore } from '../src/store/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const agentModule = join(here, 'fixtures', 'host', 'agent.js');
const logger = { pretty: false, level: 'error' };

type Plan = { do: 'end-after'; ms: number } | { do: 'wait-for-shutdown' } | { do: 'hold-call' } | { do: 'crash' } | { do: 'exit-process'; afterMs: number };
type Report = { fixture: true; pid: number; event: string; jobId?: string; token?: string; contextJob?: string; reason?: string };

function jobInfo(id: string, plan: Plan, room = `room-${id}`): RunningJobInfo {
  return {
    acceptArguments: { name: 'agent', identity: 'agent', metadata: '' },
    job: new Job({ id, room: new Room({ name: room }), metadata: JSON.stringify(plan) }),
    url: 'ws://127.0.0.1:1',
    token: 'not-a-token',
    workerId: 'test-worker',
  };
}

function collect(pool: HostPool): Report[] {
  const reports: Report[] = [];
  pool.on('message', (_h, m) => {
    if ((m as Report)?.fixture) reports.push(m as Report);
  });
  return reports;
}

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('call hosts', () => {
  it('puts calls in the least loaded host with room, runs the prewarm once per host, and gives each job its own context', async () => {
    const pool = new HostPool({ agentModule, callsPerHost: 2, spreadAcross: 1, logger });
    const reports = collect(pool);
    try {
      const slots = await Promise.all([pool.reserve(), pool.reserve(), pool.reserve()]);
      // Packed (spreadAcross 1): two per host, a second host started only for the third.
      assert.equal(pool.hosts.length, 2);
      const ends = slots.map((s, i) => s.launch(jobInfo(`J${i}`, { do: 'end-after', ms: 150 })));
      assert.deepEqual(await Promise.all(ends), [{}, {}, {}]);
      const started = reports.filter((r) => r.event === 'started');
      assert.equal(started.length, 3);
      for (const r of started) assert.equal(r.contextJob, r.jobId);
      const prewarms = reports.filter((r) => r.event === 'prewarm');
      assert.equal(prewarms.length, 2, 'one prewarm per host process, not per call');
      // Calls in the same process share that process's prewarmed data.
      const byPid = new Map<number, Set<string>>();
      for (const r of started) byPid.set(r.pid, (byPid.get(r.pid) ?? new Set()).add(r.token!));
      assert.deepEqual([...byPid.values()].map((s) => s.size).sort(), [1, 1]);
      assert.deepEqual([...byPid.keys()].map((pid) => started.filter((r) => r.pid === pid).length).sort(), [1, 2]);
      assert.equal(reports.filter((r) => r.event === 'shutdown-callback').length, 3);
      assert.deepEqual(pool.hosts.map((h) => h.load), [0, 0]);
      // Load-based placement: the next two calls go one to each host, not both to the first.
      const next = await Promise.all([pool.reserve(), pool.reserve()]);
      assert.notEqual(next[0]!.host.pid, next[1]!.host.pid);
      for (const s of next) s.release();
    } finally {
      await pool.close(10_000);
    }
    assert.equal(pool.hosts.length, 0);
  });

  it('spreads the first calls over spreadAcross processes (one per core), then fills the least loaded', async () => {
    const pool = new HostPool({ agentModule, callsPerHost: 4, spreadAcross: 2, logger });
    try {
      const a = await pool.reserve();
      const b = await pool.reserve();
      assert.notEqual(a.host.pid, b.host.pid, 'the second call gets the second core, not a place beside the first');
      await pool.reserve();
      assert.equal(pool.hosts.length, 2);
      assert.deepEqual(pool.hosts.map((h) => h.load).sort(), [1, 2]);
    } finally {
      await pool.close(10_000);
    }
  });

  it('a host over its memory limit takes no new calls, and exits once its calls have ended', async () => {
    const pool = new HostPool({ agentModule, callsPerHost: 4, spreadAcross: 1, memoryLimitMB: 1, statsEveryMs: 50, logger });
    try {
      const a = await pool.reserve();
      const first = a.host;
      await until('the first memory report', () => first.rssBytes > 0 && first.retiring);
      // Its call still runs to its end...
      const end = a.launch(jobInfo('M1', { do: 'end-after', ms: 200 }));
      // ...but the next call goes to a new process.
      const b = await pool.reserve();
      assert.notEqual(b.host.pid, first.pid);
      assert.deepEqual(await end, {});
      assert.equal(await first.exited, 0);
      assert.ok(b.host.alive);
      b.release();
    } finally {
      await pool.close(10_000);
    }
  });

  it('a shutdown request ends one job through its shutdown callbacks and leaves its neighbour running', async () => {
    const pool = new HostPool({ agentModule, callsPerHost: 4, logger });
    const reports = collect(pool);
    try {
      const [a, b] = await Promise.all([pool.reserve(), pool.reserve()]);
      const endA = a!.launch(jobInfo('A', { do: 'wait-for-shutdown' }));
      const endB = b!.launch(jobInfo('B', { do: 'wait-for-shutdown' }));
      await until('both started', () => reports.filter((r) => r.event === 'started').length === 2);
      a!.shutdown('A', 'shutdown request');
      assert.deepEqual(await endA, {});
      assert.deepEqual(reports.filter((r) => r.event === 'shutdown-callback').map((r) => r.jobId), ['A']);
      // Closing the pool ends B the same way.
      await pool.close(10_000);
      assert.deepEqual(await endB, {});
      assert.deepEqual(reports.filter((r) => r.event === 'shutdown-callback').map((r) => r.jobId), ['A', 'B']);
    } finally {
      await pool.close(10_000);
    }
  });

  it('an entry that holds its call hears the shutdown request while it runs, and ends before its shutdown callbacks', async () => {
    const pool = new HostPool({ agentModule, callsPerHost: 4, logger });
    const reports = collect(pool);
    try {
      const [a, b] = await Promise.all([pool.reserve(), pool.reserve()]);
      const endA = a!.launch(jobInfo('H1', { do: 'hold-call' }));
      const endB = b!.launch(jobInfo('H2', { do: 'hold-call' }));
      await until('both started', () => reports.filter((r) => r.event === 'started').length === 2);
      a!.shutdown('H1', 'shutdown request');
      assert.deepEqual(await endA, {});
      // The entry was told, said its goodbye, and only then did the framework's last step run.
      assert.deepEqual(
        reports.filter((r) => r.jobId === 'H1' && r.event !== 'started').map((r) => [r.event, r.reason]),
        [['shutdown-requested', 'shutdown request'], ['goodbye-said', undefined], ['shutdown-callback', undefined]],
      );
      assert.equal(reports.some((r) => r.jobId === 'H2' && r.event === 'shutdown-requested'), false, 'the neighbour was not asked');
      // The worker gone (the host's IPC channel closed) reaches a held call the same way.
      await pool.close(10_000);
      assert.deepEqual(await endB, {});
      assert.deepEqual(reports.filter((r) => r.jobId === 'H2' && r.event !== 'started').map((r) => r.event), ['shutdown-requested', 'goodbye-said', 'shutdown-callback']);
    } finally {
      await pool.close(10_000);
    }
  });

  it('an entry that throws fails its own job only; the host takes the next call', async () => {
    const pool = new HostPool({ agentModule, callsPerHost: 2, logger });
    try {
      const s1 = await pool.reserve();
      const pid = s1.host.pid;
      const end = await s1.launch(jobInfo('boom', { do: 'crash' }));
      assert.match(end.error ?? '', /entry blew up/);
      const s2 = await pool.reserve();
      assert.equal(s2.host.pid, pid);
      assert.deepEqual(await s2.launch(jobInfo('next', { do: 'end-after', ms: 10 })), {});
    } finally {
      await pool.close(10_000);
    }
  });

  describe('a host that dies with calls in it', () => {
    let lk: LiveKitApiEmulator;
    before(async () => {
      lk = new LiveKitApiEmulator();
      await lk.start();
    });
    after(async () => lk.close());

    it('reports every lost job; the worker deletes each room once and closes each record as an error', async () => {
      const store = await openStore(':memory:');
      const pool = new HostPool({ agentModule, callsPerHost: 3, spreadAcross: 1, logger });
      const cleanups: Promise<unknown>[] = [];
      pool.on('job-lost', (info, reason) => cleanups.push(endLostCall(info.job.room!.name, reason, { store, roomApi: livekitRoomApi(lk.env() as never) })));
      try {
        for (const room of ['lost-1', 'lost-2']) {
          lk.joinParticipant(room, { identity: 'agent', kind: 'agent' });
          await store.calls.start({ id: `call-${room}`, room, direction: 'inbound', callerNumber: '+15550100000', startedAt: new Date().toISOString() });
        }
        const [a, b] = await Promise.all([pool.reserve(), pool.reserve()]);
        assert.equal(a!.host, b!.host);
        const endA = a!.launch(jobInfo('L1', { do: 'wait-for-shutdown' }, 'lost-1'));
        const endB = b!.launch(jobInfo('L2', { do: 'exit-process', afterMs: 200 }, 'lost-2'));
        const [ea, eb] = await Promise.all([endA, endB]);
        assert.match(ea.error ?? '', /exited \(code 3\) during the call/);
        assert.match(eb.error ?? '', /exited \(code 3\) during the call/);
        await Promise.all(cleanups);
        assert.equal(cleanups.length, 2);
        for (const room of ['lost-1', 'lost-2']) {
          assert.equal(lk.count('DeleteRoom', { room }), 1, room);
          const rec = await store.calls.findByRoom(room);
          assert.equal(rec?.finished, true);
          assert.equal(rec?.outcome?.kind, 'error');
          assert.match(rec?.outcome?.kind === 'error' ? rec.outcome.error : '', /exited \(code 3\)/);
        }
        // The next call gets a new host.
        const s = await pool.reserve();
        assert.notEqual(s.host.pid, a!.host.pid);
        s.release();
      } finally {
        await pool.close(10_000);
        await store.close();
      }
    });
  });

  it("the framework's own ProcPool runs its warm executors and jobs as slots in shared hosts", async () => {
    // The pool class is internal to @livekit/agents; the worker reaches it through ServerOptions.
    const agentsEntry = createRequire(import.meta.url).resolve('@livekit/agents');
    const { ProcPool } = (await import(pathToFileURL(join(dirname(agentsEntry), 'ipc', 'proc_pool.js')).href)) as {
      ProcPool: new (o: Record<string, unknown>) => {
        start(): void;
        launchJob(info: RunningJobInfo): Promise<void>;
        processes: SharedJobExecutor[];
        getByJobId(id: string): SharedJobExecutor | null;
        close(): Promise<void>;
      };
    };
    const hosts = new HostPool({ agentModule, callsPerHost: 3, spreadAcross: 2, logger });
    const reports = collect(hosts);
    const pool = new ProcPool({
      agent: agentModule,
      numIdleProcesses: 2,
      initializeTimeout: 20_000,
      closeTimeout: 10_000,
      sessionEndTimeout: 1000,
      memoryWarnMB: 0,
      memoryLimitMB: 0,
      executorFactory: sharedExecutorFactory(hosts),
    });
    try {
      pool.start();
      await until('two warm executors', () => pool.processes.length === 2 && pool.processes.every((p) => p.started));
      for (const id of ['P1', 'P2', 'P3']) await pool.launchJob(jobInfo(id, { do: 'wait-for-shutdown' }));
      await until('three started', () => reports.filter((r) => r.event === 'started').length === 3);
      const running = pool.processes.filter((p) => p.runningJob);
      assert.equal(running.length, 3);
      assert.ok(running.every((p) => p instanceof SharedJobExecutor && p.status === JobStatus.RUNNING));
      // Three calls and the warm slots fit in two processes of three, not five processes.
      assert.ok(hosts.hosts.length <= 2, `${hosts.hosts.length} hosts`);
      // The worker's job termination path: close the executor of one job.
      const p2 = pool.getByJobId('P2')!;
      await p2.close();
      assert.equal(p2.status, JobStatus.SUCCESS);
      assert.deepEqual(reports.filter((r) => r.event === 'shutdown-callback').map((r) => r.jobId), ['P2']);
      await pool.close();
      assert.deepEqual(reports.filter((r) => r.event === 'shutdown-callback').map((r) => r.jobId).sort(), ['P1', 'P2', 'P3']);
    } finally {
      await hosts.close(10_000);
    }
  });
});
