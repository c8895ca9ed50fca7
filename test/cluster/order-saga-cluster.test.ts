// The order saga on a real Temporal cluster (issue 11): the server v1.29.1 on PostgreSQL persistence, in
// databases of this file's own, with frontend, two history, matching and worker services as separate
// processes. The happy path and a failure path, each effect counted, as on the dev server.
import { createOrderStack, type OrderStack } from '../helpers/order-stack';

let stack: OrderStack;

beforeAll(async () => {
  // Builds the server and its SQL tool with go install when they are not there yet (minutes, once).
  stack = await createOrderStack({ stock: 100, temporal: 'cluster' });
  await stack.startWorker();
}, 900_000);
afterAll(async () => {
  await stack?.stop();
}, 60_000);

test('the stack runs on the cluster: five service processes, the frontend answering as server 1.29.1', async () => {
  const info = await stack.client.workflowService.getSystemInfo({});
  expect(info.serverVersion).toBe('1.29.1');
  const cluster = await stack.client.workflowService.getClusterInfo({});
  expect(cluster.persistenceStore).toBe('postgres12');
  expect(Number(cluster.historyShardCount)).toBe(4);
});

test('happy path on the cluster: one order, one reservation per item, one charge, COMPLETED', async () => {
  const { result } = await stack.placeOrder({
    orderId: 'cluster-happy-1',
    items: [
      { sku: 'SKU-1', quantity: 2 },
      { sku: 'SKU-2', quantity: 1 },
    ],
  });
  expect(result).toMatchObject({ status: 'COMPLETED', orderId: 'cluster-happy-1' });
  expect(await stack.orderStatus('cluster-happy-1')).toBe('COMPLETED');
  expect(await stack.count(`SELECT count(*) AS n FROM reservations WHERE order_id = 'cluster-happy-1' AND status = 'consumed'`)).toBe(2);
  expect(await stack.count(`SELECT count(*) AS n FROM gateway_charges WHERE order_id = 'cluster-happy-1' AND status = 'succeeded'`)).toBe(1);
  expect(await stack.count(`SELECT count(*) AS n FROM payments WHERE order_id = 'cluster-happy-1' AND status = 'captured'`)).toBe(1);
}, 120_000);

test('a declined payment on the cluster: COMPENSATED, the reservations released, nothing charged', async () => {
  const { result } = await stack.placeOrder({ orderId: 'cluster-declined-1', items: [{ sku: 'SKU-3', quantity: 1 }], paymentToken: 'tok_decline' });
  expect(result.status).toBe('COMPENSATED');
  expect(result.reason).toMatch(/^CARD_DECLINED/);
  expect(await stack.orderStatus('cluster-declined-1')).toBe('COMPENSATED');
  expect(await stack.count(`SELECT count(*) AS n FROM reservations WHERE order_id = 'cluster-declined-1' AND status = 'released'`)).toBe(1);
  expect(await stack.count(`SELECT count(*) AS n FROM gateway_charges WHERE order_id = 'cluster-declined-1' AND status = 'succeeded'`)).toBe(0);
}, 120_000);
