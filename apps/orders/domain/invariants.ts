// The invariants of DESIGN §6, checked by code from our tables and from the gateway's own.
import type { Pool } from 'pg';

/** One invariant as checked: how many rows break it, a few of them, and the constraint (if any) that already guarantees it. */
export type InvariantCheck = {
  id: string;
  name: string;
  /** A database constraint that guarantees this invariant on its own: the check is then a second witness, and can fail only with the constraint gone. */
  guaranteedBy?: string;
  count: number;
  examples: string[];
};

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
  /** Every invariant, in a fixed order, each with its count (0 = it holds). */
  checks: InvariantCheck[];
  violations: string[];
  invariantsHeld: boolean;
};

const UNREFUNDED = `NOT EXISTS (SELECT 1 FROM gateway_refunds r WHERE r.charge_id = c.id)`;

/** A check: a query returning one row per offence (`what` names it); an empty result means it holds. */
type Check = { id: string; name: string; guaranteedBy?: string; sql: string };

/** A check that no value of a key expression stands in two rows of its table (one query per key, labelled when several). */
function noDuplicates(id: string, name: string, guaranteedBy: string, keys: Array<{ table: string; key: string; label?: string }>): Check {
  const sql = keys
    .map(({ table, key, label }) => `SELECT ${label ? `'${label} ' || ` : ''}${key} AS what FROM ${table} GROUP BY ${key} HAVING count(*) > 1`)
    .join(' UNION ALL ');
  return { id, name, guaranteedBy, sql };
}

const CHECKS: Check[] = [
  {
    id: 'terminal',
    name: 'every order is COMPLETED, COMPENSATED or COMPENSATION_STUCK (none left PENDING)',
    sql: `SELECT id AS what FROM orders WHERE status = 'PENDING'`,
  },
  {
    id: 'completed-charge',
    name: 'a COMPLETED order has exactly one captured charge equal to its total',
    sql: `SELECT o.id AS what FROM orders o
          LEFT JOIN gateway_charges c ON c.order_id = o.id AND c.status = 'succeeded' AND ${UNREFUNDED}
          WHERE o.status = 'COMPLETED'
          GROUP BY o.id, o.total_cents
          HAVING count(c.id) <> 1 OR sum(c.amount) <> o.total_cents`,
  },
  {
    id: 'completed-reservations',
    name: 'a COMPLETED order has all its reservations consumed, one per item',
    sql: `SELECT o.id AS what FROM orders o
          WHERE o.status = 'COMPLETED' AND (
            (SELECT count(*) FROM reservations r WHERE r.order_id = o.id AND r.status = 'consumed') <> jsonb_array_length(o.items)
            OR EXISTS (SELECT 1 FROM reservations r WHERE r.order_id = o.id AND r.status <> 'consumed'))`,
  },
  {
    id: 'compensated-charge',
    name: 'a COMPENSATED order has a net charge of zero',
    sql: `SELECT DISTINCT o.id AS what FROM orders o
          JOIN gateway_charges c ON c.order_id = o.id AND c.status = 'succeeded'
          WHERE o.status = 'COMPENSATED' AND ${UNREFUNDED}`,
  },
  {
    id: 'compensated-stock',
    name: 'a COMPENSATED order holds no stock',
    sql: `SELECT DISTINCT o.id AS what FROM orders o JOIN reservations r ON r.order_id = o.id
          WHERE o.status = 'COMPENSATED' AND r.status <> 'released'`,
  },
  {
    id: 'compensated-reason',
    name: 'a COMPENSATED order records its reason',
    sql: `SELECT id AS what FROM orders WHERE status = 'COMPENSATED' AND coalesce(failure_reason, '') = ''`,
  },
  {
    // DESIGN §5: while stuck, exactly the steps not yet compensated still hold stock or money.
    id: 'stuck-consistent',
    name: 'a COMPENSATION_STUCK order still holds exactly what its uncompensated steps applied',
    sql: `SELECT o.id || ' (reserve:' || r.sku || ')' AS what FROM orders o
          JOIN reservations r ON r.order_id = o.id
          LEFT JOIN idempotency_keys k ON k.scope = 'step' AND k.key = o.workflow_id || '/reserve:' || r.sku
          WHERE o.status = 'COMPENSATION_STUCK' AND (r.status = 'held') <> (coalesce(k.status, '') = 'completed')
          UNION ALL
          SELECT o.id || ' (charge ' || c.id || ')' FROM orders o
          JOIN gateway_charges c ON c.order_id = o.id AND c.status = 'succeeded'
          LEFT JOIN idempotency_keys k ON k.scope = 'step' AND k.key = o.workflow_id || '/charge'
          WHERE o.status = 'COMPENSATION_STUCK' AND ${UNREFUNDED} = (coalesce(k.status, '') = 'compensated')`,
  },
  {
    id: 'stock-non-negative',
    name: 'stock is never negative',
    guaranteedBy: 'CHECK (on_hand >= 0), (reserved >= 0), (sold >= 0) on products',
    sql: `SELECT sku AS what FROM products WHERE on_hand < 0 OR reserved < 0 OR sold < 0`,
  },
  {
    id: 'stock-conserved',
    name: 'on-hand + reserved + sold is conserved per product',
    sql: `SELECT sku AS what FROM products WHERE on_hand + reserved + sold <> total_stock`,
  },
  noDuplicates('gateway-key-unique', 'the gateway never holds two charges for one idempotency key', 'UNIQUE (idempotency_key) on gateway_charges', [
    { table: 'gateway_charges', key: 'idempotency_key' },
  ]),
  {
    id: 'double-charges',
    name: 'no order is charged twice',
    sql: `SELECT c.order_id AS what FROM gateway_charges c
          WHERE c.status = 'succeeded' AND c.order_id IS NOT NULL AND ${UNREFUNDED}
          GROUP BY c.order_id HAVING count(*) > 1`,
  },
  noDuplicates('reservation-unique', 'no (order, product) pair is reserved twice', 'PRIMARY KEY (order_id, sku) on reservations', [
    { table: 'reservations', key: "order_id || ' ' || sku" },
  ]),
  noDuplicates('payment-unique', 'one payment row per order and per charge', 'PRIMARY KEY (order_id) and UNIQUE (charge_id) on payments', [
    { table: 'payments', key: 'order_id', label: 'order' },
    { table: 'payments', key: 'charge_id', label: 'charge' },
  ]),
  noDuplicates('order-saga-unique', 'one order row per saga', 'UNIQUE (workflow_id) on orders', [{ table: 'orders', key: 'workflow_id' }]),
  {
    id: 'stock-counters',
    name: "each product's reserved and sold counters match its reservations",
    sql: `SELECT p.sku AS what FROM products p
          WHERE p.reserved <> coalesce((SELECT sum(quantity) FROM reservations r WHERE r.sku = p.sku AND r.status = 'held'), 0)
             OR p.sold <> coalesce((SELECT sum(quantity) FROM reservations r WHERE r.sku = p.sku AND r.status = 'consumed'), 0)`,
  },
  {
    // DESIGN §10: a saga's step records live while it is open (cleanup never takes them).
    id: 'open-saga-records',
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
    id: 'payments-mirror',
    name: 'our payments agree with the gateway',
    sql: `SELECT p.order_id AS what FROM payments p
          LEFT JOIN gateway_charges c ON c.id = p.charge_id
          WHERE c.id IS NULL OR c.idempotency_key <> p.idempotency_key OR c.amount <> p.amount_cents
             OR (p.status = 'refunded') <> EXISTS (SELECT 1 FROM gateway_refunds r WHERE r.charge_id = c.id)`,
  },
];

