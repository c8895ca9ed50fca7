// An Idempotency-Key used again after its HTTP record's retention ended (DESIGN §8, last row; §10):
// the answer is a new, independent order (new order ID, new saga), never the old order, never a
// saga that retries for ever, never a change to the old order. HTTP retention is 2 s here
// (configuration: the `http` scope's TTL), with the old workflow still there and after it is gone.
import { WorkflowNotFoundError } from '@temporalio/client';
import { HTTP_SCOPE, workflowIdFor } from '../../apps/orders/api/http-idempotency';
import { httpStoreKey } from 'idempotent-sagas/fastify';
import { checkInvariants } from '../../apps/orders/domain/invariants';
import { createTenant } from '../../apps/orders/domain/tenants';
import { IdempotencyStore } from 'idempotent-sagas/store';
import type { PlaceOrderResult } from '../../apps/orders/workflows/messages';
import { useOrderApi } from '../helpers/api';
import { waitFor } from '../helpers/wait';

const HTTP_TTL_S = 2;
let store: IdempotencyStore;
const { stack, api } = useOrderApi({
  stock: 1000,
  deps: (s) => ({ store: (store = new IdempotencyStore(s.db.pool, { defaultTtlSeconds: 86_400, ttlSecondsByScope: { [HTTP_SCOPE]: HTTP_TTL_S } })) }),
});
let tenant: { tenantId: string; apiKey: string };
beforeAll(async () => {
  tenant = await createTenant(stack.db.pool, 'Reuse tenant');
});

type Accepted = { orderId: string; workflowId: string; status: string };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const bodyA = { items: [{ sku: 'SKU-1', quantity: 1 }], paymentToken: 'tok_visa' };
const bodyB = { items: [{ sku: 'SKU-2', quantity: 3 }], paymentToken: 'tok_visa' };

