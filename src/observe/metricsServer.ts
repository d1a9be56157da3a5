/**
 * Serves the registry to Prometheus: as a route on the framework's health server (the default;
 * `ServerOptions.httpRoutes`, a seam patches/ adds), or on a listener of its own (METRICS_PORT).
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { log } from '@livekit/agents';
import { type MetricsRegistry, processMetrics } from './metrics.js';

export type Route = (req: IncomingMessage, res: ServerResponse) => void;

/** GET /metrics in the text exposition format. */
export function metricsRoute(registry: MetricsRegistry = processMetrics()): Route {
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET' }).end();
      return;
    }
    registry.exposition().then(
      (text) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
      (err) => {
        log().error({ error: (err as Error).message }, 'metrics could not be collected');
        res.writeHead(500).end();
      },
    );
  };
}

/** A listener of its own for /metrics (METRICS_PORT; port 0 picks a free one). */
export async function startMetricsServer(port: number, host = '0.0.0.0', registry: MetricsRegistry = processMetrics()): Promise<{ server: Server; port: number }> {
  const route = metricsRoute(registry);
  const server = createServer((req, res) => {
    if ((req.url ?? '').split('?')[0] === '/metrics') route(req, res);
    else res.writeHead(404).end('not found: metrics are at /metrics\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`METRICS_PORT ${port}: ${err.message}`)));
    server.listen(port, host, resolve);
  });
  return { server, port: (server.address() as AddressInfo).port };
}
