// The worker's own HTTP endpoints: /metrics (the store's decisions per scope, saga outcomes, the
// stuck-saga gauge, process metrics), /healthz (liveness) and /readyz (Postgres and Temporal reachable).
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
};

export function buildWorkerServer(deps: WorkerServerDeps): FastifyInstance {
  const registry = new Registry();
  if (deps.defaultMetrics) collectDefaultMetrics({ register: registry });
  registerStoreEvents(registry, deps.counters);
  registerSagaOutcomes(registry, deps.pool);

  const app = Fastify({ logger: false });
  app.get('/metrics', async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const ready = await readiness({ pool: deps.pool, pingTemporal: deps.pingTemporal, timeoutMs: deps.checkTimeoutMs });
    return reply.code(ready.status === 'ready' ? 200 : 503).send(ready);
  });
  return app;
}
