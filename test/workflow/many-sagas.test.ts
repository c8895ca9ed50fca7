// Two workers on one task queue, 100 sagas with random faults at the gateway, cancellations
// and failures after the payment: every invariant of DESIGN §6 holds afterwards.
import { setStock } from '../../apps/orders/domain/catalog';
import { checkInvariants } from '../../apps/orders/domain/invariants';
import { mulberry32 } from '../../src/random';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ORDER_NOT_CANCELLABLE, cancelOrderUpdate, type PlaceOrderResult } from '../../apps/orders/workflows/messages';
import { childWorkerEnv, startChildWorker, type ChildWorker } from '../helpers/child-worker';
import { createOrderStack, type OrderStack } from '../helpers/order-stack';

let stack: OrderStack;
const workers: ChildWorker[] = [];

beforeAll(async () => {
  stack = await createOrderStack({
    stock: 200,
    leaseMs: 2000,
    gatewayTimeoutMs: 1000,
    faults: { seed: 42, serverErrorRate: 0.1, applyThenTimeoutRate: 0.05, applyThenDropRate: 0.05, declineRate: 0.05, hangMs: 3000 },
  });
  await setStock(stack.db.pool, 'SKU-12', 8); // scarce: some orders run out of stock
  // Two worker processes on one task queue, as deployed (one process may not run two workers on one queue).
  const env = childWorkerEnv(stack, { GATEWAY_TIMEOUT_MS: '1000', ACTIVITY_LEASE_MS: '2000' });
  workers.push(...(await Promise.all([startChildWorker(env), startChildWorker(env)])));
}, 120_000);
afterAll(async () => {
  for (const w of workers) await w.kill('SIGTERM');
  await stack?.stop();
});

test('100 sagas on two workers: every invariant holds', async () => {
  const rand = mulberry32(7).next; // the same seed gives the same mix of orders
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const tokens = ['tok_visa', 'tok_visa', 'tok_visa', 'tok_decline', 'tok_fail_5xx_1', 'tok_apply_timeout_1', 'tok_apply_drop', 'tok_refund_fail_1'];
  const handles = await Promise.all(
    Array.from({ length: 100 }, (_, i) => {
      const skus = [...new Set([pick(['SKU-1', 'SKU-2', 'SKU-12']), pick(['SKU-3', 'SKU-4', 'SKU-12', 'SKU-5'])])];
      return stack.startOrder({
        orderId: `many-${i}`,
        paymentToken: pick(tokens),
        items: skus.map((sku) => ({ sku, quantity: 1 + Math.floor(rand() * 3) })),
        options: { stuckAfterAttempts: 10, ...(rand() < 0.1 && { failBeforePivot: 'random later failure' }) },
      });
    }),
  );
  // Some customers cancel while their saga runs; the answer depends on how far it got: accepted, or
  // refused by the validator (ORDER_NOT_CANCELLABLE). Any other answer fails the test.
  const cancels = await Promise.all(
    handles
      .filter(() => rand() < 0.15)
      .map(async (h) => {
        const orderId = h.workflowId.slice('order-'.length);
        try {
          const answer = await h.executeUpdate(cancelOrderUpdate, { args: [{ reason: 'random cancel' }] });
          expect(answer).toEqual({ accepted: true, message: 'cancellation accepted; the order is being compensated' });
          return { orderId, accepted: true };
        } catch (err) {
          expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
          expect((err as WorkflowUpdateFailedError).cause).toMatchObject({ type: ORDER_NOT_CANCELLABLE });
          return { orderId, accepted: false };
        }
      }),
  );
  const results = (await Promise.all(handles.map((h) => h.result()))) as PlaceOrderResult[];

  const report = await checkInvariants(stack.db.pool);
  expect(report.violations).toEqual([]);
  expect(report).toMatchObject({ invariantsHeld: true, doubleCharges: 0, doubleReservations: 0, nonTerminal: 0, stuck: 0 });
  // Every saga ended; a saga cancelled before its order row was created compensated to nothing (no row).
  expect(results.filter((r) => r.status === 'COMPLETED' || r.status === 'COMPENSATED')).toHaveLength(100);
  expect(results.filter((r) => r.status === 'COMPLETED')).toHaveLength(report.completed);
  expect(report.compensated).toBeLessThanOrEqual(results.filter((r) => r.status === 'COMPENSATED').length);
  // The mix really exercised both outcomes, and the gateway saw the faults.
  expect(report.completed).toBeGreaterThan(20);
  expect(report.compensated).toBeGreaterThan(10);
  // Exactly the orders whose cancel was accepted were compensated as cancelled, and there were some.
  const acceptedCancels = cancels
    .filter((c) => c.accepted)
    .map((c) => c.orderId)
    .sort();
  expect(acceptedCancels.length).toBeGreaterThan(0);
  const cancelled = results.filter((r) => r.reason?.startsWith('cancelled:'));
  expect(cancelled.map((r) => r.orderId).sort()).toEqual(acceptedCancels);
  for (const r of cancelled) expect(r).toMatchObject({ status: 'COMPENSATED', reason: 'cancelled: random cancel' });
  // Where the order row existed by then, it carries the same reason.
  expect(await stack.count(`SELECT count(*) AS n FROM orders WHERE failure_reason LIKE 'cancelled:%' AND NOT (id = ANY ($1::text[]))`, [acceptedCancels])).toBe(
    0,
  );
  expect(
    await stack.count(
      `SELECT count(*) AS n FROM orders WHERE id = ANY ($1::text[]) AND (status <> 'COMPENSATED' OR failure_reason <> 'cancelled: random cancel')`,
      [acceptedCancels],
    ),
  ).toBe(0);
  expect(await stack.count('SELECT count(*) AS n FROM gateway_key_attempts WHERE attempts > 1')).toBeGreaterThan(5);
}, 300_000);
