// The at-most-once step kind against a provider that honours no Idempotency-Key (DESIGN §4, issue 14):
// the gateway applies every charge request it receives (its unique key dropped too, so a second charge
// is a visible row). Run as `external`, a retry after a lost answer charges twice; run at most once, a
// retry never sends again: it looks the charge up by reference, or the saga compensates by reference.
import { useOrderStack, type OrderStack } from '../helpers/order-stack';

const charges = (stack: OrderStack, orderId: string): Promise<number> =>
  stack.count('SELECT count(*) AS n FROM gateway_charges WHERE order_id = $1', [orderId]);

/** The file's stack for one step kind, against a gateway that ignores keys and has lost its unique key. */
const providerIgnoringKeys = (chargeStepKind: 'external' | 'at-most-once'): OrderStack =>
  useOrderStack({
    stock: 100,
    leaseMs: 1500,
    gatewayTimeoutMs: 1000,
    chargeStepKind,
    faults: { seed: 1, ignoreIdempotencyKeys: true, hangMs: 5000 },
    beforeWorker: (stack) => stack.db.pool.query('ALTER TABLE gateway_charges DROP CONSTRAINT gateway_charges_idempotency_key_key'),
  });

describe('external (the gateway is trusted to dedup by key)', () => {
  const stack = providerIgnoringKeys('external');

  test('control: a retry after an answer lost in flight charges a second time', async () => {
    const { result } = await stack.placeOrder({ orderId: 'amo-ext-drop', items: [{ sku: 'SKU-1', quantity: 1 }], paymentToken: 'tok_apply_drop_1' });
    expect(result.status).toBe('COMPLETED');
    expect(await charges(stack, 'amo-ext-drop')).toBe(2);
  });
});

describe('at-most-once', () => {
  const stack = providerIgnoringKeys('at-most-once');

  test('an answer lost in flight: the retry looks the charge up instead of sending; one charge, the order completes', async () => {
    const orderId = 'amo-drop';
    const { result } = await stack.placeOrder({ orderId, items: [{ sku: 'SKU-1', quantity: 1 }], paymentToken: 'tok_apply_drop_1' });
    expect(result.status).toBe('COMPLETED');
    expect(await charges(stack, orderId)).toBe(1);
    expect(await stack.count(`SELECT attempts AS n FROM gateway_key_attempts WHERE idempotency_key = $1`, [`order-${orderId}/charge`])).toBe(1);
    expect(await stack.count(`SELECT count(*) AS n FROM payments p JOIN gateway_charges c ON c.id = p.charge_id WHERE p.order_id = $1`, [orderId])).toBe(1);
  });

  test('an answer held past the client timeout: one charge, found by reference', async () => {
    const orderId = 'amo-hang';
    const { result } = await stack.placeOrder({ orderId, items: [{ sku: 'SKU-2', quantity: 1 }], paymentToken: 'tok_apply_timeout_1' });
    expect(result.status).toBe('COMPLETED');
    expect(await charges(stack, orderId)).toBe(1);
  });

  test('a 503 before anything applied: not sent again; unconfirmed, the saga compensates and voids the reference', async () => {
    const orderId = 'amo-5xx';
    const { result } = await stack.placeOrder({ orderId, items: [{ sku: 'SKU-3', quantity: 1 }], paymentToken: 'tok_fail_5xx_1' });
    expect(result).toMatchObject({ status: 'COMPENSATED' });
    expect(result.reason).toMatch(/^PAYMENT_NOT_CONFIRMED: /);
    expect(await charges(stack, orderId)).toBe(0);
    expect(await stack.count(`SELECT attempts AS n FROM gateway_key_attempts WHERE idempotency_key = $1`, [`order-${orderId}/charge`])).toBe(1);
    // The refund by reference left a tombstone: a request still in flight could not charge now.
    expect(await stack.count(`SELECT count(*) AS n FROM gateway_key_tombstones WHERE idempotency_key = $1`, [`order-${orderId}/charge`])).toBe(1);
    expect(await stack.count(`SELECT count(*) AS n FROM reservations WHERE order_id = $1 AND status = 'held'`, [orderId])).toBe(0);
  });
});