/** The IDs of every invariant checkInvariants reports, in order. */
export const INVARIANT_IDS = CHECKS.map((c) => c.id);

const EXAMPLES = 5;

/** Checks every invariant over the whole database (orders of all runs, the whole gateway). */
export async function checkInvariants(pool: Pool): Promise<InvariantReport> {
  const byStatus = await pool.query<{ status: string; n: string }>('SELECT status, count(*) AS n FROM orders GROUP BY status');
  const statusCount = (s: string): number => Number(byStatus.rows.find((r) => r.status === s)?.n ?? 0);
  const checks: InvariantCheck[] = [];
  for (const check of CHECKS) {
    const { rows } = await pool.query<{ what: string }>(check.sql);
    checks.push({
      id: check.id,
      name: check.name,
      ...(check.guaranteedBy !== undefined && { guaranteedBy: check.guaranteedBy }),
      count: rows.length,
      examples: rows.slice(0, EXAMPLES).map((r) => r.what),
    });
  }
  const countOf = (id: string): number => checks.find((c) => c.id === id)?.count ?? 0;
  const violations = checks
    .filter((c) => c.count > 0)
    .map((c) => `${c.name}: violated by ${c.count} (${c.examples.join(', ')}${c.count > EXAMPLES ? ', …' : ''})`);
  const orders = byStatus.rows.reduce((sum, r) => sum + Number(r.n), 0);
  return {
    orders,
    completed: statusCount('COMPLETED'),
    compensated: statusCount('COMPENSATED'),
    stuck: statusCount('COMPENSATION_STUCK'),
    nonTerminal: statusCount('PENDING'),
    doubleCharges: countOf('double-charges'),
    doubleReservations: countOf('reservation-unique') + countOf('stock-counters'),
    checks,
    violations,
    invariantsHeld: violations.length === 0,
  };
}
