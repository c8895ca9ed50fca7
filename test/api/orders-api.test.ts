// The orders API over real HTTP (app.inject's light-my-request needs an ESM-only `cookie` jest cannot load)
// on a real Postgres and dev server: every row of DESIGN §8,
// proven by counting records (HTTP idempotency keys, orders, workflows, gateway charges).
import type { FastifyInstance } from 'fastify';
import { createOrdersApiClient } from '../../src/api-client';
import { HTTP_SCOPE, orderIdFor, workflowIdFor } from '../../apps/orders/api/http-idempotency';
import { httpStoreKey } from 'idempotent-sagas/fastify';
import { createTenant } from '../../apps/orders/domain/tenants';
import type { PlaceOrderResult } from '../../apps/orders/workflows/messages';
import { startApi } from '../helpers/api';
import { createOrderStack, type OrderStack } from '../helpers/order-stack';
import { waitFor } from '../helpers/wait';

let stack: OrderStack;
let app: FastifyInstance;
let baseUrl: string;
let tenantA: { tenantId: string; apiKey: string };
let tenantB: { tenantId: string; apiKey: string };
/** Every body the API answered in this file: none may carry a stack trace. */
const bodies: string[] = [];

beforeAll(async () => {
  stack = await createOrderStack({ stock: 100_000, leaseMs: 2000, gatewayTimeoutMs: 3000 });
  await stack.startWorker();
  ({ app, baseUrl } = await startApi(stack));
  tenantA = await createTenant(stack.db.pool, 'Tenant A');
  tenantB = await createTenant(stack.db.pool, 'Tenant B');
});
afterAll(async () => {
  await app?.close();
  await stack?.stop();
});
beforeEach(() => stack.faults.replace({ seed: 1 }));

type Call = {
  base?: string;
  method?: 'GET' | 'POST';
  url: string;
  auth?: string | null;
  key?: string | null;
  body?: unknown;
  raw?: string;
  headers?: Record<string, string>;
};

type Answer = { statusCode: number; headers: Record<string, string | undefined>; body: string; json<T = unknown>(): T };

