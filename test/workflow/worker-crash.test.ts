// A worker process SIGKILLed in the middle of the charge step; a new worker finishes the saga
// and every effect is applied once.
import type { PlaceOrderResult } from '../../apps/orders/workflows/messages';
import { defaultPayloadConverter } from '@temporalio/common';
import { childWorkerEnv, startChildWorker, type ChildWorker } from '../helpers/child-worker';
import { waitFor } from '../helpers/wait';
import { createOrderStack, type OrderStack } from '../helpers/order-stack';

let stack: OrderStack;
const workers: ChildWorker[] = [];

beforeAll(async () => {
  stack = await createOrderStack({ stock: 100 });
});
// No worker outlives its test: a survivor on the queue could run the step the next test kills a worker under.
afterEach(async () => {
  for (const w of workers.splice(0)) await w.kill('SIGTERM');
});
afterAll(async () => {
  await stack?.stop();
});

const workerEnv = (): Record<string, string> => childWorkerEnv(stack, { GATEWAY_TIMEOUT_MS: '10000', ACTIVITY_LEASE_MS: '2000' });

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
  expect(first.signalCode).toBe('SIGKILL');
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
  const stock = async () =>
    (
      await stack.db.pool.query<{ on_hand: number; reserved: number; sold: number; total_stock: number }>(
        `SELECT on_hand, reserved, sold, total_stock FROM products WHERE sku = 'SKU-3'`,
      )
    ).rows[0]!;
  const before = await stock();
  expect(before).toMatchObject({ reserved: 0, sold: 0 });
  const first = await startChildWorker(workerEnv());
  workers.push(first);
  // Hold the product row so the reservation step blocks inside its transaction, then kill the worker.
  const blocker = await stack.db.pool.connect();
  let handle;
  let waiter: number | undefined;
  try {
    await blocker.query('BEGIN');
    const blockerPid = (await blocker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    await blocker.query(`SELECT 1 FROM products WHERE sku = 'SKU-3' FOR UPDATE`);
    handle = await stack.startOrder({ orderId: 'crash-2', items: [{ sku: 'SKU-3', quantity: 4 }] });
    // Only a backend of this file's database that waits on this very blocker (other files test in parallel).
    await waitFor(async () => {
      const { rows } = await stack.db.pool.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity
          WHERE datname = current_database() AND $1 = ANY (pg_blocking_pids(pid)) AND query LIKE 'UPDATE products%'`,
        [blockerPid],
      );
      waiter = rows[0]?.pid;
      return waiter !== undefined;
    }, 'the reservation to wait on the product row');
    await first.kill('SIGKILL');
    expect(first.signalCode).toBe('SIGKILL');
  } finally {
    await blocker.query('COMMIT');
    blocker.release();
  }
  // The killed worker's transaction dies with its connection: nothing of it is held, nothing reserved.
  await waitFor(
    async () => (await stack.count('SELECT count(*) AS n FROM pg_stat_activity WHERE pid = $1', [waiter])) === 0,
    "the killed worker's backend to end",
  );
  expect(await stock()).toEqual(before);
  expect(await stack.count(`SELECT count(*) AS n FROM reservations WHERE order_id = 'crash-2'`)).toBe(0);

  const second = await startChildWorker(workerEnv());
  workers.push(second);
  const result = (await handle.result()) as PlaceOrderResult;
  expect(result.status).toBe('COMPLETED');
  expect(await stack.count(`SELECT count(*) AS n FROM reservations WHERE order_id = 'crash-2' AND status = 'consumed'`)).toBe(1);
  expect(await stack.count(`SELECT count(*) AS n FROM reservations WHERE order_id = 'crash-2'`)).toBe(1);
  // Four units left on_hand once, through reserved, into sold: the killed attempt left no trace.
  expect(await stock()).toEqual({ ...before, on_hand: before.on_hand - 4, reserved: 0, sold: 4 });
  expect(await stack.count(`SELECT count(*) AS n FROM gateway_charges WHERE order_id = 'crash-2'`)).toBe(1);
  // The reservation (a local activity, inside the workflow task) ran again on the new worker: the killed
  // worker's workflow task timed out, and the step was recorded once, by the new one.
  const events = (await handle.fetchHistory()).events ?? [];
  expect(events.filter((e) => e.workflowTaskTimedOutEventAttributes).length).toBeGreaterThanOrEqual(1);
  const summaries = events
    .filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')
    .map((e) => (e.userMetadata?.summary ? defaultPayloadConverter.fromPayload<string>(e.userMetadata.summary) : '(none)'));
  expect(summaries.filter((s) => s === 'reserve:SKU-3')).toHaveLength(1);
}, 120_000);
