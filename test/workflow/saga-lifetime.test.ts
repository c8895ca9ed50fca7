// Guarantees over the life of a saga (DESIGN §10), with time compressed: a 2 s TTL (configuration:
// the store's defaultTtlSeconds) and cleanup running every second through the whole file. Every
// case counts effects in our tables and the gateway's.
import { checkInvariants } from '../../apps/orders/domain/invariants';
import { CleanupLoop } from 'idempotent-sagas/store';
import { sagaStateQuery, type PlaceOrderResult } from '../../apps/orders/workflows/messages';
import { resolveCompensationUpdate } from 'idempotent-sagas/workflow';
import { createOrderStack, type OrderStack } from '../helpers/order-stack';
import { waitFor } from '../helpers/wait';

const TTL_S = 2;
let stack: OrderStack;
let cleanup: CleanupLoop;

beforeAll(async () => {
  stack = await createOrderStack({ stock: 100, leaseMs: 1500, ttlSeconds: TTL_S, gatewayTimeoutMs: 1000 });
  cleanup = new CleanupLoop(stack.store, { everyMs: 1000, batchSize: 100 });
  cleanup.start();
  await stack.startWorker();
});
afterAll(async () => {
  await cleanup?.stop();
  await stack?.stop();
});
beforeEach(() => stack.faults.replace({ seed: 1 }));

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const refunds = (orderId: string): Promise<number> => stack.refunds(orderId);
const charges = (orderId: string): Promise<number> => stack.count('SELECT count(*) AS n FROM gateway_charges WHERE order_id = $1', [orderId]);
const orderRow = async (orderId: string) =>
  (
    await stack.db.pool.query<{ status: string; updated_at: Date; failure_reason: string | null }>(
      'SELECT status, updated_at, failure_reason FROM orders WHERE id = $1',
      [orderId],
    )
  ).rows[0];
const sagaKeys = async (workflowId: string): Promise<string[]> =>
  (await stack.db.pool.query<{ key: string }>('SELECT key FROM idempotency_keys WHERE saga_id = $1 ORDER BY key', [workflowId])).rows.map((r) => r.key);
const held = (orderId: string): Promise<number> => stack.count(`SELECT count(*) AS n FROM reservations WHERE order_id = $1 AND status = 'held'`, [orderId]);

/** A record with a life of its own (no saga), written now: gone after the TTL, which proves cleanup ran meanwhile. */
async function control(key: string): Promise<void> {
  await stack.store.runOnce({ scope: 'control', key, request: {}, effect: async () => null });
}
const controlGone = async (key: string): Promise<boolean> =>
  (await stack.count(`SELECT count(*) AS n FROM idempotency_keys WHERE scope = 'control' AND key = $1`, [key])) === 0;

test('a refund failing for three times the TTL, then the gateway recovers and an operator retries: one refund, stock released, COMPENSATED, no record of the open saga deleted', async () => {
  stack.faults.replace({ seed: 1, refundServerErrorRate: 1 });
  const orderId = 'life-stuck-1';
  const handle = await stack.startOrder({
    orderId,
    items: [{ sku: 'SKU-1', quantity: 2 }],
    options: { failBeforePivot: 'a later step failed', stuckAfterAttempts: 2, stuckRetryIntervalMs: 600_000 },
  });
  await waitFor(async () => (await handle.query(sagaStateQuery)).status === 'COMPENSATION_STUCK', 'COMPENSATION_STUCK');
  const before = await sagaKeys(handle.workflowId);
  expect(before).toEqual(expect.arrayContaining([`${handle.workflowId}/create-order`, `${handle.workflowId}/reserve:SKU-1`, `${handle.workflowId}/charge`]));

  // Three TTLs pass while the saga is stuck, with cleanup running every second.
  await control('stuck-window');
  const runsBefore = cleanup.totals.runs;
  await sleep(3 * TTL_S * 1000 + 500);
  expect(cleanup.totals.runs - runsBefore).toBeGreaterThanOrEqual(3 * TTL_S);
  expect(await controlGone('stuck-window')).toBe(true);
  expect(await sagaKeys(handle.workflowId)).toEqual(expect.arrayContaining(before));
  expect(await stack.count('SELECT count(*) AS n FROM idempotency_keys WHERE saga_id = $1 AND expires_at IS NOT NULL', [handle.workflowId])).toBe(0);
  expect(await refunds(orderId)).toBe(0);
  expect(await held(orderId)).toBe(1);

  stack.faults.replace({ seed: 1 }); // the gateway recovers
  await handle.executeUpdate(resolveCompensationUpdate, { args: [{ action: 'retry' }] });
  expect((await handle.result()) as PlaceOrderResult).toMatchObject({ status: 'COMPENSATED', reason: 'INJECTED_FAILURE: a later step failed' });
  expect(await refunds(orderId)).toBe(1);
  expect(await held(orderId)).toBe(0);
  expect((await orderRow(orderId))?.status).toBe('COMPENSATED');
  expect(await stack.count(`SELECT count(*) AS n FROM payments WHERE order_id = $1 AND status = 'refunded'`, [orderId])).toBe(1);

  // Closed: now, and only now, the saga's retention clock runs; its records go one TTL later.
  expect(await stack.count(`SELECT count(*) AS n FROM idempotency_sagas WHERE saga_id = $1 AND outcome = 'COMPENSATED'`, [handle.workflowId])).toBe(1);
  await waitFor(async () => (await sagaKeys(handle.workflowId)).length === 0, 'the closed saga’s records to be cleaned up', 15_000);
  expect(await refunds(orderId)).toBe(1);
});

