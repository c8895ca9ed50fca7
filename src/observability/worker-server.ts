// The worker's own HTTP endpoints: /metrics (the store's decisions per scope, saga outcomes, the
// stuck-saga gauge, process metrics), /healthz (liveness) and /readyz (Postgres and Temporal reachable).
import Fastify, { type FastifyInstance } from 'fastify';
import type { Pool } from 'pg';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { IdempotencyCounters } from 'idempotent-sagas/store';
import { registerSagaOutcomes, registerStoreEvents } from './metrics';

export type WorkerServerDeps = {
  pool: Pool;
  counters: IdempotencyCounters;
  /** Resolves when Temporal answers (e.g. a GetSystemInfo call on the worker's connection). */
  pingTemporal: () => Promise<unknown>;
  /** How long each readiness check may take. Default 2 s. */
  checkTimeoutMs?: number;
  defaultMetrics?: boolean;
};

type Check = 'ok' | `down: ${string}`;

/** Settles within `ms`: 'ok', or why not. */
async function check(probe: () => Promise<unknown>, ms: number): Promise<Check> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    await Promise.race([probe(), timeout]);
    return 'ok';
  } catch (err) {
    return `down: ${err instanceof Error ? err.message : String(err)}`;
  } finally {
    clearTimeout(timer);
  }
}

export function buildWorkerServer(deps: WorkerServerDeps): FastifyInstance {
  const registry = new Registry();
  if (deps.defaultMetrics) collectDefaultMetrics({ register: registry });
  registerStoreEvents(registry, deps.counters);
  registerSagaOutcomes(registry, deps.pool);
  const ms = deps.checkTimeoutMs ?? 2000;

  const app = Fastify({ logger: false });
  app.get('/metrics', async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const [database, temporal] = await Promise.all([check(() => deps.pool.query('SELECT 1'), ms), check(deps.pingTemporal, ms)]);
    const ready = database === 'ok' && temporal === 'ok';
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unavailable', checks: { database, temporal } });
  });
  return app;
}
