// The order saga on a real dev server and a real Postgres; every case counts effects in our
// tables and in the gateway's own.
import { CancelledFailure, WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createActivities } from '../../apps/worker/activities';
import { SAGA_STATUS } from '../../apps/worker/search-attributes';
import { GatewayKeyAbortedError } from '../../src/errors';
import { setStock } from '../../apps/orders/domain/catalog';
import { ORDER_NOT_CANCELLABLE, cancelOrderUpdate, sagaStateQuery, type PlaceOrderResult } from '../../apps/orders/workflows/messages';
import { waitFor } from '../helpers/wait';
import { createOrderStack, type OrderStack } from '../helpers/order-stack';

let stack: OrderStack;
const quiet = { logger: new DefaultLogger('ERROR') };

beforeAll(async () => {
  stack = await createOrderStack({ stock: 100, leaseMs: 2000, gatewayTimeoutMs: 1500 });
  await stack.startWorker();
});
afterAll(async () => {
  await stack?.stop();
});
beforeEach(() => stack.faults.replace({ seed: 1 }));

const effects = async (orderId: string) => ({
  orderStatus: (await stack.db.pool.query<{ status: string }>('SELECT status FROM orders WHERE id = $1', [orderId])).rows[0]?.status,
  reservations: await stack.count('SELECT count(*) AS n FROM reservations WHERE order_id = $1', [orderId]),
  heldReservations: await stack.count(`SELECT count(*) AS n FROM reservations WHERE order_id = $1 AND status = 'held'`, [orderId]),
  consumedReservations: await stack.count(`SELECT count(*) AS n FROM reservations WHERE order_id = $1 AND status = 'consumed'`, [orderId]),
  charges: await stack.count(`SELECT count(*) AS n FROM gateway_charges WHERE order_id = $1 AND status = 'succeeded'`, [orderId]),
  refunds: await stack.count('SELECT count(*) AS n FROM gateway_refunds r JOIN gateway_charges c ON c.id = r.charge_id WHERE c.order_id = $1', [orderId]),
  payments: await stack.count('SELECT count(*) AS n FROM payments WHERE order_id = $1', [orderId]),
});

/** The events the order's terminal transition wrote to the outbox: [type, event ID]. */
const outbox = async (orderId: string): Promise<string[][]> =>
  (
    await stack.db.pool.query<{ type: string; event_id: string }>('SELECT type, event_id FROM outbox_events WHERE aggregate_id = $1 ORDER BY seq', [orderId])
  ).rows.map((r) => [r.type, r.event_id]);

/** The saga's close (closeSaga at its terminal state): the outcome it recorded, once. */
const closedAs = async (orderId: string): Promise<string[]> =>
  (await stack.db.pool.query<{ outcome: string }>('SELECT outcome FROM idempotency_sagas WHERE saga_id = $1', [`order-${orderId}`])).rows.map((r) => r.outcome);

/** POST /charges requests the gateway received for one key (counted on arrival). */
const gatewayAttempts = (key: string): Promise<number> =>
  stack.count('SELECT coalesce((SELECT attempts FROM gateway_key_attempts WHERE idempotency_key = $1), 0) AS n', [key]);

/** Which way the charge was undone: a refund of a charge, or a tombstone for a key that was never charged. */
const chargeUndone = async (orderId: string) => ({
  record: (await stack.store.get({ scope: 'step', key: `order-${orderId}/charge` }))?.status,
  tombstones: await stack.count('SELECT count(*) AS n FROM gateway_key_tombstones WHERE idempotency_key = $1', [`order-${orderId}/charge`]),
  refunds: await stack.count('SELECT count(*) AS n FROM gateway_refunds r JOIN gateway_charges c ON c.id = r.charge_id WHERE c.order_id = $1', [orderId]),
});

const stockOf = async (sku: string) =>
  (
    await stack.db.pool.query<{ on_hand: number; reserved: number; sold: number; total_stock: number }>(
      'SELECT on_hand, reserved, sold, total_stock FROM products WHERE sku = $1',
      [sku],
    )
  ).rows[0]!;