test('reconcileCharge retrying across the TTL in the forward phase: one charge, the saga completes consistently', async () => {
  // The charge applies but its answer is lost; every look-up by key then fails until the gateway heals.
  stack.faults.replace({ seed: 1, lookupServerErrorRate: 1 });
  const orderId = 'life-reconcile-1';
  const handle = await stack.startOrder({
    orderId,
    items: [{ sku: 'SKU-2', quantity: 1 }],
    paymentToken: 'tok_apply_timeout_1',
    options: { chargeAttempts: 1 },
  });
  await waitFor(async () => (await charges(orderId)) === 1, 'the charge to apply at the gateway');
  await control('reconcile-window');
  await sleep(3 * TTL_S * 1000 + 500);
  expect(await controlGone('reconcile-window')).toBe(true);
  expect((await handle.describe()).status.name).toBe('RUNNING');
  expect(await stack.count(`SELECT count(*) AS n FROM idempotency_keys WHERE key = $1 AND status = 'in_progress'`, [`${handle.workflowId}/charge`])).toBe(1);

  stack.faults.replace({ seed: 1 });
  expect((await handle.result()) as PlaceOrderResult).toMatchObject({ status: 'COMPLETED' });
  expect(await charges(orderId)).toBe(1);
  expect(await refunds(orderId)).toBe(0);
  expect(
    await stack.count(`SELECT count(*) AS n FROM payments p JOIN gateway_charges c ON c.id = p.charge_id WHERE p.order_id = $1 AND p.status = 'captured'`, [
      orderId,
    ]),
  ).toBe(1);
  expect((await orderRow(orderId))?.status).toBe('COMPLETED');
});

describe('the payments mirror commits with the record it reflects', () => {
  /** Fails the first statement of `event` on payments whose new status is `status` (a sequence: it survives the rollback). */
  async function failOnce(name: string, event: 'INSERT' | 'UPDATE', status: string): Promise<() => Promise<number>> {
    await stack.db.pool.query(`CREATE SEQUENCE ${name}_seq`);
    await stack.db.pool.query(`CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.status = '${status}' AND nextval('${name}_seq') = 1 THEN RAISE EXCEPTION 'injected crash before the mirror commits'; END IF;
        RETURN NEW;
      END $$`);
    await stack.db.pool.query(`CREATE TRIGGER ${name} BEFORE ${event} ON payments FOR EACH ROW EXECUTE FUNCTION ${name}()`);
    return async () => {
      const fired = await stack.count(`SELECT last_value AS n FROM ${name}_seq`);
      await stack.db.pool.query(`DROP TRIGGER ${name} ON payments; DROP FUNCTION ${name}(); DROP SEQUENCE ${name}_seq`);
      return fired;
    };
  }

  test('a crash between the refund and the payments mirror: after the retry, payments agrees with the gateway (one refund)', async () => {
    const removeFault = await failOnce('fail_refund_mirror', 'UPDATE', 'refunded');
    const orderId = 'life-mirror-refund';
    const { result } = await stack.placeOrder({ orderId, items: [{ sku: 'SKU-3', quantity: 1 }], options: { failBeforePivot: 'a later step failed' } });
    expect(await removeFault()).toBeGreaterThanOrEqual(2); // the fault fired once, then the retry went through
    expect(result.status).toBe('COMPENSATED');
    expect(await refunds(orderId)).toBe(1);
    expect(await stack.count(`SELECT count(*) AS n FROM payments WHERE order_id = $1 AND status = 'refunded' AND refund_id IS NOT NULL`, [orderId])).toBe(1);
  });

  test('a crash between the capture record and the payments mirror: after the retry, one charge and one payment row', async () => {
    const removeFault = await failOnce('fail_capture_mirror', 'INSERT', 'captured');
    const orderId = 'life-mirror-capture';
    const { result } = await stack.placeOrder({ orderId, items: [{ sku: 'SKU-3', quantity: 1 }] });
    expect(await removeFault()).toBeGreaterThanOrEqual(2);
    expect(result.status).toBe('COMPLETED');
    expect(await charges(orderId)).toBe(1);
    expect(await stack.count(`SELECT count(*) AS n FROM payments WHERE order_id = $1 AND status = 'captured'`, [orderId])).toBe(1);
  });
});

test('a second saga for an existing order ID fails typed (ORDER_ALREADY_EXISTS) and never touches the old order', async () => {
  const orderId = 'life-natural-key';
  const first = await stack.placeOrder({ orderId, items: [{ sku: 'SKU-1', quantity: 1 }] });
  expect(first.result.status).toBe('COMPLETED');
  const old = await orderRow(orderId);
  const second = await stack.startOrder({ orderId, items: [{ sku: 'SKU-2', quantity: 3 }] }, `order-${orderId}-again`);
  const result = (await second.result()) as PlaceOrderResult;
  expect(result).toMatchObject({ status: 'COMPENSATED' });
  expect(result.reason).toMatch(/^ORDER_ALREADY_EXISTS: /);
  expect(await orderRow(orderId)).toEqual(old);
  expect(await charges(orderId)).toBe(1);
  expect(await refunds(orderId)).toBe(0);
  expect(await stack.count(`SELECT count(*) AS n FROM reservations WHERE order_id = $1`, [orderId])).toBe(1);
});

test('after the whole file, with records cleaned all along, every invariant holds', async () => {
  expect(cleanup.totals.deleted).toBeGreaterThan(0);
  const report = await checkInvariants(stack.db.pool);
  expect(report.violations).toEqual([]);
});
