// A worker process SIGKILLed in the middle of the charge step; a new worker finishes the saga
// and every effect is applied once.
import type { PlaceOrderResult } from '../../workflows/messages';
import { startChildWorker, type ChildWorker } from '../helpers/child-worker';
import { waitFor } from '../helpers/wait';
import { createOrderStack, type OrderStack } from '../helpers/order-stack';

let stack: OrderStack;
const workers: ChildWorker[] = [];

beforeAll(async () => {
  stack = await createOrderStack({ stock: 100 });
});
afterAll(async () => {
  for (const w of workers) await w.kill('SIGTERM');
  await stack?.stop();
});

const workerEnv = (): Record<string, string> => ({
  DATABASE_URL: stack.db.url,
  GATEWAY_URL: stack.gatewayUrl,
  GATEWAY_TIMEOUT_MS: '10000',
  TEMPORAL_ADDRESS: stack.temporalAddress,
  TEMPORAL_TASK_QUEUE: stack.taskQueue,
  ACTIVITY_LEASE_MS: '2000',
});


test('SIGKILL during the charge: the saga finishes on a new worker and each effect applied once', async () => {
  const first = await startChildWorker(workerEnv());
  workers.push(first);
  stack.faults.replace({ seed: 1, latencyMs: 1500 }); // the charge is in flight long enough to be killed under
  const handle = await stack.startOrder({
    orderId: 'crash-1',
    items: [
      { sku: 'SKU-1', quantity: 1 },
      { sku: 'SKU-2', quantity: 2 },
    ],
  });
  // The gateway counts the request on arrival, then holds it for the latency: the worker dies mid-call.
  await waitFor(
    async () => (await stack.count(`SELECT count(*) AS n FROM gateway_key_attempts WHERE idempotency_key = 'order-crash-1/charge'`)) === 1,
    'the charge to reach the gateway',
  );
  await first.kill('SIGKILL');
  expect(first.child.signalCode).toBe('SIGKILL');
  stack.faults.replace({ seed: 1 });

  const second = await startChildWorker(workerEnv());
  workers.push(second);
  const result = (await handle.result()) as PlaceOrderResult;
  expect(result.status).toBe('COMPLETED');

  expect(await stack.count(`SELECT count(*) AS n FROM gateway_charges WHERE order_id = 'crash-1'`)).toBe(1);
  // The killed attempt's request reached the gateway too: two requests, one charge.
  expect(await stack.count(`SELECT attempts AS n FROM gateway_key_attempts WHERE idempotency_key = 'order-crash-1/charge'`)).toBe(2);
  expect(await stack.count(`SELECT count(*) AS n FROM gateway_refunds`)).toBe(0);
  expect(await stack.count(`SELECT count(*) AS n FROM reservations WHERE order_id = 'crash-1' AND status = 'consumed'`)).toBe(2);
  expect(await stack.count(`SELECT count(*) AS n FROM payments WHERE order_id = 'crash-1'`)).toBe(1);
  expect(await stack.count(`SELECT sold AS n FROM products WHERE sku = 'SKU-2'`)).toBe(2);
  // The killed attempt's lease ran out and the next attempt took it over with a new epoch.
  const record = await stack.store.get({ scope: 'step', key: 'order-crash-1/charge' });
  expect(record).toMatchObject({ status: 'completed' });
  expect(record!.epoch).toBeGreaterThanOrEqual(2);
}, 120_000);

test('SIGKILL between local steps: the saga resumes from history on a new worker', async () => {
  const first = await startChildWorker(workerEnv());
  workers.push(first);
  // Hold the product row so the reservation step blocks inside its transaction, then kill the worker.
  const blocker = await stack.db.pool.connect();
  let handle;
  try {
    await blocker.query('BEGIN');
    await blocker.query(`SELECT 1 FROM products WHERE sku = 'SKU-3' FOR UPDATE`);
    handle = await stack.startOrder({ orderId: 'crash-2', items: [{ sku: 'SKU-3', quantity: 4 }] });
    await waitFor(
      async () => (await stack.count(`SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE products%'`)) >= 1,
      'the reservation to wait on the product row',
    );
    await first.kill('SIGKILL');
  } finally {
    await blocker.query('COMMIT');
    blocker.release();
  }
  const second = await startChildWorker(workerEnv());
  workers.push(second);
  const result = (await handle.result()) as PlaceOrderResult;
  expect(result.status).toBe('COMPLETED');
  expect(await stack.count(`SELECT count(*) AS n FROM reservations WHERE order_id = 'crash-2'`)).toBe(1);
  expect(await stack.count(`SELECT sold AS n FROM products WHERE sku = 'SKU-3'`)).toBe(4);
  expect(await stack.count(`SELECT count(*) AS n FROM gateway_charges WHERE order_id = 'crash-2'`)).toBe(1);
}, 120_000);
