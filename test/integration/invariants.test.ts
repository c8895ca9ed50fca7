// The invariant checker is itself tested: for every invariant, a scratch database gets exactly that
// violation (bypassing a constraint where one guarantees it) and the check must report it, with the
// count, while every other check stays at 0. A check whose query returned nothing would fail here.
import { INVARIANT_IDS, checkInvariants, type InvariantReport } from '../../apps/orders/domain/invariants';
import { createTestDatabase, type TestDatabase } from '../helpers/database';

type Db = TestDatabase;

async function withScratch(seed: (db: Db) => Promise<void>): Promise<InvariantReport> {
  const db = await createTestDatabase({ poolMax: 2 });
  try {
    await seed(db);
    return await checkInvariants(db.pool);
  } finally {
    await db.drop();
  }
}

const q = (db: Db, sql: string, params: unknown[] = []): Promise<unknown> => db.pool.query(sql, params);

async function product(db: Db, sku: string, s: { total?: number; onHand?: number; reserved?: number; sold?: number } = {}): Promise<void> {
  const onHand = s.onHand ?? 10;
  const reserved = s.reserved ?? 0;
  const sold = s.sold ?? 0;
  await q(db, `INSERT INTO products (sku, name, price_cents, total_stock, on_hand, reserved, sold) VALUES ($1, $1, 100, $2, $3, $4, $5)`, [
    sku,
    s.total ?? onHand + reserved + sold,
    onHand,
    reserved,
    sold,
  ]);
}

async function order(
  db: Db,
  id: string,
  status: string,
  opts: { skus?: string[]; total?: number; reason?: string | null; workflowId?: string } = {},
): Promise<void> {
  const items = (opts.skus ?? []).map((sku) => ({ sku, quantity: 1, priceCents: 100 }));
  const reason = opts.reason === undefined ? (status === 'COMPENSATED' ? 'test' : null) : opts.reason;
  await q(
    db,
    `INSERT INTO orders (id, workflow_id, tenant_id, status, items, total_cents, currency, failure_reason) VALUES ($1, $2, 't', $3, $4::jsonb, $5, 'EUR', $6)`,
    [id, opts.workflowId ?? `order-${id}`, status, JSON.stringify(items), opts.total ?? 100, reason],
  );
}

async function reservation(db: Db, orderId: string, sku: string, status: 'held' | 'released' | 'consumed'): Promise<void> {
  await q(db, `INSERT INTO reservations (order_id, sku, quantity, status) VALUES ($1, $2, 1, $3)`, [orderId, sku, status]);
}

async function charge(db: Db, id: string, orderId: string, opts: { key?: string; amount?: number; refunded?: boolean } = {}): Promise<void> {
  await q(
    db,
    `INSERT INTO gateway_charges (id, idempotency_key, fingerprint, amount, currency, payment_token, order_id, status, response_status, response_body)
     VALUES ($1, $2, 'fp', $3, 'eur', 'tok_visa', $4, 'succeeded', 201, '{}')`,
    [id, opts.key ?? `order-${orderId}/charge`, opts.amount ?? 100, orderId],
  );
  if (opts.refunded) await q(db, `INSERT INTO gateway_refunds (id, charge_id, amount) VALUES ($1, $2, $3)`, [`re_${id}`, id, opts.amount ?? 100]);
}

async function payment(db: Db, orderId: string, chargeId: string, status: 'captured' | 'refunded' = 'captured'): Promise<void> {
  await q(db, `INSERT INTO payments (order_id, idempotency_key, charge_id, amount_cents, currency, status) VALUES ($1, $2, $3, 100, 'EUR', $4)`, [
    orderId,
    `order-${orderId}/charge`,
    chargeId,
    status,
  ]);
}

async function record(db: Db, orderId: string, step: string, status: string): Promise<void> {
  await q(db, `INSERT INTO idempotency_keys (scope, key, saga_id, status) VALUES ('step', $1, $2, $3)`, [
    `order-${orderId}/${step}`,
    `order-${orderId}`,
    status,
  ]);
}

/** A consistent COMPLETED order: one consumed reservation of `sku`, one captured charge, its payment row. */
async function completedOrder(db: Db, id: string, sku: string): Promise<void> {
  await order(db, id, 'COMPLETED', { skus: [sku] });
  await reservation(db, id, sku, 'consumed');
  await charge(db, `ch_${id}`, id);
  await payment(db, id, `ch_${id}`);
}

