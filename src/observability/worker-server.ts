// The worker's own HTTP endpoints: /metrics (the store's decisions per scope, saga outcomes, the
// stuck-saga gauge, process metrics, then the Temporal SDK's own), /healthz (liveness) and /readyz
// (Postgres and Temporal reachable).
import net from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Pool } from 'pg';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { IdempotencyCounters } from 'idempotent-sagas/store';
import { registerSagaOutcomes, registerStoreEvents } from './metrics';
import { readiness } from './readiness';

export type WorkerServerDeps = {
  pool: Pool;
  counters: IdempotencyCounters;
  /** Resolves when Temporal answers (e.g. a GetSystemInfo call on the worker's connection). */
  pingTemporal: () => Promise<unknown>;
  /** How long each readiness check may take. Default 2 s. */
  checkTimeoutMs?: number;
  defaultMetrics?: boolean;
  /** Where the Temporal SDK serves its own metrics (installTemporalRuntime's metricsBindAddress): /metrics appends them. */
  sdkMetricsUrl?: string;
};

/** A port free on 127.0.0.1 right now (for a listener started next by this process). */
export function freeLocalPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The SDK's exposition, or a comment saying why it is missing (the rest of /metrics is still served). */
async function sdkMetrics(url: string): Promise<string> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    if (!res.ok) return `# temporal SDK metrics unavailable: HTTP ${res.status}\n`;
    return await res.text();
  } catch (err) {
    return `# temporal SDK metrics unavailable: ${err instanceof Error ? err.message : String(err)}\n`;
  }
}

export function buildWorkerServer(deps: WorkerServerDeps): FastifyInstance {
  const registry = new Registry();
  if (deps.defaultMetrics) collectDefaultMetrics({ register: registry });
  registerStoreEvents(registry, deps.counters);
  registerSagaOutcomes(registry, deps.pool);

  const app = Fastify({ logger: false });
  app.get('/metrics', async (_request, reply) => {
    const ours = await registry.metrics();
    return reply.type(registry.contentType).send(deps.sdkMetricsUrl ? `${ours}\n${await sdkMetrics(deps.sdkMetricsUrl)}` : ours);
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const ready = await readiness({ pool: deps.pool, pingTemporal: deps.pingTemporal, timeoutMs: deps.checkTimeoutMs });
    return reply.code(ready.status === 'ready' ? 200 : 503).send(ready);
  });
  return app;
}
