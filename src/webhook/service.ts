/** The worker's webhook delivery loop, started once per worker process when WEBHOOK_URL is set. */
import { log } from '@livekit/agents';
import type { Config } from '../config.js';
import type { Store } from '../store/index.js';
import { WebhookDeliverer } from './delivery.js';

export function startWebhookDelivery(config: Config, store: Store): { stop(): Promise<void> } | undefined {
  if (config.WEBHOOK_URL.length === 0 || !config.WEBHOOK_SECRET) return undefined;
  const stop = new AbortController();
  const deliverer = new WebhookDeliverer({
    outbox: store.webhooks,
    calls: store.calls,
    secret: config.WEBHOOK_SECRET,
    timeoutMs: config.WEBHOOK_TIMEOUT_SECONDS * 1000,
    onEvent: (e) => (e.kind === 'delivered' ? log().debug(e, 'webhook delivered') : log().warn(e, 'webhook not delivered')),
  });
  const running = deliverer.run(stop.signal);
  return {
    stop: async () => {
      stop.abort();
      await running;
    },
  };
}
