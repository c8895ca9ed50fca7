// Metrics shared by the API and the worker: the store's decisions per scope, and saga outcomes read
// from the orders table at scrape time (exact across restarts and instances).
import type { Pool } from 'pg';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { IdempotencyCounters } from 'idempotent-sagas/store';

/** `idempotency_store_events_total{event, scope}`: what the store decided (replays, conflicts, leaseTakeovers, …), by key scope. */
export function registerStoreEvents(registry: Registry, counters: IdempotencyCounters): void {
  const events = new Counter({
    name: 'idempotency_store_events_total',
    help: 'Decisions of the idempotency store by event (executions, replays, conflicts, mismatches, abortRefusals, leaseTakeovers, fencedWrites, sagaClosedRefusals) and key scope (step, http, …).',
    labelNames: ['event', 'scope'] as const,
    registers: [registry],
  });
  for (const [scope, counts] of Object.entries(counters.snapshotByScope())) {
    for (const [event, value] of Object.entries(counts)) events.inc({ event, scope }, value);
  }
  counters.onIncrement((event, scope) => events.inc({ event, scope }));
}

const ORDER_STATUSES = ['PENDING', 'COMPLETED', 'COMPENSATED', 'COMPENSATION_STUCK'] as const;

/** `orders_by_status{status}` and the stuck-saga gauge `sagas_compensation_stuck`, counted at scrape time. */
export function registerSagaOutcomes(registry: Registry, pool: Pool): void {
  const counts = async (): Promise<Map<string, number>> => {
    const { rows } = await pool.query<{ status: string; n: string }>('SELECT status, count(*) AS n FROM orders GROUP BY status');
    return new Map(rows.map((r) => [r.status, Number(r.n)]));
  };
  new Gauge({
    name: 'orders_by_status',
    help: 'Orders by status (PENDING, COMPLETED, COMPENSATED, COMPENSATION_STUCK), counted at scrape time.',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      const byStatus = await counts();
      this.reset();
      for (const status of new Set([...ORDER_STATUSES, ...byStatus.keys()])) this.set({ status }, byStatus.get(status) ?? 0);
    },
  });
  new Gauge({
    name: 'sagas_compensation_stuck',
    help: 'Order sagas parked in COMPENSATION_STUCK, awaiting an operator (docs/runbook.md), counted at scrape time.',
    registers: [registry],
    async collect() {
      this.set((await counts()).get('COMPENSATION_STUCK') ?? 0);
    },
  });
}
