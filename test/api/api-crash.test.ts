// The API process SIGKILLed between starting the workflow and storing its response (DESIGN §2, §8):
// the retry with the same Idempotency-Key, served by a new process, returns the same order, and
// one saga ran. The real `apps/orders/api/main.ts` runs as a child (`node --import tsx`, so the signal
// reaches it); the test-only API_FAULT_PAUSE_AFTER_START_MS holds it inside the window.
import { HTTP_SCOPE, orderIdFor, workflowIdFor } from '../../apps/orders/api/http-idempotency';
import { httpStoreKey } from 'idempotent-sagas/fastify';
import { createTenant } from '../../apps/orders/domain/tenants';
import type { PlaceOrderResult } from '../../apps/orders/workflows/messages';
import { createOrderStack, type OrderStack } from '../helpers/order-stack';
import { childWorkerEnv, startChildProcess, type ChildProcessHandle } from '../helpers/child-worker';
import { freePort } from '../helpers/processes';

type ApiProcess = ChildProcessHandle & { baseUrl: string };

let stack: OrderStack;
const started: ApiProcess[] = [];

beforeAll(async () => {
  stack = await createOrderStack({ stock: 1000 });
  await stack.startWorker();
});
afterAll(async () => {
  for (const api of started) await api.kill('SIGKILL');
  await stack?.stop();
});

async function startApi(extraEnv: Record<string, string> = {}): Promise<ApiProcess> {
  const port = await freePort();
  const handle = await startChildProcess(
    'apps/orders/api/main.ts',
    childWorkerEnv(stack, { PORT: String(port), API_HOST: '127.0.0.1', ...extraEnv }),
    'api ready',
  );
  const api: ApiProcess = Object.assign(handle, { baseUrl: `http://127.0.0.1:${port}` });
  started.push(api);
  return api;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('SIGKILL between workflow start and stored response: the retry returns the same order, one saga ran', async () => {
  const tenant = await createTenant(stack.db.pool, 'Crash tenant');
  const key = `crash-${Date.now()}`;
  const storeKey = httpStoreKey(tenant.tenantId, 'POST', '/v1/orders', key);
  const body = JSON.stringify({ items: [{ sku: 'SKU-1', quantity: 2 }], paymentToken: 'tok_visa' });
  const post = (baseUrl: string) =>
    fetch(`${baseUrl}/v1/orders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tenant.apiKey}`, 'idempotency-key': key, 'content-type': 'application/json' },
      body,
    });

  // 1. An API that pauses 30 s after starting the saga: the request hangs inside the window.
  const doomed = await startApi({ API_FAULT_PAUSE_AFTER_START_MS: '30000' });
  const firstAttempt = post(doomed.baseUrl).then(
    (res) => ({ status: res.status }),
    (err: Error) => ({ error: err }),
  );
  // The order is named by (tenant, key) and the generation of the HTTP record the doomed API claimed.
  const generation = await waitFor('the HTTP record', async () => (await stack.store.get({ scope: HTTP_SCOPE, key: storeKey }))?.generation);
  const orderId = orderIdFor(tenant.tenantId, key, generation);
  const workflowId = workflowIdFor(orderId);
  // The saga exists and the HTTP record is still in progress (claimed, no response stored).
  await waitFor('the workflow to exist', async () => (await stack.client.workflow.getHandle(workflowId).describe()).workflowId);
  const row = await stack.db.pool.query<{ status: string }>('SELECT status FROM idempotency_keys WHERE scope = $1 AND key = $2', [HTTP_SCOPE, storeKey]);
  expect(row.rows.map((r) => r.status)).toEqual(['in_progress']);

  // 2. Kill the API process inside the window: the client sees its connection die.
  await doomed.kill('SIGKILL');
  expect(doomed.signalCode).toBe('SIGKILL');
  expect(await firstAttempt).toHaveProperty('error');

  // 3. A new API process, no fault. The dead one's lease (5 s) may still be live: honour Retry-After.
  const api = await startApi();
  let res = await post(api.baseUrl);
  let conflicts = 0;
  while (res.status === 409) {
    conflicts += 1;
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    await res.text();
    await new Promise((r) => setTimeout(r, retryAfter * 1000));
    res = await post(api.baseUrl);
    expect(conflicts).toBeLessThan(10);
  }
  expect(res.status).toBe(202);
  const accepted = (await res.json()) as { orderId: string; workflowId: string; status: string; links: { self: string } };
  expect(accepted).toEqual({ orderId, status: 'PENDING', workflowId, links: { self: `/v1/orders/${orderId}`, cancel: `/v1/orders/${orderId}/cancel` } });
  expect(res.headers.get('location')).toBe(`/v1/orders/${orderId}`);
  expect(res.headers.get('idempotent-replayed')).toBeNull();

  // A further retry is a byte-identical replay.
  const replay = await post(api.baseUrl);
  expect(replay.status).toBe(202);
  expect(replay.headers.get('idempotent-replayed')).toBe('true');
  expect(await replay.json()).toEqual(accepted);

  // 4. One saga, one order, one charge.
  const result = (await stack.client.workflow.getHandle(workflowId).result()) as PlaceOrderResult;
  expect(result).toMatchObject({ orderId, status: 'COMPLETED' });
  let runs = 0;
  for await (const _ of stack.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runs += 1;
  expect(runs).toBe(1);
  expect(await stack.count('SELECT count(*) AS n FROM orders WHERE id = $1', [orderId])).toBe(1);
  expect(await stack.count('SELECT count(*) AS n FROM gateway_charges WHERE order_id = $1', [orderId])).toBe(1);
  expect(
    await stack.count('SELECT count(*) AS n FROM idempotency_keys WHERE scope = $1 AND key = $2 AND status = $3', [HTTP_SCOPE, storeKey, 'completed']),
  ).toBe(1);
}, 120_000);