/** The report holds exactly `id`'s violation, `count` rows of it, and nothing else. */
function expectOnly(report: InvariantReport, id: string, count: number): void {
  const broken = report.checks.filter((c) => c.count > 0).map((c) => [c.id, c.count]);
  expect(broken).toEqual([[id, count]]);
  expect(report.invariantsHeld).toBe(false);
  expect(report.violations).toHaveLength(1);
}

const seeded: Record<string, (db: Db) => Promise<void>> = {
  terminal: async (db) => {
    for (const id of ['p1', 'p2']) {
      await order(db, id, 'PENDING');
      await record(db, id, 'create-order', 'completed');
    }
  },
  'completed-charge': async (db) => {
    await product(db, 'SKU-A', { onHand: 9, sold: 1 });
    await order(db, 'c1', 'COMPLETED', { skus: ['SKU-A'] });
    await reservation(db, 'c1', 'SKU-A', 'consumed'); // no charge at all
  },
  'completed-reservations': async (db) => {
    await product(db, 'SKU-A', { onHand: 9, reserved: 1 });
    await order(db, 'c1', 'COMPLETED', { skus: ['SKU-A'] });
    await reservation(db, 'c1', 'SKU-A', 'held'); // never consumed
    await charge(db, 'ch_c1', 'c1');
    await payment(db, 'c1', 'ch_c1');
  },
  'compensated-charge': async (db) => {
    await order(db, 'x1', 'COMPENSATED');
    await charge(db, 'ch_x1', 'x1'); // captured, never refunded
    await payment(db, 'x1', 'ch_x1');
  },
  'compensated-stock': async (db) => {
    await product(db, 'SKU-A', { onHand: 9, reserved: 1 });
    await order(db, 'x1', 'COMPENSATED', { skus: ['SKU-A'] });
    await reservation(db, 'x1', 'SKU-A', 'held'); // never released
  },
  'compensated-reason': async (db) => {
    await order(db, 'x1', 'COMPENSATED', { reason: '' });
  },
  'stuck-consistent': async (db) => {
    await product(db, 'SKU-A', { onHand: 9, reserved: 1 });
    await product(db, 'SKU-B', { onHand: 10 });
    await order(db, 's1', 'COMPENSATION_STUCK', { skus: ['SKU-A', 'SKU-B'] });
    await record(db, 's1', 'create-order', 'completed');
    // Still held although its step says compensated; released although its step says applied; refunded although the charge step is not compensated.
    await reservation(db, 's1', 'SKU-A', 'held');
    await record(db, 's1', 'reserve:SKU-A', 'compensated');
    await reservation(db, 's1', 'SKU-B', 'released');
    await record(db, 's1', 'reserve:SKU-B', 'completed');
    await charge(db, 'ch_s1', 's1', { refunded: true });
    await payment(db, 's1', 'ch_s1', 'refunded');
    await record(db, 's1', 'charge', 'completed');
  },
  'stock-non-negative': async (db) => {
    // Guaranteed by CHECK constraints: dropped in this scratch database to seed it.
    await q(db, `ALTER TABLE products DROP CONSTRAINT products_on_hand_check, DROP CONSTRAINT products_total_stock_check`);
    await product(db, 'SKU-A', { onHand: -1, total: -1 });
  },
  'stock-conserved': async (db) => {
    await product(db, 'SKU-A', { onHand: 10, total: 12 });
  },
  'gateway-key-unique': async (db) => {
    await q(db, `ALTER TABLE gateway_charges DROP CONSTRAINT gateway_charges_idempotency_key_key`);
    await product(db, 'SKU-A', { onHand: 9, sold: 1 });
    await completedOrder(db, 'c1', 'SKU-A');
    await charge(db, 'ch_c1_again', 'c1', { key: 'order-c1/charge', refunded: true }); // same key, refunded: only the key check breaks
  },
  'double-charges': async (db) => {
    // Two unrefunded charges under two keys for one order (with no order row, so no other check sees them).
    await charge(db, 'ch_lone_1', 'no-row', { key: 'k-1' });
    await charge(db, 'ch_lone_2', 'no-row', { key: 'k-2' });
  },
  'reservation-unique': async (db) => {
    await q(db, `ALTER TABLE reservations DROP CONSTRAINT reservations_pkey`);
    await product(db, 'SKU-A', { onHand: 8, reserved: 0, sold: 2 });
    await order(db, 'c1', 'COMPLETED', { skus: ['SKU-A'] });
    await charge(db, 'ch_c1', 'c1');
    await payment(db, 'c1', 'ch_c1');
    await reservation(db, 'c1', 'SKU-A', 'consumed');
    await reservation(db, 'c1', 'SKU-A', 'consumed');
    await q(db, `UPDATE orders SET items = '[{"sku":"SKU-A","quantity":1},{"sku":"SKU-A","quantity":1}]' WHERE id = 'c1'`);
  },
  'payment-unique': async (db) => {
    await q(db, `ALTER TABLE payments DROP CONSTRAINT payments_pkey, DROP CONSTRAINT payments_charge_id_key, DROP CONSTRAINT payments_idempotency_key_key`);
    await product(db, 'SKU-A', { onHand: 9, sold: 1 });
    await completedOrder(db, 'c1', 'SKU-A');
    await payment(db, 'c1', 'ch_c1'); // the same payment mirrored twice: a duplicate per order and per charge
  },
  'order-saga-unique': async (db) => {
    await q(db, `ALTER TABLE orders DROP CONSTRAINT orders_workflow_id_key`);
    await order(db, 'x1', 'COMPENSATED', { workflowId: 'order-shared' });
    await order(db, 'x2', 'COMPENSATED', { workflowId: 'order-shared' });
  },
  'stock-counters': async (db) => {
    await product(db, 'SKU-A', { onHand: 9, reserved: 1 }); // reserved 1, but no held reservation
  },
  'open-saga-records': async (db) => {
    await order(db, 's1', 'COMPENSATION_STUCK'); // no create-order record
  },
  'payments-mirror': async (db) => {
    await product(db, 'SKU-A', { onHand: 9, sold: 1 });
    await completedOrder(db, 'c1', 'SKU-A');
    await q(db, `UPDATE payments SET status = 'refunded' WHERE order_id = 'c1'`); // the gateway holds no refund
  },
};