async function post(key: string, body: unknown): Promise<{ status: number; replayed: string | null; json: Accepted; location: string | null }> {
  const res = await fetch(`${api.baseUrl}/v1/orders`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tenant.apiKey}`, 'idempotency-key': key, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, replayed: res.headers.get('idempotent-replayed'), location: res.headers.get('location'), json: (await res.json()) as Accepted };
}

const orderRow = async (orderId: string) =>
  (
    await stack.db.pool.query<{ status: string; items: unknown; updated_at: Date; workflow_id: string }>(
      'SELECT status, items, updated_at, workflow_id FROM orders WHERE id = $1',
      [orderId],
    )
  ).rows[0];
const charges = (orderId: string): Promise<number> => stack.count('SELECT count(*) AS n FROM gateway_charges WHERE order_id = $1', [orderId]);
const resultOf = async (orderId: string): Promise<PlaceOrderResult> =>
  (await stack.client.workflow.getHandle(workflowIdFor(orderId)).result()) as PlaceOrderResult;
const httpRecord = (key: string) => store.get({ scope: HTTP_SCOPE, key: httpStoreKey(tenant.tenantId, 'POST', '/v1/orders', key) });

/** Places the first order under `key`, lets it complete, and lets its HTTP record expire. */
async function firstOrderThenExpiry(key: string): Promise<{ orderId: string; row: NonNullable<Awaited<ReturnType<typeof orderRow>>> }> {
  const first = await post(key, bodyA);
  expect(first.status).toBe(202);
  expect(await resultOf(first.json.orderId)).toMatchObject({ status: 'COMPLETED' });
  // Within retention the same key replays and a different body is refused.
  expect((await post(key, bodyA)).replayed).toBe('true');
  expect((await post(key, bodyB)).status).toBe(422);
  await sleep(HTTP_TTL_S * 1000 + 300);
  const row = await orderRow(first.json.orderId);
  if (!row) throw new Error('the first order has no row');
  return { orderId: first.json.orderId, row };
}

/** The documented answer: 202 for a new order with its own saga; the old order untouched. */
async function expectNewOrder(key: string, body: typeof bodyA, old: { orderId: string; row: Awaited<ReturnType<typeof orderRow>> }): Promise<void> {
  const again = await post(key, body);
  expect(again.status).toBe(202);
  expect(again.replayed).toBeNull();
  expect(again.json.orderId).not.toBe(old.orderId);
  expect(again.location).toBe(`/v1/orders/${again.json.orderId}`);
  expect(await resultOf(again.json.orderId)).toMatchObject({ status: 'COMPLETED' });
  expect((await orderRow(again.json.orderId))?.items).toMatchObject(body.items);
  expect(await charges(again.json.orderId)).toBe(1);
  // The old order is exactly as it was; its charge is still the only one.
  expect(await orderRow(old.orderId)).toEqual(old.row);
  expect(await charges(old.orderId)).toBe(1);
  // And the new answer is itself replayed within its own retention.
  const replay = await post(key, body);
  expect(replay.replayed).toBe('true');
  expect(replay.json).toEqual(again.json);
}

describe('while the old workflow still exists', () => {
  test('same body: a new, independent order (the expired record is reset, not replayed)', async () => {
    const key = `reuse-same-${Date.now()}`;
    const old = await firstOrderThenExpiry(key);
    expect((await httpRecord(key))?.expired).toBe(true); // expired, not yet deleted
    await expectNewOrder(key, bodyA, old);
  });

  test('different body: a new, independent order with the new body, never a 202 carrying the old order', async () => {
    const key = `reuse-diff-${Date.now()}`;
    const old = await firstOrderThenExpiry(key);
    await expectNewOrder(key, bodyB, old);
  });
});

describe('after the old workflow is gone (Temporal retention passed) and cleanup deleted the record', () => {
  const keys = { same: `gone-same-${Date.now()}`, diff: `gone-diff-${Date.now()}` };
  const old: Partial<Record<keyof typeof keys, Awaited<ReturnType<typeof firstOrderThenExpiry>>>> = {};

  // Both old orders are forgotten together: the dev server deletes a workflow in the background, in seconds to tens of seconds.
  beforeAll(async () => {
    [old.same, old.diff] = await Promise.all([firstOrderThenExpiry(keys.same), firstOrderThenExpiry(keys.diff)]);
    expect((await store.cleanupExpired({ batchSize: 100 })).expiredDeleted).toBeGreaterThanOrEqual(2);
    await Promise.all(
      Object.values(old).map(async (o) => {
        const workflowId = workflowIdFor(o.orderId);
        await stack.client.workflowService.deleteWorkflowExecution({ namespace: 'default', workflowExecution: { workflowId } });
        await waitFor(
          () =>
            stack.client.workflow
              .getHandle(workflowId)
              .describe()
              .then(
                () => false,
                (err: unknown) => err instanceof WorkflowNotFoundError,
              ),
          `workflow ${workflowId} to be deleted`,
          120_000,
        );
      }),
    );
  }, 180_000);

  test('same body: a new, independent order', async () => {
    expect(await httpRecord(keys.same)).toBeUndefined();
    await expectNewOrder(keys.same, bodyA, old.same!);
  });

  test('different body: a new, independent order', async () => {
    expect(await httpRecord(keys.diff)).toBeUndefined();
    await expectNewOrder(keys.diff, bodyB, old.diff!);
  });
});

test('the published policy states the retention and the answer after it', async () => {
  const res = await fetch(`${api.baseUrl}/v1/idempotency-policy`, { headers: { authorization: `Bearer ${tenant.apiKey}` } });
  const policy = (await res.json()) as { retentionSeconds: number; behaviour: Record<string, string> };
  expect(policy.retentionSeconds).toBe(HTTP_TTL_S);
  expect(policy.behaviour.afterRetention).toMatch(/new, independent order/);
});

test('every invariant holds after the reuses', async () => {
  const report = await checkInvariants(stack.db.pool);
  expect(report.violations).toEqual([]);
  expect(report.completed).toBe(8);
});