test('happy path: one order, one reservation per item, one charge, COMPLETED', async () => {
  const before = await stockOf('SKU-1');
  const { result } = await stack.placeOrder({
    orderId: 'happy-1',
    items: [
      { sku: 'SKU-1', quantity: 2 },
      { sku: 'SKU-4', quantity: 3 },
    ],
  });
  expect(result).toMatchObject({ orderId: 'happy-1', status: 'COMPLETED', totalCents: 2 * 2490 + 3 * 650 });
  expect(await effects('happy-1')).toEqual({
    orderStatus: 'COMPLETED',
    reservations: 2,
    heldReservations: 0,
    consumedReservations: 2,
    charges: 1,
    refunds: 0,
    payments: 1,
  });
  const charged = await stack.count(`SELECT amount AS n FROM gateway_charges WHERE order_id = 'happy-1'`);
  expect(charged).toBe(2 * 2490 + 3 * 650);
  expect(await closedAs('happy-1')).toEqual(['COMPLETED']);
  // Started RUNNING (STARTS_RUNNING) in the current shape (ORDER_SAGA_SHAPE): no patch markers, and the one search
  // attribute upsert is the saga's end (no RUNNING, no TemporalChangeVersion per patch).
  const history = await stack.client.workflow.getHandle('order-happy-1').fetchHistory();
  const upserts = history.events?.filter((e) => e.upsertWorkflowSearchAttributesEventAttributes) ?? [];
  expect(upserts.map((e) => Object.keys(e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {}))).toEqual([['SagaStatus']]);
  expect(history.events?.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')).toEqual([]);
  expect((await stack.client.workflow.getHandle('order-happy-1').describe()).typedSearchAttributes.get(SAGA_STATUS)).toBe('COMPLETED');
  // Its event, once, with the ID derived from the workflow ID and the transition, written with the COMPLETED status.
  expect(await outbox('happy-1')).toEqual([['order.completed', 'order-happy-1:order.completed']]);
  const { rows } = await stack.db.pool.query<{ payload: unknown }>('SELECT payload FROM outbox_events WHERE aggregate_id = $1', ['happy-1']);
  expect(rows[0]?.payload).toMatchObject({
    orderId: 'happy-1',
    totalCents: 2 * 2490 + 3 * 650,
    items: [
      { sku: 'SKU-1', quantity: 2 },
      { sku: 'SKU-4', quantity: 3 },
    ],
  });
  const after = await stockOf('SKU-1');
  expect(after.sold - before.sold).toBe(2);
  expect(after.on_hand + after.reserved + after.sold).toBe(after.total_stock);
});

test('card declined: reservations released, order COMPENSATED with the reason, no charge', async () => {
  const before = await stockOf('SKU-2');
  const { result, handle } = await stack.placeOrder({ orderId: 'declined-1', paymentToken: 'tok_decline', items: [{ sku: 'SKU-2', quantity: 1 }] });
  expect(result.status).toBe('COMPENSATED');
  expect(result.reason).toMatch(/^CARD_DECLINED: /);
  expect(await effects('declined-1')).toMatchObject({ orderStatus: 'COMPENSATED', reservations: 1, heldReservations: 0, charges: 0, refunds: 0, payments: 0 });
  const reason = await stack.db.pool.query<{ failure_reason: string }>('SELECT failure_reason FROM orders WHERE id = $1', ['declined-1']);
  expect(reason.rows[0]?.failure_reason).toBe(result.reason);
  expect(await stockOf('SKU-2')).toEqual(before);
  expect(await closedAs('declined-1')).toEqual(['COMPENSATED']);
  expect(await outbox('declined-1')).toEqual([['order.compensated', 'order-declined-1:order.compensated']]);
  const state = await handle.query(sagaStateQuery);
  expect(state).toMatchObject({ status: 'COMPENSATED', pivoted: false });
});

test('out of stock on the second item: the first reservation released, no charge', async () => {
  await setStock(stack.db.pool, 'SKU-3', 1);
  const first = await stockOf('SKU-1');
  const { result } = await stack.placeOrder({
    orderId: 'oos-1',
    items: [
      { sku: 'SKU-1', quantity: 1 },
      { sku: 'SKU-3', quantity: 5 },
    ],
  });
  expect(result).toMatchObject({ status: 'COMPENSATED' });
  expect(result.reason).toMatch(/^OUT_OF_STOCK: SKU-3: 5 requested, 1 available/);
  expect(await effects('oos-1')).toMatchObject({ orderStatus: 'COMPENSATED', reservations: 1, heldReservations: 0, charges: 0 });
  expect(await stockOf('SKU-1')).toEqual(first);
  expect((await stockOf('SKU-3')).on_hand).toBe(1);
});

test('an unknown SKU fails the saga with UNKNOWN_SKU before anything is held', async () => {
  const { result } = await stack.placeOrder({ orderId: 'unknown-1', items: [{ sku: 'SKU-404', quantity: 1 }] });
  expect(result.status).toBe('COMPENSATED');
  expect(result.reason).toMatch(/^UNKNOWN_SKU/);
  expect(await effects('unknown-1')).toMatchObject({ orderStatus: undefined, reservations: 0, charges: 0 });
  expect(await outbox('unknown-1')).toEqual([]); // no order existed: no transition to announce
});

describe('gateway faults', () => {
  test('transient 5xx on the first attempts: exactly one charge', async () => {
    const { result } = await stack.placeOrder({ orderId: 'flaky-1', paymentToken: 'tok_fail_5xx_2', items: [{ sku: 'SKU-5', quantity: 1 }] });
    expect(result.status).toBe('COMPLETED');
    expect(await effects('flaky-1')).toMatchObject({ orderStatus: 'COMPLETED', charges: 1, refunds: 0, payments: 1 });
    expect(await stack.count(`SELECT attempts AS n FROM gateway_key_attempts WHERE idempotency_key = 'order-flaky-1/charge'`)).toBe(3);
  });

  test('the charge applies and the reply is lost (timeout): exactly one charge', async () => {
    const { result } = await stack.placeOrder({ orderId: 'lost-1', paymentToken: 'tok_apply_timeout_1', items: [{ sku: 'SKU-6', quantity: 1 }] });
    expect(result.status).toBe('COMPLETED');
    expect(await effects('lost-1')).toMatchObject({ orderStatus: 'COMPLETED', charges: 1, refunds: 0, payments: 1 });
    expect(await stack.count(`SELECT attempts AS n FROM gateway_key_attempts WHERE idempotency_key = 'order-lost-1/charge'`)).toBe(2);
  });

  test('the reply is lost, then a later step fails: exactly one charge and exactly one refund', async () => {
    const before = await stockOf('SKU-7');
    const { result } = await stack.placeOrder({
      orderId: 'lost-2',
      paymentToken: 'tok_apply_timeout_1',
      items: [{ sku: 'SKU-7', quantity: 2 }],
      options: { failBeforePivot: 'fraud check rejected the order' },
    });
    expect(result).toMatchObject({ status: 'COMPENSATED', reason: 'INJECTED_FAILURE: fraud check rejected the order' });
    expect(await effects('lost-2')).toMatchObject({ orderStatus: 'COMPENSATED', heldReservations: 0, charges: 1, refunds: 1, payments: 1 });
    expect(await stack.count(`SELECT count(*) AS n FROM payments WHERE order_id = 'lost-2' AND status = 'refunded'`)).toBe(1);
    expect(await stockOf('SKU-7')).toEqual(before);
    // The first request applied and its answer was lost; the retry got the stored charge, which was refunded.
    expect(await gatewayAttempts('order-lost-2/charge')).toBe(2);
    expect(await chargeUndone('lost-2')).toEqual({ record: 'compensated', tombstones: 0, refunds: 1 });
  });

  test('the charge applies and the connection drops: exactly one charge', async () => {
    const { result } = await stack.placeOrder({ orderId: 'drop-1', paymentToken: 'tok_apply_drop', items: [{ sku: 'SKU-8', quantity: 1 }] });
    expect(result.status).toBe('COMPLETED');
    expect(await effects('drop-1')).toMatchObject({ orderStatus: 'COMPLETED', charges: 1, refunds: 0, payments: 1 });
    // The first request applied and the connection dropped; the retry got the stored charge.
    expect(await gatewayAttempts('order-drop-1/charge')).toBe(2);
    expect(await stack.count(`SELECT count(*) AS n FROM gateway_charges WHERE idempotency_key = 'order-drop-1/charge'`)).toBe(1);
  });
});

describe('cancellation', () => {
  test('cancel during the charge: the charge in flight applies, and the compensation refunds it', async () => {
    const before = await stockOf('SKU-9');
    stack.faults.replace({ seed: 1, latencyMs: 1000 });
    const handle = await stack.startOrder({ orderId: 'cancel-1', items: [{ sku: 'SKU-9', quantity: 1 }] });
    // The charge has reached the gateway (counted on arrival) and will apply after the latency.
    await waitFor(async () => (await gatewayAttempts('order-cancel-1/charge')) === 1, 'the charge to reach the gateway');
    const answer = await handle.executeUpdate(cancelOrderUpdate, { args: [{ reason: 'changed my mind' }] });
    expect(answer).toEqual({ accepted: true, message: 'cancellation accepted; the order is being compensated' });
    const result = (await handle.result()) as PlaceOrderResult;
    expect(result).toMatchObject({ status: 'COMPENSATED', reason: 'cancelled: changed my mind' });
    expect(await effects('cancel-1')).toMatchObject({ orderStatus: 'COMPENSATED', heldReservations: 0, charges: 1, refunds: 1 });
    // The compensation waited out the live charge, then refunded it by charge: no tombstone.
    expect(await chargeUndone('cancel-1')).toEqual({ record: 'compensated', tombstones: 0, refunds: 1 });
    expect(await gatewayAttempts('order-cancel-1/charge')).toBe(1);
    expect(await stack.store.get({ scope: 'step', key: 'order-cancel-1/reserve:SKU-9' })).toMatchObject({ status: 'compensated' });
    expect(await stockOf('SKU-9')).toEqual(before);
    expect((await handle.query(sagaStateQuery)).steps.map((s) => [s.stepId, s.status])).toEqual([
      ['create-order', 'compensated'],
      ['reserve:SKU-9', 'compensated'],
      ['charge', 'compensated'],
    ]);
    // The workflow is closed: a second cancel cannot start a second compensation.
    await expect(handle.executeUpdate(cancelOrderUpdate, { args: [{}] })).rejects.toThrow(/completed/i);
  });

  test('cancel after the pivot is refused with a clear answer and the order completes', async () => {
    // A slow gateway: the charge takes over a second, so the order row is held below before the pivot can run
    // (a warm worker runs the whole saga in a few tens of milliseconds otherwise).
    stack.faults.replace({ seed: 1, latencyMs: 1500 });
    const handle = await stack.startOrder({ orderId: 'cancel-2', items: [{ sku: 'SKU-10', quantity: 1 }] });
    await waitFor(async () => (await stack.count(`SELECT count(*) AS n FROM orders WHERE id = 'cancel-2'`)) === 1, 'the order row');
    // Hold the order row so the confirm step (the pivot) starts but cannot finish yet.
    const blocker = await stack.db.pool.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query(`SELECT 1 FROM orders WHERE id = 'cancel-2' FOR NO KEY UPDATE`);
      await waitFor(async () => (await handle.query(sagaStateQuery)).pivoted, 'the pivot');
      // Refused by the update's validator: an error for the caller, nothing in the history.
      const refused = handle.executeUpdate(cancelOrderUpdate, { args: [{ reason: 'too late' }] });
      await expect(refused).rejects.toThrow(WorkflowUpdateFailedError);
      await expect(refused).rejects.toMatchObject({
        cause: { type: ORDER_NOT_CANCELLABLE, message: 'the order is already being confirmed; it can no longer be cancelled' },
      });
      await handle.cancel(); // a workflow cancellation after the pivot changes nothing either
    } finally {
      await blocker.query('COMMIT');
      blocker.release();
    }
    const result = (await handle.result()) as PlaceOrderResult;
    expect(result.status).toBe('COMPLETED');
    expect(await effects('cancel-2')).toMatchObject({ orderStatus: 'COMPLETED', charges: 1, refunds: 0, consumedReservations: 1 });
    expect(await chargeUndone('cancel-2')).toEqual({ record: 'completed', tombstones: 0, refunds: 0 });
    expect(await closedAs('cancel-2')).toEqual(['COMPLETED']);
    // Both cancels reached the workflow: the refused update left no event, the cancellation request did.
    const events = (await handle.fetchHistory()).events ?? [];
    expect(events.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).length).toBe(0);
    expect(events.filter((e) => e.workflowExecutionCancelRequestedEventAttributes).length).toBe(1);
  });

  test('workflow cancellation while the charge is refused: compensated by a tombstone, then the workflow ends cancelled', async () => {
    const before = await stockOf('SKU-11');
    // The gateway answers every charge of this key 503 and applies nothing.
    const handle = await stack.startOrder({ orderId: 'cancel-3', paymentToken: 'tok_fail_5xx_9999', items: [{ sku: 'SKU-11', quantity: 1 }] });
    await waitFor(async () => (await gatewayAttempts('order-cancel-3/charge')) >= 1, 'the charge to reach the gateway');
    await handle.cancel();
    const failure = await handle.result().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect((failure as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    const e = await effects('cancel-3');
    expect(e).toMatchObject({ orderStatus: 'COMPENSATED', heldReservations: 0, charges: 0, refunds: 0, payments: 0 });
    const reason = await stack.db.pool.query<{ failure_reason: string }>('SELECT failure_reason FROM orders WHERE id = $1', ['cancel-3']);
    expect(reason.rows[0]?.failure_reason).toBe('cancelled: workflow cancellation requested');
    // Nothing was charged: the refund by key found no charge and tombstoned the key, at the gateway and in our store.
    expect(await chargeUndone('cancel-3')).toEqual({ record: 'aborted', tombstones: 1, refunds: 0 });
    expect(await stack.store.get({ scope: 'step', key: 'order-cancel-3/reserve:SKU-11' })).toMatchObject({ status: 'compensated' });
    expect(await stockOf('SKU-11')).toEqual(before);
    expect(await closedAs('cancel-3')).toEqual(['COMPENSATED']); // closed outside the reach of the cancellation
  });
});

describe('late forward attempts', () => {
  test('a charge whose compensation ran first is refused by the tombstones and applies nothing', async () => {
    const { result } = await stack.placeOrder({
      orderId: 'late-1',
      paymentToken: 'tok_fail_5xx_9999',
      items: [{ sku: 'SKU-12', quantity: 1 }],
      options: { chargeAttempts: 2 },
    });
    expect(result.status).toBe('COMPENSATED');
    expect(result.reason).toMatch(/^PAYMENT_NOT_CONFIRMED/);
    expect(await stack.store.get({ scope: 'step', key: 'order-late-1/charge' })).toMatchObject({ status: 'aborted' });
    expect(await stack.count(`SELECT count(*) AS n FROM gateway_key_tombstones WHERE idempotency_key = 'order-late-1/charge'`)).toBe(1);

    // A forward attempt of that step arrives now (a zombie worker, a late retry): refused by our tombstone...
    const env = new MockActivityEnvironment(
      {
        workflowExecution: { workflowId: 'order-late-1', runId: 'late-run' },
        activityId: 'late',
        attempt: 9,
      },
      quiet,
    );
    const activities = createActivities(stack.deps);
    const late = env.run(activities.chargePayment, {
      key: 'order-late-1/charge',
      orderId: 'late-1',
      amountCents: 990 + 210,
      currency: 'EUR',
      paymentToken: 'tok_visa',
    });
    await expect(late).rejects.toMatchObject({ type: 'IDEMPOTENCY_KEY_ABORTED', nonRetryable: true });
    // ...and, were our store bypassed, by the gateway's own tombstone.
    await expect(
      stack.deps.gateway.charge('order-late-1/charge', { amount: 1200, currency: 'EUR', paymentToken: 'tok_visa', orderId: 'late-1' }),
    ).rejects.toBeInstanceOf(GatewayKeyAbortedError);
    const lateReserve = env.run(activities.reserveStock, { key: 'order-late-1/reserve:SKU-12', orderId: 'late-1', sku: 'SKU-12', quantity: 1 });
    await expect(lateReserve).rejects.toMatchObject({ type: 'IDEMPOTENCY_KEY_ABORTED' });
    expect(await effects('late-1')).toMatchObject({ charges: 0, heldReservations: 0, reservations: 1 });
  });

  test('an activity refuses a key minted for another workflow', async () => {
    const env = new MockActivityEnvironment({ workflowExecution: { workflowId: 'order-x', runId: 'r' } }, quiet);
    const activities = createActivities(stack.deps);
    await expect(env.run(activities.reserveStock, { key: 'order-y/reserve:SKU-1', orderId: 'y', sku: 'SKU-1', quantity: 1 })).rejects.toMatchObject({
      type: 'IDEMPOTENCY_KEY_OF_ANOTHER_WORKFLOW',
    });
    await expect(env.run(activities.reserveStock, { key: 'order-x/reserve:SKU-1', orderId: 'x', sku: 'sku 1', quantity: 0 })).rejects.toMatchObject({
      type: 'INVALID_ACTIVITY_INPUT',
    });
    expect(await stack.count(`SELECT count(*) AS n FROM idempotency_keys WHERE key LIKE 'order-x/%' OR key LIKE 'order-y/%'`)).toBe(0);
  });
});
