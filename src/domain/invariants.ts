// The invariants of DESIGN §6, checked by code from our tables and from the gateway's own.
import type { Pool } from 'pg';

export type InvariantReport = {
  orders: number;
  completed: number;
  compensated: number;
  stuck: number;
  nonTerminal: number;
  /** Orders with more than one unrefunded successful charge at the gateway. */
  doubleCharges: number;
  /** (order, product) pairs reserved more than once, plus products whose reserved/sold counters disagree with the reservations. */
  doubleReservations: number;
  violations: string[];
  invariantsHeld: boolean;
};

const count = async (pool: Pool, sql: string): Promise<number> => Number((await pool.query<{ n: string }>(sql)).rows[0]?.n ?? 0);

/** Each check is a query returning the offending rows' descriptions; an empty result means it holds. */
const CHECKS: Array<{ name: string; sql: string }> = [
  {
    name: 'a COMPLETED order has exactly one captured charge equal to its total',
    sql: `SELECT o.id AS what FROM orders o
          LEFT JOIN gateway_charges c ON c.order_id = o.id AND c.status = 'succeeded'
            AND NOT EXISTS (SELECT 1 FROM gateway_refunds r WHERE r.charge_id = c.id)
          WHERE o.status = 'COMPLETED'
          GROUP BY o.id, o.total_cents
          HAVING count(c.id) <> 1 OR sum(c.amount) <> o.total_cents`,
  },
  {
    name: 'a COMPLETED order has all its reservations consumed, one per item',
    sql: `SELECT o.id AS what FROM orders o
          WHERE o.status = 'COMPLETED' AND (
            (SELECT count(*) FROM reservations r WHERE r.order_id = o.id AND r.status = 'consumed') <> jsonb_array_length(o.items)
            OR EXISTS (SELECT 1 FROM reservations r WHERE r.order_id = o.id AND r.status <> 'consumed'))`,
  },
  {
    name: 'a COMPENSATED order has a net charge of zero',
    sql: `SELECT o.id AS what FROM orders o
          JOIN gateway_charges c ON c.order_id = o.id AND c.status = 'succeeded'
          WHERE o.status = 'COMPENSATED' AND NOT EXISTS (SELECT 1 FROM gateway_refunds r WHERE r.charge_id = c.id)`,
  },
  {
    name: 'a COMPENSATED order holds no stock',
    sql: `SELECT DISTINCT o.id AS what FROM orders o JOIN reservations r ON r.order_id = o.id
          WHERE o.status = 'COMPENSATED' AND r.status <> 'released'`,
  },
  {
    name: 'a COMPENSATED order records its reason',
    sql: `SELECT id AS what FROM orders WHERE status = 'COMPENSATED' AND coalesce(failure_reason, '') = ''`,
  },
  {
    name: 'stock is never negative',
    sql: `SELECT sku AS what FROM products WHERE on_hand < 0 OR reserved < 0 OR sold < 0`,
  },
  {
    name: 'on-hand + reserved + sold is conserved per product',
    sql: `SELECT sku AS what FROM products WHERE on_hand + reserved + sold <> total_stock`,
  },
  {
    name: 'the gateway never holds two charges for one idempotency key',
    sql: `SELECT idempotency_key AS what FROM gateway_charges GROUP BY idempotency_key HAVING count(*) > 1`,
  },
  {
    // DESIGN §10: a saga's step records live while it is open (cleanup never takes them).
    name: 'every order whose saga is open still has the step records of what it applied',
    sql: `SELECT DISTINCT o.id || ' (' || x.step || ')' AS what FROM orders o
          CROSS JOIN LATERAL (
            SELECT 'create-order' AS step
            UNION ALL SELECT 'reserve:' || r.sku FROM reservations r WHERE r.order_id = o.id
            UNION ALL SELECT 'charge' FROM payments p WHERE p.order_id = o.id) x
          WHERE o.status IN ('PENDING', 'COMPENSATION_STUCK')
            AND NOT EXISTS (SELECT 1 FROM idempotency_keys k WHERE k.scope = 'step' AND k.key = o.workflow_id || '/' || x.step)`,
  },
  {
    name: 'our payments agree with the gateway',
    sql: `SELECT p.order_id AS what FROM payments p
          LEFT JOIN gateway_charges c ON c.id = p.charge_id
          WHERE c.id IS NULL OR c.idempotency_key <> p.idempotency_key OR c.amount <> p.amount_cents
             OR (p.status = 'refunded') <> EXISTS (SELECT 1 FROM gateway_refunds r WHERE r.charge_id = c.id)`,
  },
];

/** Checks every invariant over the whole database (orders of all runs, the whole gateway). */
export async function checkInvariants(pool: Pool): Promise<InvariantReport> {
  const byStatus = await pool.query<{ status: string; n: string }>('SELECT status, count(*) AS n FROM orders GROUP BY status');
  const statusCount = (s: string): number => Number(byStatus.rows.find((r) => r.status === s)?.n ?? 0);
  const violations: string[] = [];
  for (const check of CHECKS) {
    const { rows } = await pool.query<{ what: string }>(check.sql);
    if (rows.length > 0) violations.push(`${check.name}: violated by ${rows.slice(0, 5).map((r) => r.what).join(', ')}${rows.length > 5 ? ` and ${rows.length - 5} more` : ''}`);
  }
  const doubleCharges = await count(
    pool,
    `SELECT count(*) AS n FROM (
       SELECT c.order_id FROM gateway_charges c
        WHERE c.status = 'succeeded' AND c.order_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM gateway_refunds r WHERE r.charge_id = c.id)
        GROUP BY c.order_id HAVING count(*) > 1) d`,
  );
  const doubleReservations =
    (await count(pool, `SELECT count(*) AS n FROM (SELECT 1 FROM reservations GROUP BY order_id, sku HAVING count(*) > 1) d`)) +
    (await count(
      pool,
      `SELECT count(*) AS n FROM products p
        WHERE p.reserved <> coalesce((SELECT sum(quantity) FROM reservations r WHERE r.sku = p.sku AND r.status = 'held'), 0)
           OR p.sold <> coalesce((SELECT sum(quantity) FROM reservations r WHERE r.sku = p.sku AND r.status = 'consumed'), 0)`,
    ));
  if (doubleCharges > 0) violations.push(`${doubleCharges} order(s) charged more than once`);
  if (doubleReservations > 0) violations.push(`${doubleReservations} double or inconsistent reservation(s)`);
  const nonTerminal = statusCount('PENDING');
  if (nonTerminal > 0) violations.push(`${nonTerminal} order(s) not in a terminal state`);
  const orders = byStatus.rows.reduce((sum, r) => sum + Number(r.n), 0);
  return {
    orders,
    completed: statusCount('COMPLETED'),
    compensated: statusCount('COMPENSATED'),
    stuck: statusCount('COMPENSATION_STUCK'),
    nonTerminal,
    doubleCharges,
    doubleReservations,
    violations,
    invariantsHeld: violations.length === 0,
  };
}
