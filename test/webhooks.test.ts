/**
 * End-of-call webhooks against a real local HTTP receiver (node:http), on every store backend:
 * the Standard Webhooks signature verifies with the reference library, failures (500, timeouts)
 * are retried with backoff, two deliverers on one store never send an event twice, and a
 * deliverer process killed with SIGKILL mid-request is restarted and delivers every event, each
 * under its one id.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import type { CallFinish, Store } from '../src/store/index.js';
import { openStore } from '../src/store/index.js';
import { WebhookDeliverer } from '../src/webhook/delivery.js';
import { nextAttemptAt } from '../src/webhook/backoff.js';
import { BACKENDS } from './helpers/backends.js';

const CLI = join(import.meta.dirname, '..', 'src', 'cli', 'main.js');
const SECRET = `whsec_${Buffer.from('a test signing key, not a real one').toString('base64')}`;

interface Received {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
}

type Handler = (req: IncomingMessage, res: ServerResponse, got: Received) => void;

async function receiver(handler: Handler): Promise<{ url: string; received: Received[]; close: () => Promise<void> }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const got = { id: String(req.headers['webhook-id']), timestamp: String(req.headers['webhook-timestamp']), signature: String(req.headers['webhook-signature']), body };
      received.push(got);
      handler(req, res, got);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/switchboard?token=abc`;
  return { url, received, close: () => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))) };
}

const finish = (i: number): CallFinish => ({
  endedAt: '2026-12-02T10:05:00.000Z',
  outcome: { kind: 'completed', summary: `booked ${i}` },
  agents: ['intro', 'desk'],
  toolCalls: [{ name: 'book_appointment', args: { start: '2026-12-03T15:00' }, output: 'booked', isError: false, at: '2026-12-02T10:03:00.000Z' }],
  userdata: { callerName: 'Ana' },
  transcript: [{ role: 'caller', text: 'I need an appointment', at: '2026-12-02T10:01:00.000Z' }],
  result: { action: 'booked' },
  recordingPath: `/rec/call-${i}.wav`,
  latency: { turns: 3, p50Ms: 640 },
  cost: { totalUsd: 0.0412 },
});

async function finishedCalls(store: Store, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = `call-${i}`;
    await store.calls.start({ id, room: `room-${i}`, direction: 'outbound', callerNumber: '+12125550101', startedAt: '2026-12-02T10:00:00.000Z', campaignId: 'k', contactId: `c${i}` });
    await store.calls.finish(id, finish(i));
    ids.push(id);
  }
  return ids;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => Promise<boolean> | boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await sleep(25);
  }
  return cond();
}

describe('webhook backoff', () => {
  it('grows exponentially with jitter in the upper half, is capped, and stops at the 24 h budget', () => {
    const o = { baseMs: 5000, maxMs: 3_600_000 };
    assert.equal(nextAttemptAt(1, 0, 1e12, o, () => 0), 2500);
    assert.equal(nextAttemptAt(1, 0, 1e12, o, () => 1), 5000);
    assert.equal(nextAttemptAt(4, 0, 1e12, o, () => 1), 40_000);
    assert.equal(nextAttemptAt(30, 0, 1e12, o, () => 1), 3_600_000, 'capped');
    assert.equal(nextAttemptAt(30, 0, 3_000_000, o, () => 1), null, 'past the budget: give up');
  });
});

for (const backend of BACKENDS) {
  describe(`end-of-call webhooks (${backend.name}, real HTTP receiver)`, { timeout: 120_000 }, () => {
    it('POSTs the end-of-call report once, signed per Standard Webhooks; the signature verifies', async () => {
      const rx = await receiver((_req, res) => res.writeHead(204).end());
      const store = await backend.open({ webhookEndpoints: [rx.url] });
      await finishedCalls(store, 1);
      const d = new WebhookDeliverer({ outbox: store.webhooks, calls: store.calls, secret: SECRET, timeoutMs: 2000 });
      assert.equal(await d.deliverDue(), 1);
      assert.equal(await d.deliverDue(), 0, 'nothing left');
      assert.equal(rx.received.length, 1);
      const got = rx.received[0]!;
      const verified = new Webhook(SECRET).verify(got.body, { 'webhook-id': got.id, 'webhook-timestamp': got.timestamp, 'webhook-signature': got.signature }) as {
        type: string;
        data: Record<string, unknown>;
      };
      assert.equal(verified.type, 'call.ended');
      assert.deepEqual(
        [verified.data.callId, verified.data.direction, verified.data.callerNumber, verified.data.campaignId, verified.data.contactId, verified.data.durationSeconds],
        ['call-0', 'outbound', '+12125550101', 'k', 'c0', 300],
      );
      const f = finish(0);
      assert.deepEqual(
        [verified.data.outcome, verified.data.transcript, verified.data.toolCalls, verified.data.result, verified.data.cost, verified.data.latency, verified.data.recordingPath],
        [f.outcome, f.transcript, f.toolCalls, f.result, f.cost, f.latency, f.recordingPath],
      );
      // A tampered body fails verification.
      assert.throws(() => new Webhook(SECRET).verify(got.body.replace('booked 0', 'booked 9'), { 'webhook-id': got.id, 'webhook-timestamp': got.timestamp, 'webhook-signature': got.signature }));
      const [row] = await store.webhooks.list();
      assert.deepEqual([row?.state, row?.lastStatus, row?.attempts, row?.eventId], ['delivered', 204, 1, got.id]);
      await store.close();
      await rx.close();
    });

    it('a 500, then a receiver that never answers, are retried with backoff; the third try delivers under the same id', async () => {
      let n = 0;
      const rx = await receiver((_req, res) => {
        n++;
        if (n === 1) res.writeHead(500).end('boom');
        else if (n === 2) return; // hang: the deliverer's timeout must fire
        else res.writeHead(200).end();
      });
      const store = await backend.open({ webhookEndpoints: [rx.url] });
      await finishedCalls(store, 1);
      const d = new WebhookDeliverer({ outbox: store.webhooks, calls: store.calls, secret: SECRET, timeoutMs: 300, backoff: { baseMs: 100, maxMs: 200 } });
      await d.deliverDue();
      let [row] = await store.webhooks.list();
      assert.deepEqual([row?.state, row?.lastStatus, row?.lastError, row?.attempts], ['pending', 500, 'HTTP 500', 1]);
      assert.ok(row!.nextAt > Date.now() - 10, 'not due at once: backoff');
      assert.equal(await d.deliverDue(), 0, 'not yet due');
      await sleep(120);
      await d.deliverDue();
      [row] = await store.webhooks.list();
      assert.deepEqual([row?.state, row?.lastStatus, row?.lastError, row?.attempts], ['pending', null, 'no answer within 300 ms', 2]);
      await sleep(220);
      await d.deliverDue();
      [row] = await store.webhooks.list();
      assert.deepEqual([row?.state, row?.lastStatus, row?.attempts], ['delivered', 200, 3]);
      assert.equal(new Set(rx.received.map((r) => r.id)).size, 1, 'every try under one webhook-id');
      await store.close();
      await rx.close();
    });

    it('an unreachable endpoint past the budget is failed; webhooks retry queues it again, replay sends it as a new event (CLI, --json)', async () => {
      const rx = await receiver((_req, res) => res.writeHead(200).end());
      const location = await backend.location();
      const closed = await new Promise<number>((resolve) => {
        const srv = createServer().listen(0, '127.0.0.1', () => {
          const port = (srv.address() as AddressInfo).port;
          srv.close(() => resolve(port));
        });
      });
      const dead = `http://127.0.0.1:${closed}/hook`;
      const store = await openStore(location, { webhookEndpoints: [dead] });
      await finishedCalls(store, 1);
      const d = new WebhookDeliverer({ outbox: store.webhooks, calls: store.calls, secret: SECRET, timeoutMs: 500, backoff: { baseMs: 86_400_000 * 2, maxMs: 86_400_000 * 2 } });
      await d.deliverDue();
      const [failed] = await store.webhooks.list();
      assert.equal(failed?.state, 'failed');
      assert.match(failed!.lastError!, /ECONNREFUSED/);
      const env = { ...process.env, STORE_URL: location, WEBHOOK_URL: rx.url, WEBHOOK_SECRET: SECRET, LOG_LEVEL: 'error' };
      const cli = async (...args: string[]) => {
        const child = spawn(process.execPath, [CLI, 'webhooks', ...args, '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (b: Buffer) => (out += b.toString()));
        const code = await new Promise<number | null>((r) => child.on('exit', r));
        return { code, json: JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, unknown> };
      };
      const listed = await cli('list', '--state', 'failed');
      assert.equal(listed.code, 0);
      const rows = listed.json.deliveries as { eventId: string; endpoint: string; state: string }[];
      assert.deepEqual(rows.map((r) => [r.eventId, r.endpoint, r.state]), [[failed!.eventId, dead, 'failed']]);
      assert.deepEqual((await cli('retry', 'call-0')).json, { ok: true, callId: 'call-0', requeued: 1 });
      const replay = await cli('replay', 'call-0');
      assert.equal(replay.code, 0);
      assert.notEqual(replay.json.eventId, failed!.eventId);
      assert.deepEqual((await cli('replay', 'no-such-call')).json.ok, false);
      // The replay goes to today's WEBHOOK_URL (the receiver) and says which event it repeats.
      const delivered = await cli('deliver', '--once');
      assert.equal(delivered.code, 0);
      const replayed = rx.received.find((r) => r.id === replay.json.eventId);
      assert.ok(replayed, 'the replay reached the receiver');
      assert.equal((JSON.parse(replayed.body) as { data: { replayOf: string } }).data.replayOf, failed!.eventId);
      const bad = spawn(process.execPath, [CLI, 'webhooks', 'deliver', '--once'], { env: { ...env, WEBHOOK_URL: 'htp:/nowhere' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      bad.stderr.on('data', (b: Buffer) => (err += b.toString()));
      assert.equal(await new Promise((r) => bad.on('exit', r)), 2);
      assert.match(err, /WEBHOOK_URL: must be an http:\/\/ or https:\/\/ URL/);
      await store.close();
      await rx.close();
    });

    it('two deliverers sharing the store send every event exactly once', async () => {
      const rx = await receiver((_req, res) => setTimeout(() => res.writeHead(200).end(), 5));
      const location = await backend.location();
      const a = await openStore(location, { webhookEndpoints: [rx.url] });
      const b = await openStore(location);
      const calls = await finishedCalls(a, 12);
      const mk = (s: Store, owner: string) => new WebhookDeliverer({ outbox: s.webhooks, calls: s.calls, secret: SECRET, timeoutMs: 2000, batch: 3, owner });
      const [da, db] = [mk(a, 'A'), mk(b, 'B')];
      for (let i = 0; i < 10; i++) await Promise.all([da.deliverDue(), db.deliverDue()]);
      assert.equal(rx.received.length, calls.length);
      assert.equal(new Set(rx.received.map((r) => r.id)).size, calls.length);
      assert.deepEqual(new Set((await a.webhooks.list()).map((d) => d.state)), new Set(['delivered']));
      await a.close();
      await b.close();
      await rx.close();
    });

    it('a deliverer killed with SIGKILL mid-request, then restarted: every event delivered, each under its one id', async () => {
      let hold: ((child: ChildProcess) => void) | undefined;
      let child: ChildProcess | undefined;
      let killed = false;
      const acked = new Map<string, number>();
      const rx = await receiver((_req, res, got) => {
        // The third request: kill the deliverer while it waits for our answer.
        if (!killed && rx.received.length === 3) {
          killed = true;
          hold?.(child!);
          return;
        }
        acked.set(got.id, (acked.get(got.id) ?? 0) + 1);
        res.writeHead(200).end();
      });
      const location = await backend.location();
      const store = await openStore(location, { webhookEndpoints: [rx.url] });
      const calls = await finishedCalls(store, 6);
      const env = { ...process.env, STORE_URL: location, WEBHOOK_URL: rx.url, WEBHOOK_SECRET: SECRET, WEBHOOK_TIMEOUT_SECONDS: '0.5', LOG_LEVEL: 'error' };
      const start = () => spawn(process.execPath, [CLI, 'webhooks', 'deliver'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      const killedOnce = new Promise<void>((resolve) => {
        hold = (c) => {
          c.kill('SIGKILL');
          resolve();
        };
      });
      child = start();
      await killedOnce;
      await new Promise((r) => child!.once('exit', r));
      const inFlight = rx.received[2]!.id;
      assert.ok((await store.webhooks.list()).some((d) => d.eventId === inFlight && d.state === 'delivering'), 'the killed request left its row leased');
      child = start();
      const done = await until(async () => (await store.webhooks.list()).every((d) => d.state === 'delivered'), 30_000);
      child.kill('SIGTERM');
      await new Promise((r) => child!.once('exit', r));
      assert.ok(done, 'all delivered after the restart');
      const rows = await store.webhooks.list();
      assert.equal(rows.length, calls.length);
      // Every event was acknowledged, under the id it was created with. Requests the killed process
      // had in flight may arrive twice (it died before recording the answer): under the same id,
      // so a receiver that dedupes on webhook-id takes each event exactly once.
      assert.deepEqual([...acked.keys()].sort(), rows.map((r) => r.eventId).sort());
      const resent = rx.received.length - calls.length;
      assert.ok(resent >= 1 && resent <= calls.length, `only what was in flight at the kill was sent again (${resent})`);
      const byCall = new Map<string, Set<string>>();
      for (const r of rx.received) {
        const callId = (JSON.parse(r.body) as { data: { callId: string } }).data.callId;
        byCall.set(callId, (byCall.get(callId) ?? new Set()).add(r.id));
      }
      assert.ok([...byCall.values()].every((ids) => ids.size === 1), 'a call is never sent under two ids');
      assert.equal(rows.find((r) => r.eventId === inFlight)?.attempts, 2, 'the interrupted one was sent again after its lease ran out');
      await store.close();
      await rx.close();
    });
  });
}
