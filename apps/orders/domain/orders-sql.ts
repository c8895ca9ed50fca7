// One function per statement on orders, reservations, products and payments.
import type { Pool, PoolClient } from 'pg';
import type { OrderItem, OrderStatus } from './types';

type Db = Pool | PoolClient;

export type PricedLine = OrderItem & { priceCents: number };

export async function priceLines(db: Db, items: readonly OrderItem[]): Promise<{ lines: PricedLine[]; unknown: string[] }> {
  const { rows } = await db.query<{ sku: string; price_cents: number }>('SELECT sku, price_cents FROM products WHERE sku = ANY($1::text[])', [
    items.map((i) => i.sku),
  ]);
  const prices = new Map(rows.map((r) => [r.sku, r.price_cents]));
  const unknown = items.filter((i) => !prices.has(i.sku)).map((i) => i.sku);
  return { lines: items.map((i) => ({ ...i, priceCents: prices.get(i.sku) ?? 0 })), unknown };
}

/** Natural key: one order per ID. Returns false when the row already exists. */
export async function insertOrder(
  db: Db,
  o: { id: string; workflowId: string; tenantId: string; lines: PricedLine[]; totalCents: number; currency: string },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO orders (id, workflow_id, tenant_id, status, items, total_cents, currency)
     VALUES ($1, $2, $3, 'PENDING', $4::jsonb, $5, $6) ON CONFLICT (id) DO NOTHING`,
    [o.id, o.workflowId, o.tenantId, JSON.stringify(o.lines), o.totalCents, o.currency],
  );
  return rowCount === 1;
}

/**
 * Moves an order to `status`, never out of a terminal state (COMPLETED, COMPENSATED), and, given
 * `workflowId`, only the order that saga created. Returns false when nothing changed.
 */
export async function setOrderStatus(db: Db, orderId: string, status: OrderStatus, reason?: string, workflowId?: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE orders SET status = $2, failure_reason = COALESCE($3, failure_reason), updated_at = now(),
            first_stuck_at = CASE WHEN $2 = 'COMPENSATION_STUCK' THEN COALESCE(first_stuck_at, now()) ELSE first_stuck_at END
      WHERE id = $1 AND status NOT IN ('COMPLETED', 'COMPENSATED') AND ($4::text IS NULL OR workflow_id = $4)`,
    [orderId, status, reason ?? null, workflowId ?? null],
  );
  return rowCount === 1;
}

/** Moves `quantity` from on_hand to reserved; false when there is not enough stock. */
export async function holdStock(db: Db, sku: string, quantity: number): Promise<boolean> {
  const { rowCount } = await db.query(`UPDATE products SET on_hand = on_hand - $2, reserved = reserved + $2 WHERE sku = $1 AND on_hand >= $2`, [sku, quantity]);
  return rowCount === 1;
}

export async function availableStock(db: Db, sku: string): Promise<number | undefined> {
  const { rows } = await db.query<{ on_hand: number }>('SELECT on_hand FROM products WHERE sku = $1', [sku]);
  return rows[0]?.on_hand;
}

/** Natural key: one reservation per (order, product); a second insert fails loudly. */
export async function insertReservation(db: Db, orderId: string, sku: string, quantity: number): Promise<void> {
  await db.query(`INSERT INTO reservations (order_id, sku, quantity, status) VALUES ($1, $2, $3, 'held')`, [orderId, sku, quantity]);
}

/** Releases a held reservation back to on_hand; returns the quantity released (0 if none was held). */
export async function releaseReservation(db: Db, orderId: string, sku: string): Promise<number> {
  const { rows } = await db.query<{ quantity: number }>(
    `UPDATE reservations SET status = 'released', updated_at = now()
      WHERE order_id = $1 AND sku = $2 AND status = 'held' RETURNING quantity`,
    [orderId, sku],
  );
  const quantity = rows[0]?.quantity ?? 0;
  if (quantity > 0) {
    await db.query('UPDATE products SET on_hand = on_hand + $2, reserved = reserved - $2 WHERE sku = $1', [sku, quantity]);
  }
  return quantity;
}

/** Turns every held reservation of the order into a sale. */
export async function consumeReservations(db: Db, orderId: string): Promise<number> {
  const { rows } = await db.query<{ sku: string; quantity: number }>(
    `UPDATE reservations SET status = 'consumed', updated_at = now()
      WHERE order_id = $1 AND status = 'held' RETURNING sku, quantity`,
    [orderId],
  );
  for (const r of rows) {
    await db.query('UPDATE products SET reserved = reserved - $2, sold = sold + $2 WHERE sku = $1', [r.sku, r.quantity]);
  }
  return rows.length;
}

/**
 * One payment per order: inserted unless the order has one. No conflict target, so it also runs where
 * the natural keys are switched off (chaos --no-natural-keys): there only the store keeps it single,
 * and a second row would show in the invariants; with them on, a racing twin is absorbed.
 */
export async function upsertCapturedPayment(
  db: Db,
  p: { orderId: string; idempotencyKey: string; chargeId: string; amountCents: number; currency: string },
): Promise<void> {
  await db.query(
    `INSERT INTO payments (order_id, idempotency_key, charge_id, amount_cents, currency, status)
     SELECT $1, $2, $3, $4, $5, 'captured' WHERE NOT EXISTS (SELECT 1 FROM payments WHERE order_id = $1)
     ON CONFLICT DO NOTHING`,
    [p.orderId, p.idempotencyKey, p.chargeId, p.amountCents, p.currency],
  );
}

/** Mirrors a refund into payments; `idempotencyKey` given, only the payment made with that key. */
export async function markPaymentRefunded(db: Db, orderId: string, refundId: string | null, idempotencyKey?: string): Promise<void> {
  await db.query(
    `UPDATE payments SET status = 'refunded', refund_id = COALESCE($2, refund_id), updated_at = now()
      WHERE order_id = $1 AND ($3::text IS NULL OR idempotency_key = $3)`,
    [orderId, refundId, idempotencyKey ?? null],
  );
}

/** What an order's events carry: its tenant, lines and total. */
export async function orderSummary(
  db: Db,
  orderId: string,
): Promise<{ tenantId: string; items: Array<{ sku: string; quantity: number }>; totalCents: number; currency: string } | undefined> {
  const { rows } = await db.query<{ tenant_id: string; items: PricedLine[]; total_cents: number; currency: string }>(
    'SELECT tenant_id, items, total_cents, currency FROM orders WHERE id = $1',
    [orderId],
  );
  const r = rows[0];
  return (
    r && { tenantId: r.tenant_id, items: r.items.map(({ sku, quantity }) => ({ sku, quantity })), totalCents: Number(r.total_cents), currency: r.currency }
  );
}
