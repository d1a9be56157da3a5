/**
 * `switchboard webhooks list|retry|replay|deliver`: the end-of-call webhook outbox in the store.
 * `retry` re-queues failed deliveries under their event id (a receiver that got one already
 * dedupes it); `replay` sends a finished call's report again as a new event (a new id), to the
 * endpoints configured now. `deliver` runs the delivery loop the worker runs, for a store whose
 * workers are down.
 */
import type { Command } from 'commander';
import { type Config, loadConfig, storeTarget } from '../config.js';
import { type DeliveryState, type Store, type WebhookDelivery, openStore } from '../store/index.js';
import { WebhookDeliverer } from '../webhook/delivery.js';
import { UsageError, fail, report, table } from './output.js';

const STATES: DeliveryState[] = ['pending', 'delivering', 'delivered', 'failed'];
const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
/** Endpoints can carry tokens (in the query or user info); show only scheme, host and path. */
const shown = (endpoint: string) => {
  const u = new URL(endpoint);
  return `${u.protocol}//${u.host}${u.pathname}`;
};

function row(d: WebhookDelivery) {
  return {
    eventId: d.eventId,
    callId: d.callId,
    endpoint: shown(d.endpoint),
    state: d.state,
    attempts: d.attempts,
    lastStatus: d.lastStatus,
    lastError: d.lastError,
    nextAt: d.state === 'pending' ? iso(d.nextAt) : null,
    deliveredAt: iso(d.deliveredAt),
    replayOf: d.replayOf,
  };
}

async function withStore<T>(fn: (store: Store, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const store = await openStore(storeTarget(config));
  try {
    return await fn(store, config);
  } finally {
    await store.close();
  }
}

export function register(program: Command): void {
  const wh = program.command('webhooks').description('end-of-call webhooks (WEBHOOK_URL): the delivery outbox');

  wh.command('list')
    .description('deliveries, newest first')
    .option('--call <callId>', 'only this call')
    .option('--state <state>', `only this state (${STATES.join(', ')})`)
    .option('--limit <n>', 'at most this many', '50')
    .option('--json', 'print one JSON object')
    .action(async (flags: { call?: string; state?: string; limit: string; json?: boolean }) => {
      try {
        if (flags.state && !STATES.includes(flags.state as DeliveryState)) {
          throw new UsageError(`--state: ${JSON.stringify(flags.state)} is not one of ${STATES.join(', ')}`);
        }
        const limit = Number(flags.limit);
        if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit: ${JSON.stringify(flags.limit)} must be a whole number ≥ 1`);
        const deliveries = await withStore((s) => s.webhooks.list({ callId: flags.call, state: flags.state as DeliveryState | undefined, limit }));
        const rows = deliveries.map(row);
        report({ ok: true, deliveries: rows }, flags, () =>
          rows.length === 0
            ? 'no webhook deliveries'
            : table(
                ['event', 'call', 'endpoint', 'state', 'tries', 'last'],
                rows.map((r) => [r.eventId, r.callId, r.endpoint, r.state, r.attempts, r.lastError ?? (r.lastStatus ? `HTTP ${r.lastStatus}` : '')]),
              ),
        );
      } catch (err) {
        fail(err, flags);
      }
    });

  wh.command('retry [callId]')
    .description('send failed deliveries again (of one call, or all), under the same event id, for another 24 h')
    .option('--json', 'print one JSON object')
    .action(async (callId: string | undefined, flags: { json?: boolean }) => {
      try {
        const requeued = await withStore((s) => s.webhooks.retry({ callId, now: Date.now() }));
        report({ ok: true, callId: callId ?? null, requeued }, flags, () => `${requeued} failed deliver${requeued === 1 ? 'y' : 'ies'} queued again`);
      } catch (err) {
        fail(err, flags);
      }
    });

  wh.command('replay <callId>')
    .description("send a finished call's report again, as a new event (new webhook-id), to WEBHOOK_URL")
    .option('--json', 'print one JSON object')
    .action(async (callId: string, flags: { json?: boolean }) => {
      try {
        const eventId = await withStore(async (s, config) => {
          if (config.WEBHOOK_URL.length === 0) throw new UsageError('WEBHOOK_URL is not set: there is nowhere to replay to');
          const id = await s.webhooks.replay(callId, config.WEBHOOK_URL, Date.now());
          if (!id) throw new UsageError(`no finished call ${JSON.stringify(callId)} in this store (STORE_URL)`);
          return id;
        });
        report({ ok: true, callId, eventId }, flags, () => `call ${callId} queued again as event ${eventId}`);
      } catch (err) {
        fail(err, flags);
      }
    });

  wh.command('deliver')
    .description('run the delivery loop (as the worker does) until stopped, or once with --once')
    .option('--once', 'one pass over what is due, then exit')
    .option('--json', 'print one JSON object (with --once)')
    .action(async (flags: { once?: boolean; json?: boolean }) => {
      try {
        const config = loadConfig();
        if (!config.WEBHOOK_SECRET) throw new UsageError('WEBHOOK_SECRET is not set: deliveries cannot be signed');
        const store = await openStore(storeTarget(config));
        const deliverer = new WebhookDeliverer({
          outbox: store.webhooks,
          calls: store.calls,
          secret: config.WEBHOOK_SECRET,
          timeoutMs: config.WEBHOOK_TIMEOUT_SECONDS * 1000,
          onEvent: (e) => process.stderr.write(`${JSON.stringify(e)}\n`),
        });
        if (flags.once) {
          const handled = await deliverer.deliverDue();
          await store.close();
          report({ ok: true, handled }, flags, () => `${handled} deliver${handled === 1 ? 'y' : 'ies'} attempted`);
          return;
        }
        const stop = new AbortController();
        for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => stop.abort());
        await deliverer.run(stop.signal);
        await store.close();
      } catch (err) {
        fail(err, flags);
      }
    });
}
