// The events' end-to-end invariant, read from both sides: every terminal order has exactly one
// shipping action of its kind (a shipment for COMPLETED, a cancellation for COMPENSATED), none twice.
import type { Pool } from 'pg';

export type EventWitness = {
  /** Order events the broker acknowledged (marked published). */
  eventsPublished: number;
  /** Order events not yet published. */
  eventsUnpublished: number;
  /** Order events shipping applied (its inbox rows). */
  eventsApplied: number;
  /** Terminal orders whose shipping action is missing. */
  eventsMissing: number;
  /** (order, kind) pairs shipping applied more than once. */
  eventsAppliedTwice: number;
  /** Shipping actions that do not match their order's final status (a shipment for a compensated order, …). */
  eventsMismatched: number;
};

/** The witness over every order, or those whose ID matches the LIKE pattern `orderIdLike` (one run's). */
export async function witnessEvents(pool: Pool, orderIdLike = '%'): Promise<EventWitness> {
  const { rows } = await pool.query<EventWitness>(
    `SELECT
       (SELECT count(*) FROM outbox_events WHERE type LIKE 'order.%' AND aggregate_id LIKE $1 AND published_at IS NOT NULL)::int AS "eventsPublished",
       (SELECT count(*) FROM outbox_events WHERE type LIKE 'order.%' AND aggregate_id LIKE $1 AND published_at IS NULL)::int AS "eventsUnpublished",
       (SELECT count(*) FROM shipping_inbox i JOIN outbox_events e ON e.event_id = i.event_id WHERE e.aggregate_id LIKE $1)::int AS "eventsApplied",
       (SELECT count(*) FROM orders o
         WHERE o.id LIKE $1 AND o.status IN ('COMPLETED', 'COMPENSATED')
           AND NOT EXISTS (SELECT 1 FROM shipping_actions a
                            WHERE a.order_id = o.id AND a.kind = CASE o.status WHEN 'COMPLETED' THEN 'shipment' ELSE 'cancellation' END))::int AS "eventsMissing",
       (SELECT count(*) FROM (SELECT 1 FROM shipping_actions WHERE order_id LIKE $1 GROUP BY order_id, kind HAVING count(*) > 1) twice)::int AS "eventsAppliedTwice",
       (SELECT count(*) FROM shipping_actions a JOIN orders o ON o.id = a.order_id
         WHERE a.order_id LIKE $1 AND o.status IS DISTINCT FROM CASE a.kind WHEN 'shipment' THEN 'COMPLETED' ELSE 'COMPENSATED' END)::int AS "eventsMismatched"`,
    [orderIdLike],
  );
  return rows[0]!;
}

/** Waits (polling) until every order event is published and applied, or `timeoutMs` passes; returns the last witness. */
export async function settleEvents(pool: Pool, orderIdLike = '%', timeoutMs = 30_000): Promise<EventWitness> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const w = await witnessEvents(pool, orderIdLike);
    if ((w.eventsUnpublished === 0 && w.eventsMissing === 0) || Date.now() > deadline) return w;
    await new Promise((r) => setTimeout(r, 200));
  }
}
