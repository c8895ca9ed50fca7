// Prometheus metrics of one API instance (its own registry, so tests can build many apps).
import type { Pool } from 'pg';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { IdempotencyCounters } from 'idempotent-sagas/store';
import { registerSagaOutcomes, registerStoreEvents } from '../../../src/observability/metrics';

export type ApiMetrics = {
  registry: Registry;
  /** Outcomes of POST /v1/orders as the HTTP idempotency layer decided them. */
  httpIdempotency: Counter<'outcome'>;
  requestDuration: Histogram<'method' | 'route' | 'status'>;
};

export function createApiMetrics(opts: { pool: Pool; storeCounters: IdempotencyCounters; defaultMetrics?: boolean }): ApiMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry });

  const httpIdempotency = new Counter({
    name: 'api_idempotency_requests_total',
    help: 'POST /v1/orders by idempotency outcome: executed, replayed, conflict (409), mismatch (422), takeover (expired lease taken over).',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  for (const outcome of ['executed', 'replayed', 'conflict', 'mismatch', 'takeover']) httpIdempotency.inc({ outcome }, 0);

  registerStoreEvents(registry, opts.storeCounters);

  const requestDuration = new Histogram({
    name: 'api_http_request_duration_seconds',
    help: 'HTTP request latency by route template and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });

  registerSagaOutcomes(registry, opts.pool);

  return { registry, httpIdempotency, requestDuration };
}