const expectedCount: Record<string, number> = { terminal: 2, 'stuck-consistent': 3, 'payment-unique': 2 };

test('every invariant has a seeded violation here', () => {
  expect(Object.keys(seeded).sort()).toEqual([...INVARIANT_IDS].sort());
});

test('a consistent database breaks none', async () => {
  const report = await withScratch(async (db) => {
    await product(db, 'SKU-A', { onHand: 8, reserved: 1, sold: 1 });
    await completedOrder(db, 'c1', 'SKU-A');
    await order(db, 'x1', 'COMPENSATED', { skus: ['SKU-A'] });
    await reservation(db, 'x1', 'SKU-A', 'released');
    await charge(db, 'ch_x1', 'x1', { refunded: true });
    await payment(db, 'x1', 'ch_x1', 'refunded');
    await order(db, 's1', 'COMPENSATION_STUCK', { skus: ['SKU-A'] });
    await record(db, 's1', 'create-order', 'completed');
    await reservation(db, 's1', 'SKU-A', 'held');
    await record(db, 's1', 'reserve:SKU-A', 'completed');
  });
  expect(report.checks.filter((c) => c.count > 0)).toEqual([]);
  expect(report).toMatchObject({ invariantsHeld: true, completed: 1, compensated: 1, stuck: 1, doubleCharges: 0, doubleReservations: 0 });
});

test.each(INVARIANT_IDS)('%s: its seeded violation is reported, with the count, and nothing else', async (id) => {
  const seed = seeded[id];
  if (!seed) throw new Error(`no seed for ${id}`);
  const report = await withScratch(seed);
  expectOnly(report, id, expectedCount[id] ?? 1);
  if (id === 'double-charges') expect(report.doubleCharges).toBe(1);
  if (id === 'reservation-unique' || id === 'stock-counters') expect(report.doubleReservations).toBe(1);
});

test('invariants a constraint guarantees say which constraint', async () => {
  const report = await withScratch(async () => {});
  const guaranteed = Object.fromEntries(report.checks.filter((c) => c.guaranteedBy).map((c) => [c.id, c.guaranteedBy]));
  expect(guaranteed).toEqual({
    'stock-non-negative': expect.stringContaining('CHECK') as unknown,
    'gateway-key-unique': expect.stringContaining('UNIQUE (idempotency_key)') as unknown,
    'reservation-unique': expect.stringContaining('PRIMARY KEY (order_id, sku)') as unknown,
    'payment-unique': expect.stringContaining('PRIMARY KEY (order_id)') as unknown,
    'order-saga-unique': expect.stringContaining('UNIQUE (workflow_id)') as unknown,
  });
});