async function call(c: Call): Promise<Answer> {
  const headers: Record<string, string> = { ...c.headers };
  const auth = c.auth === undefined ? tenantA.apiKey : c.auth;
  if (auth !== null) headers.authorization = `Bearer ${auth}`;
  if (c.key !== undefined && c.key !== null) headers['idempotency-key'] = c.key;
  let payload: string | undefined;
  if (c.raw !== undefined) payload = c.raw;
  else if (c.body !== undefined) payload = JSON.stringify(c.body);
  if (payload !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
  const res = await fetch(`${c.base ?? baseUrl}${c.url}`, { method: c.method ?? 'GET', headers, ...(payload !== undefined && { body: payload }) });
  const body = await res.text();
  bodies.push(body);
  return {
    statusCode: res.status,
    headers: Object.fromEntries(res.headers.entries()),
    body,
    json: <T>() => JSON.parse(body) as T,
  };
}

/** The typed client (generated from openapi.json) as tenant A, or with another key. */
const typed = (apiKey = tenantA.apiKey) => createOrdersApiClient({ baseUrl, apiKey });
const postOrder = (key: string | null, body: unknown, opts: Partial<Call> = {}) => call({ method: 'POST', url: '/v1/orders', key, body, ...opts });

const body1 = (token = 'tok_visa') => ({
  items: [
    { sku: 'SKU-1', quantity: 1 },
    { sku: 'SKU-4', quantity: 2 },
  ],
  paymentToken: token,
});

const counts = async () => ({
  httpKeys: await stack.count(`SELECT count(*) AS n FROM idempotency_keys WHERE scope = $1`, [HTTP_SCOPE]),
  orders: await stack.count('SELECT count(*) AS n FROM orders'),
});

const uniqueKey = (label: string) => `${label}-${Math.random().toString(36).slice(2)}`;

async function sagaResult(orderId: string): Promise<PlaceOrderResult> {
  return (await stack.client.workflow.getHandle(workflowIdFor(orderId)).result()) as PlaceOrderResult;
}

async function workflowRuns(workflowId: string): Promise<number> {
  let n = 0;
  for await (const _ of stack.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) n += 1;
  return n;
}

/** The order a tenant's key names: derived from (tenant, key) and the generation of the key's HTTP record. */
async function orderIdOf(tenantId: string, key: string): Promise<string> {
  const record = await stack.store.get({ scope: HTTP_SCOPE, key: httpStoreKey(tenantId, 'POST', '/v1/orders', key) });
  if (!record) throw new Error(`no HTTP record for key ${key}`);
  return orderIdFor(tenantId, key, record.generation);
}

const chargesOf = (orderId: string) => stack.count(`SELECT count(*) AS n FROM gateway_charges WHERE order_id = $1`, [orderId]);

function problem(res: Answer): { type: string; status: number; title: string; detail?: string; errors?: Array<{ field: string }> } {
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  return res.json();
}

describe('POST /v1/orders: the DESIGN §8 table', () => {
  test('no, malformed or unknown bearer key: 401 problem, nothing recorded', async () => {
    const before = await counts();
    const answers = [
      await postOrder('k-401', body1(), { auth: null }),
      await postOrder('k-401', body1(), { auth: 'sk_not_a_real_key' }),
      await postOrder('k-401', body1(), { auth: null, headers: { authorization: `Basic ${tenantA.apiKey}` } }),
      await postOrder('k-401', body1(), { auth: null, headers: { authorization: 'Bearer' } }),
      // Authentication is checked first: a missing key or a malformed body still answers 401.
      await postOrder(null, body1(), { auth: 'sk_not_a_real_key' }),
      await postOrder('k-401', undefined, { auth: null, raw: '{"items": [' }),
    ];
    for (const res of answers) {
      expect(res.statusCode).toBe(401);
      expect(problem(res)).toMatchObject({ type: 'https://idempotent-sagas.dev/problems/unauthorized', status: 401 });
    }
    expect(await counts()).toEqual(before);
    // The same key then works for the real tenant: nothing was held.
    const ok = await postOrder('k-401', body1());
    expect(ok.statusCode).toBe(202);
    await sagaResult(ok.json<{ orderId: string }>().orderId);
  });

  test('missing Idempotency-Key: 400, nothing recorded', async () => {
    const before = await counts();
    const res = await postOrder(null, body1());
    expect(res.statusCode).toBe(400);
    expect(problem(res).type).toBe('https://idempotent-sagas.dev/problems/idempotency-key-missing');
    expect(await counts()).toEqual(before);
  });

  test('empty, too long or non-printable Idempotency-Key: 400, nothing recorded', async () => {
    const before = await counts();
    // HTTP trims spaces at either end of a header value (fetch does before sending), so no key here starts or
    // ends with one: each arrives with exactly the length it has here.
    const tooLong = [`x${'~'.repeat(254)}x`, `!${' '.repeat(254)}!`];
    for (const key of tooLong) expect(key).toHaveLength(256);
    for (const key of ['', ...tooLong, 'tab\there', 'caf\u00e9']) {
      const res = await postOrder(key, body1());
      expect({ key, status: res.statusCode }).toEqual({ key, status: 400 });
      expect(problem(res).type).toBe('https://idempotent-sagas.dev/problems/idempotency-key-invalid');
    }
    expect(await counts()).toEqual(before);
    // 255 printable characters is the limit, and it is accepted, inner spaces included.
    const longest = `!${' '.repeat(10)}${'~'.repeat(243)}!`;
    expect(longest).toHaveLength(255);
    const ok = await postOrder(longest, body1());
    expect(ok.statusCode).toBe(202);
    expect(await stack.count('SELECT count(*) AS n FROM idempotency_keys WHERE scope = $1', [HTTP_SCOPE])).toBe(before.httpKeys + 1);
    // The record is the one of all 255 characters (its store key hashes the key the server received).
    const orderId = await orderIdOf(tenantA.tenantId, longest);
    expect(ok.json<{ orderId: string }>().orderId).toBe(orderId);
    await sagaResult(orderId);
  });

  test('malformed JSON or schema violation: 400 with field errors, nothing recorded; the same key then works', async () => {
    const key = uniqueKey('invalid-then-valid');
    const before = await counts();
    const malformed = await postOrder(key, undefined, { raw: '{"items": [' });
    expect(malformed.statusCode).toBe(400);
    expect(problem(malformed).type).toBe('https://idempotent-sagas.dev/problems/malformed-json');

    const invalid = await postOrder(key, { items: [{ sku: 'SKU-1', quantity: 0 }], extra: true });
    expect(invalid.statusCode).toBe(400);
    const p = problem(invalid);
    expect(p.type).toBe('https://idempotent-sagas.dev/problems/validation-error');
    const fields = (p.errors ?? []).map((e) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['body.items.0.quantity', 'body.paymentToken']));

    for (const bad of [{ items: [], paymentToken: 't' }, { items: [{ sku: 'SKU-1', quantity: 1001 }], paymentToken: 't' }, []]) {
      expect((await postOrder(key, bad)).statusCode).toBe(400);
    }
    expect(await counts()).toEqual(before);

    const ok = await postOrder(key, body1());
    expect(ok.statusCode).toBe(202);
    expect((await counts()).httpKeys).toBe(before.httpKeys + 1);
    await sagaResult(ok.json<{ orderId: string }>().orderId);
  });

  test('first valid request: 202 with orderId, status, workflowId and Location; one saga, one order, one charge', async () => {
    const key = uniqueKey('first');
    const before = await counts();
    const res = await postOrder(key, body1());
    expect(res.statusCode).toBe(202);
    const orderId = await orderIdOf(tenantA.tenantId, key);
    expect(res.json()).toEqual({
      orderId,
      status: 'PENDING',
      workflowId: `order-${orderId}`,
      links: { self: `/v1/orders/${orderId}`, cancel: `/v1/orders/${orderId}/cancel` },
    });
    expect(res.headers.location).toBe(`/v1/orders/${orderId}`);
    expect(res.headers['idempotent-replayed']).toBeUndefined();
    expect(await sagaResult(orderId)).toMatchObject({ status: 'COMPLETED', totalCents: 2490 + 2 * 650 });
    expect(await counts()).toEqual({ httpKeys: before.httpKeys + 1, orders: before.orders + 1 });
    expect(await stack.count('SELECT count(*) AS n FROM orders WHERE id = $1 AND tenant_id = $2', [orderId, tenantA.tenantId])).toBe(1);
    expect(await chargesOf(orderId)).toBe(1);
    expect(await workflowRuns(`order-${orderId}`)).toBe(1);
  });

  test('same key, same body: the first response again, byte for byte, with Idempotent-Replayed: true', async () => {
    const key = uniqueKey('replay');
    const first = await postOrder(key, body1());
    expect(first.statusCode).toBe(202);
    const { orderId } = first.json<{ orderId: string }>();
    await sagaResult(orderId);
    const before = await counts();
    for (let i = 0; i < 3; i++) {
      const again = await postOrder(key, body1());
      expect(again.statusCode).toBe(202);
      expect(again.body).toBe(first.body);
      expect(again.headers.location).toBe(first.headers.location);
      expect(again.headers['content-type']).toBe(first.headers['content-type']);
      expect(again.headers['idempotent-replayed']).toBe('true');
    }
    expect(await counts()).toEqual(before);
    expect(await chargesOf(orderId)).toBe(1);
    expect(await workflowRuns(`order-${orderId}`)).toBe(1);
  });

  test('reordered fields and other whitespace are the same request: a replay, not a 422', async () => {
    const key = uniqueKey('canonical');
    const first = await postOrder(key, body1());
    expect(first.statusCode).toBe(202);
    const before = await counts();
    const raw = '{\n  "paymentToken" : "tok_visa",\n\t"items": [ {"quantity": 1, "sku": "SKU-1"},{ "quantity":2,"sku":"SKU-4" } ]\n}\n';
    const again = await postOrder(key, undefined, { raw });
    expect(again.statusCode).toBe(202);
    expect(again.body).toBe(first.body);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(await counts()).toEqual(before);
    await sagaResult(first.json<{ orderId: string }>().orderId);
  });

  test('same key, different body: 422, the stored response unchanged', async () => {
    const key = uniqueKey('mismatch');
    const first = await postOrder(key, body1());
    expect(first.statusCode).toBe(202);
    const before = await counts();
    const other = await postOrder(key, { ...body1(), items: [{ sku: 'SKU-2', quantity: 1 }] });
    expect(other.statusCode).toBe(422);
    expect(problem(other).type).toBe('https://idempotent-sagas.dev/problems/idempotency-key-reused');
    expect(await counts()).toEqual(before);
    const again = await postOrder(key, body1());
    expect(again.body).toBe(first.body);
    const { orderId } = first.json<{ orderId: string }>();
    await sagaResult(orderId);
    expect(await chargesOf(orderId)).toBe(1);
  });

  test('same key while the first request is in progress: 409 with Retry-After, nothing changed; once the holder dies, a retry takes over and finds the same saga', async () => {
    const key = uniqueKey('in-progress');
    const ref = { scope: HTTP_SCOPE, key: httpStoreKey(tenantA.tenantId, 'POST', '/v1/orders', key) };
    // Another API process claimed the key and started the saga, then died before storing its answer.
    const claim = await stack.store.claimLease({ ...ref, request: body1(), owner: 'api:dead:1', leaseMs: 8000 });
    if (claim.kind !== 'claimed') throw new Error('the first claim must claim');
    const orderId = orderIdFor(tenantA.tenantId, key, claim.generation);
    await stack.startOrder({ orderId, tenantId: tenantA.tenantId, items: body1().items }, workflowIdFor(orderId));
    const before = await stack.store.get(ref);

    const busy = await postOrder(key, body1());
    expect(busy.statusCode).toBe(409);
    expect(problem(busy).type).toBe('https://idempotent-sagas.dev/problems/idempotency-key-in-use');
    const retryAfter = Number(busy.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(8);
    const withoutClock = (r: typeof before) => (r ? { ...r, leaseMsLeft: r.leaseMsLeft > 0 } : r);
    expect(withoutClock(await stack.store.get(ref))).toEqual(withoutClock(before));

    // The lease runs out (released here rather than waited for): the retry takes over.
    await stack.store.releaseLease({ ...ref, epoch: claim.epoch });
    const retry = await postOrder(key, body1());
    expect(retry.statusCode).toBe(202);
    expect(retry.json()).toMatchObject({ orderId, workflowId: workflowIdFor(orderId) });
    expect(await sagaResult(orderId)).toMatchObject({ status: 'COMPLETED' });
    expect(await workflowRuns(workflowIdFor(orderId))).toBe(1);
    expect(await stack.count('SELECT count(*) AS n FROM orders WHERE id = $1', [orderId])).toBe(1);
    expect(await chargesOf(orderId)).toBe(1);
    // And afterwards the stored answer is replayed.
    const replay = await postOrder(key, body1());
    expect(replay.body).toBe(retry.body);
    expect(replay.headers['idempotent-replayed']).toBe('true');
  });

  test('same key, other tenant: independent, a second order', async () => {
    const key = uniqueKey('shared');
    const before = await counts();
    const a = await postOrder(key, body1(), { auth: tenantA.apiKey });
    const b = await postOrder(key, body1(), { auth: tenantB.apiKey });
    expect([a.statusCode, b.statusCode]).toEqual([202, 202]);
    expect(b.headers['idempotent-replayed']).toBeUndefined();
    const idA = a.json<{ orderId: string }>().orderId;
    const idB = b.json<{ orderId: string }>().orderId;
    expect(idA).not.toBe(idB);
    await Promise.all([sagaResult(idA), sagaResult(idB)]);
    expect(await counts()).toEqual({ httpKeys: before.httpKeys + 2, orders: before.orders + 2 });
    expect(await stack.count('SELECT count(*) AS n FROM orders WHERE id = $1 AND tenant_id = $2', [idB, tenantB.tenantId])).toBe(1);
    expect([await chargesOf(idA), await chargesOf(idB)]).toEqual([1, 1]);
  });

  test('100 concurrent identical requests: one saga, one order, one charge; every answer the identical 202 or a 409', async () => {
    const key = uniqueKey('concurrent');
    const before = await counts();
    const answers = await Promise.all(Array.from({ length: 100 }, () => postOrder(key, body1())));
    const accepted = answers.filter((r) => r.statusCode === 202);
    const conflicts = answers.filter((r) => r.statusCode === 409);
    expect(accepted.length + conflicts.length).toBe(100);
    expect(accepted.length).toBeGreaterThanOrEqual(1);
    expect(new Set(accepted.map((r) => r.body)).size).toBe(1);
    expect(new Set(accepted.map((r) => r.headers.location)).size).toBe(1);
    expect(accepted.filter((r) => r.headers['idempotent-replayed'] === undefined).length).toBe(1);
    for (const r of conflicts) expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const orderId = await orderIdOf(tenantA.tenantId, key);
    expect(await sagaResult(orderId)).toMatchObject({ status: 'COMPLETED' });
    expect(await counts()).toEqual({ httpKeys: before.httpKeys + 1, orders: before.orders + 1 });
    expect(await workflowRuns(workflowIdFor(orderId))).toBe(1);
    expect(await chargesOf(orderId)).toBe(1);
  });

  test('wrong content type, oversized body: 4xx problems, nothing recorded', async () => {
    const before = await counts();
    const text = await postOrder(uniqueKey('ct'), undefined, { raw: 'items=1', headers: { 'content-type': 'text/plain' } });
    expect(text.statusCode).toBe(415);
    expect(problem(text).type).toBe('https://idempotent-sagas.dev/problems/unsupported-media-type');
    const huge = await postOrder(uniqueKey('big'), { ...body1(), paymentToken: 'x'.repeat(100_000) });
    expect(huge.statusCode).toBe(413);
    expect(problem(huge).type).toBe('https://idempotent-sagas.dev/problems/payload-too-large');
    expect(await counts()).toEqual(before);
  });
});

describe('POST /v1/orders with Prefer: wait (RFC 7240)', () => {
  const preferWait = (seconds: number | string) => ({ headers: { prefer: `wait=${seconds}` } });

  test('the saga ends within the wait: 200 with the outcome and Preference-Applied; replays without the preference get the stored 202, with it the outcome again; one saga, one order, one charge', async () => {
    const key = uniqueKey('prefer-completed');
    const before = await counts();
    const first = await postOrder(key, body1(), preferWait(20));
    expect(first.statusCode).toBe(200);
    expect(first.headers['preference-applied']).toBe('wait=20');
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const outcome = first.json<{ orderId: string; status: string; totalCents: number; chargeId: string; workflowId: string }>();
    expect(outcome).toMatchObject({ status: 'COMPLETED', totalCents: 2490 + 2 * 650, workflowId: workflowIdFor(outcome.orderId) });
    expect(outcome.chargeId).toMatch(/^ch_/);

    const plain = await postOrder(key, body1());
    expect(plain.statusCode).toBe(202);
    expect(plain.headers['idempotent-replayed']).toBe('true');
    expect(plain.json()).toEqual({ orderId: outcome.orderId, status: 'PENDING', workflowId: outcome.workflowId, links: expect.any(Object) as unknown });
    const again = await postOrder(key, body1(), preferWait(5));
    expect(again.statusCode).toBe(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json()).toEqual({ ...outcome, links: expect.any(Object) as unknown });

    expect(await counts()).toEqual({ httpKeys: before.httpKeys + 1, orders: before.orders + 1 });
    expect(await chargesOf(outcome.orderId)).toBe(1);
    expect(await workflowRuns(outcome.workflowId)).toBe(1);
  });

  test('a declined payment within the wait: 200 COMPENSATED with the reason, nothing charged', async () => {
    const res = await postOrder(uniqueKey('prefer-declined'), body1('tok_decline'), preferWait(20));
    expect(res.statusCode).toBe(200);
    const outcome = res.json<{ orderId: string; status: string; reason: string }>();
    expect(outcome).toMatchObject({ status: 'COMPENSATED', reason: expect.stringMatching(/^CARD_DECLINED/) as unknown });
    expect(await stack.count(`SELECT count(*) AS n FROM gateway_charges WHERE order_id = $1 AND status = 'succeeded'`, [outcome.orderId])).toBe(0);
  });

  test('a saga that outlasts the wait (a pending charge, no webhook): the usual 202 after the wait, with Preference-Applied', async () => {
    const started = Date.now();
    const res = await postOrder(uniqueKey('prefer-pending'), body1('tok_pending'), preferWait(1));
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(res.statusCode).toBe(202);
    expect(res.headers['preference-applied']).toBe('wait=1');
    expect(res.json<{ status: string }>().status).toBe('PENDING');
  });

  test('a malformed or absent wait is ignored: 202 at once, no Preference-Applied', async () => {
    for (const prefer of ['wait=soon', 'respond-async', 'wait=-3']) {
      const res = await postOrder(uniqueKey('prefer-ignored'), body1(), { headers: { prefer } });
      expect({ prefer, status: res.statusCode, applied: res.headers['preference-applied'] }).toEqual({ prefer, status: 202, applied: undefined });
    }
  });
});

describe('GET /v1/orders/{id} and cancel', () => {
  test('the order with its saga state; another tenant gets 404, as does an unknown order', async () => {
    const res = await postOrder(uniqueKey('get'), body1());
    const { orderId } = res.json<{ orderId: string }>();
    await sagaResult(orderId);
    const own = await typed().GET('/v1/orders/{id}', { params: { path: { id: orderId } } });
    expect(own.response.status).toBe(200);
    expect(own.data).toMatchObject({
      orderId,
      status: 'COMPLETED',
      workflowId: workflowIdFor(orderId),
      items: body1().items,
      totalCents: 2490 + 2 * 650,
      currency: 'EUR',
      saga: { status: 'COMPLETED', pivoted: true, orderId },
    });
    const other = await typed(tenantB.apiKey).GET('/v1/orders/{id}', { params: { path: { id: orderId } } });
    expect(other.response.status).toBe(404);
    expect(other.error?.type).toBe('https://idempotent-sagas.dev/problems/not-found');
    expect((await typed().GET('/v1/orders/{id}', { params: { path: { id: 'ord_000000000000000000000000' } } })).response.status).toBe(404);
    expect((await call({ url: `/v1/orders/${orderId}`, auth: null })).statusCode).toBe(401);
    // Another tenant cannot cancel it either.
    expect((await typed(tenantB.apiKey).POST('/v1/orders/{id}/cancel', { params: { path: { id: orderId } }, body: {} })).response.status).toBe(404);
  });

  test('an order known only from its workflow (no row yet) is found by its workflow, for its own tenant only', async () => {
    // An API whose task queue has no worker: the saga starts but never writes its row.
    const { app: idle, baseUrl: base } = await startApi(stack, { temporal: { client: stack.client, taskQueue: `${stack.taskQueue}-idle` } });
    let workflowId: string | undefined;
    try {
      const res = await postOrder(uniqueKey('no-row'), body1(), { base });
      expect(res.statusCode).toBe(202);
      const { orderId } = res.json<{ orderId: string }>();
      workflowId = workflowIdFor(orderId);
      expect(await stack.count('SELECT count(*) AS n FROM orders WHERE id = $1', [orderId])).toBe(0);
      const own = await call({ base, url: `/v1/orders/${orderId}` });
      expect(own.statusCode).toBe(200);
      expect(own.json()).toMatchObject({ orderId, status: 'PENDING', workflowId, items: null, saga: null });
      expect((await call({ base, url: `/v1/orders/${orderId}`, auth: tenantB.apiKey })).statusCode).toBe(404);
    } finally {
      if (workflowId) await stack.client.workflow.getHandle(workflowId).terminate('test done');
      await idle.close();
    }
  });

  test('cancel before the pivot: 202 accepted, the saga compensates, no net charge', async () => {
    stack.faults.replace({ seed: 1, latencyMs: 1000 }); // the saga sits in its charge step
    const res = await postOrder(uniqueKey('cancel'), body1());
    const { orderId } = res.json<{ orderId: string }>();
    const chargeKey = `${workflowIdFor(orderId)}/charge`;
    // The charge has reached the gateway (counted on arrival) and will apply once the latency passed.
    await waitFor(
      async () => (await stack.count('SELECT count(*) AS n FROM gateway_key_attempts WHERE idempotency_key = $1', [chargeKey])) === 1,
      'the charge to reach the gateway',
    );
    const cancel = await typed().POST('/v1/orders/{id}/cancel', { params: { path: { id: orderId } }, body: { reason: 'changed my mind' } });
    expect(cancel.response.status).toBe(202);
    expect(cancel.data).toEqual({ accepted: true, message: 'cancellation accepted; the order is being compensated' });
    expect(await sagaResult(orderId)).toMatchObject({ status: 'COMPENSATED', reason: 'cancelled: changed my mind' });
    const view = await typed().GET('/v1/orders/{id}', { params: { path: { id: orderId } } });
    expect(view.data).toMatchObject({ status: 'COMPENSATED', failureReason: 'cancelled: changed my mind', saga: { status: 'COMPENSATED' } });
    // The charge in flight applied; the compensation waited it out and refunded it (no tombstone): net zero.
    const succeeded = await stack.count(`SELECT count(*) AS n FROM gateway_charges WHERE order_id = $1 AND status = 'succeeded'`, [orderId]);
    const refunded = await stack.count('SELECT count(*) AS n FROM gateway_refunds r JOIN gateway_charges c ON c.id = r.charge_id WHERE c.order_id = $1', [
      orderId,
    ]);
    expect({ succeeded, refunded }).toEqual({ succeeded: 1, refunded: 1 });
    expect(await stack.count('SELECT count(*) AS n FROM gateway_key_tombstones WHERE idempotency_key = $1', [chargeKey])).toBe(0);
    expect(await stack.store.get({ scope: 'step', key: chargeKey })).toMatchObject({ status: 'compensated' });
    expect(await stack.count(`SELECT count(*) AS n FROM payments WHERE order_id = $1 AND status = 'refunded'`, [orderId])).toBe(1);
    expect(await stack.count(`SELECT count(*) AS n FROM reservations WHERE order_id = $1 AND status = 'held'`, [orderId])).toBe(0);
  });

  test('cancel after completion: 409 problem', async () => {
    const res = await postOrder(uniqueKey('late-cancel'), body1());
    const { orderId } = res.json<{ orderId: string }>();
    expect(await sagaResult(orderId)).toMatchObject({ status: 'COMPLETED' });
    const cancel = await call({ method: 'POST', url: `/v1/orders/${orderId}/cancel` });
    expect(cancel.statusCode).toBe(409);
    expect(problem(cancel)).toMatchObject({ type: 'https://idempotent-sagas.dev/problems/order-not-cancellable', status: 409 });
    expect(await stack.count('SELECT count(*) AS n FROM orders WHERE id = $1 AND status = $2', [orderId, 'COMPLETED'])).toBe(1);
  });
});

describe('the other routes', () => {
  test('GET /v1/products lists sku, name, price and available stock', async () => {
    const res = await call({ url: '/v1/products' });
    expect(res.statusCode).toBe(200);
    const { products } = res.json<{ products: Array<{ sku: string; available: number }> }>();
    expect(products).toHaveLength(12);
    const onHand = await stack.count(`SELECT on_hand AS n FROM products WHERE sku = 'SKU-3'`);
    expect(products.find((p) => p.sku === 'SKU-3')).toEqual({ sku: 'SKU-3', name: 'Ceramic dripper', priceCents: 2200, available: onHand });
    expect((await call({ url: '/v1/products', auth: null })).statusCode).toBe(401);
  });

  test('GET /v1/idempotency-policy publishes the retention of scope http, the key format and the scoping', async () => {
    const res = await call({ url: '/v1/idempotency-policy' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      scope: 'http',
      retentionSeconds: stack.store.ttlSecondsFor('http'),
      scoping: ['tenant', 'method', 'route', 'Idempotency-Key'],
      keyFormat: { header: 'Idempotency-Key' },
    });
  });

  test('GET /healthz and unknown routes', async () => {
    expect((await call({ url: '/healthz', auth: null })).json()).toEqual({ status: 'ok' });
    const missing = await call({ url: '/v2/nothing' });
    expect(missing.statusCode).toBe(404);
    expect(problem(missing).type).toBe('https://idempotent-sagas.dev/problems/not-found');
  });

  test('GET /docs/json is an OpenAPI document with every route', async () => {
    const doc = (await call({ url: '/docs/json', auth: null })).json<{ openapi: string; paths: Record<string, Record<string, unknown>> }>();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/v1/orders', '/v1/orders/{id}', '/v1/orders/{id}/cancel', '/v1/products', '/v1/idempotency-policy', '/healthz']),
    );
    expect(doc.paths['/v1/orders']).toHaveProperty('post.requestBody');
    expect(doc.paths['/v1/orders']).toHaveProperty(['post', 'responses', '422']);
  });

  test('GET /metrics counts replays, conflicts, mismatches, takeovers, order outcomes and latency', async () => {
    const text = (await call({ url: '/metrics', auth: null })).body;
    const value = (line: string) => Number(new RegExp(`^${line.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    expect(value('api_idempotency_requests_total{outcome="replayed"}')).toBeGreaterThanOrEqual(5);
    expect(value('api_idempotency_requests_total{outcome="conflict"}')).toBeGreaterThanOrEqual(1);
    expect(value('api_idempotency_requests_total{outcome="mismatch"}')).toBe(1);
    expect(value('api_idempotency_requests_total{outcome="takeover"}')).toBe(1);
    expect(value('idempotency_store_events_total{event="leaseTakeovers",scope="http"}')).toBeGreaterThanOrEqual(1);
    expect(value('orders_by_status{status="COMPLETED"}')).toBe(await stack.count(`SELECT count(*) AS n FROM orders WHERE status = 'COMPLETED'`));
    expect(value('orders_by_status{status="COMPENSATED"}')).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^api_http_request_duration_seconds_count\{method="POST",route="\/v1\/orders",status="202"\} \d+$/m);
  });

  test('no answer in this file carried a stack trace', () => {
    expect(bodies.length).toBeGreaterThan(100);
    for (const body of bodies) expect(body).not.toMatch(/\n\s+at |\bat .*\.[jt]s:\d+/);
  });
});
