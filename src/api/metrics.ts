// Prometheus metrics of one API instance (its own registry, so tests can build many apps).
import type { Pool } from 'pg';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { IdempotencyCounters } from 'idempotent-sagas/store';

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

  // The store is shared with the activities in one process: its counters cover every scope.
  const store = new Counter({
    name: 'idempotency_store_events_total',
    help: 'Decisions of the idempotency store (every scope): replays, conflicts, mismatches, leaseTakeovers, …',
    labelNames: ['event'] as const,
    registers: [registry],
  });
  for (const [event, value] of Object.entries(opts.storeCounters.snapshot())) store.inc({ event }, value);
  opts.storeCounters.onIncrement((event) => store.inc({ event }));

  const requestDuration = new Histogram({
    name: 'api_http_request_duration_seconds',
    help: 'HTTP request latency by route template and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });

  // Saga outcomes, read from the orders table at scrape time: exact across restarts and instances.
  new Gauge({
    name: 'orders_by_status',
    help: 'Orders by status (PENDING, COMPLETED, COMPENSATED, COMPENSATION_STUCK), counted at scrape time.',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const status of ['PENDING', 'COMPLETED', 'COMPENSATED', 'COMPENSATION_STUCK']) this.set({ status }, 0);
      const { rows } = await opts.pool.query<{ status: string; n: string }>('SELECT status, count(*) AS n FROM orders GROUP BY status');
      for (const r of rows) this.set({ status: r.status }, Number(r.n));
    },
  });

  return { registry, httpIdempotency, requestDuration };
}
