/**
 * Where Prometheus finds the worker's metrics: `/metrics` on the framework's own health server
 * (through the `httpRoutes` seam patches/ adds to ServerOptions), beside its `/` health check, or
 * on a listener of its own (METRICS_PORT).
 */
import './helpers/logger.js';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AgentServer, ServerOptions } from '@livekit/agents';
import { MetricsRegistry } from '../src/observe/metrics.js';
import { metricsRoute, startMetricsServer } from '../src/observe/metricsServer.js';
import { freeTcpPort } from '../src/stack/processes.js';

async function get(url: string, tries = 40): Promise<Response> {
  for (let i = 0; ; i++) {
    try {
      return await fetch(url);
    } catch (err) {
      if (i >= tries) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe('metrics endpoint', () => {
  it('serves /metrics on the worker\'s health port, and the health check still answers', async () => {
    const registry = new MetricsRegistry();
    registry.apply({ kind: 'count', name: 'calls_started', labels: { direction: 'outbound' } });
    const port = await freeTcpPort();
    const server = new AgentServer(
      new ServerOptions({
        agent: join(import.meta.dirname, 'fixtures', 'host', 'agent.js'),
        wsURL: 'ws://127.0.0.1:1',
        apiKey: 'devkey',
        apiSecret: 'secret',
        host: '127.0.0.1',
        port,
        maxRetry: 0,
        httpRoutes: { '/metrics': metricsRoute(registry) },
      }),
    );
    const running = server.run().catch(() => undefined); // no LiveKit here: the connection fails, the HTTP server is up
    try {
      const res = await get(`http://127.0.0.1:${port}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      assert.match(await res.text(), /^switchboard_calls_started_total\{direction="outbound"\} 1$/m);
      const health = await get(`http://127.0.0.1:${port}/`);
      assert.equal(health.status, 503, 'not connected to LiveKit: unhealthy, as before the patch');
      assert.equal((await get(`http://127.0.0.1:${port}/nope`)).status, 404);
      assert.equal((await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'POST' })).status, 405);
    } finally {
      await server.close().catch(() => undefined);
      await running;
    }
  });

  it('serves /metrics on METRICS_PORT when one is set, and names the port it cannot bind', async () => {
    const registry = new MetricsRegistry();
    const { server, port } = await startMetricsServer(0, '127.0.0.1', registry);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      assert.equal(res.status, 200);
      assert.match(await res.text(), /^# TYPE switchboard_calls_active gauge$/m);
      assert.equal((await fetch(`http://127.0.0.1:${port}/`)).status, 404);
      await assert.rejects(startMetricsServer(port, '127.0.0.1', registry), new RegExp(`METRICS_PORT ${port}: .*EADDRINUSE`));
    } finally {
      server.close();
    }
  });
});
