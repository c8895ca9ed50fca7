// The committed openapi.json is what the running app serves (regenerate with `npm run openapi`), and
// what it documents is what the app does: operation IDs, per-route security, problem+json errors,
// and the headers of real responses.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { validate } from '@readme/openapi-parser';
import type { FastifyInstance } from 'fastify';
import { createTenant } from '../../apps/orders/domain/tenants';
import { createOrdersApiClient } from '../../src/api-client';
import { startApi } from '../helpers/api';
import { createOrderStack, type OrderStack } from '../helpers/order-stack';

type Responses = Record<string, { content?: Record<string, unknown>; headers?: Record<string, unknown> }>;
type Doc = {
  openapi: string;
  security?: unknown;
  paths: Record<string, Record<string, { operationId?: string; security?: Array<Record<string, string[]>>; responses: Responses }>>;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
};

let stack: OrderStack;
let app: FastifyInstance;
let baseUrl: string;
let served: Doc;
const committed = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../openapi.json'), 'utf8')) as Doc;

beforeAll(async () => {
  stack = await createOrderStack({ stock: 100 });
  await stack.startWorker();
  ({ app, baseUrl } = await startApi(stack));
  served = (await (await fetch(`${baseUrl}/docs/json`)).json()) as Doc;
});
afterAll(async () => {
  await app?.close();
  await stack?.stop();
});

const operations = (doc: Doc) =>
  Object.entries(doc.paths).flatMap(([p, ops]) => Object.entries(ops).map(([method, op]) => ({ route: `${method.toUpperCase()} ${p}`, ...op })));

test('openapi.json is exactly what the running app serves (npm run openapi regenerates it)', () => {
  expect(served).toEqual(committed);
  expect(served.openapi).toBe('3.1.0');
});

test('every operation has a unique operation ID and its own security; errors are problem+json', () => {
  const ops = operations(served);
  expect(ops.length).toBeGreaterThanOrEqual(8);
  expect(new Set(ops.map((o) => o.operationId)).size).toBe(ops.length);
  expect(served.security).toBeUndefined(); // no document-wide default to forget
  const security = Object.fromEntries(ops.map((o) => [o.route, o.security]));
  expect(security).toMatchObject({
    'POST /v1/orders': [{ bearer: [] }],
    'GET /v1/orders/{id}': [{ bearer: [] }],
    'POST /v1/webhooks/payments': [{ gatewaySignature: [] }],
    'GET /healthz': [],
    'GET /readyz': [],
  });
  for (const op of ops.filter((o) => o.route !== 'GET /readyz')) {
    for (const [status, response] of Object.entries(op.responses).filter(([s]) => Number(s) >= 400)) {
      expect({ route: op.route, status, types: Object.keys(response.content ?? {}) }).toEqual({ route: op.route, status, types: ['application/problem+json'] });
    }
  }
  expect(served.components.schemas).toHaveProperty('Problem');
});

test('the documented headers are on real responses: Location and Idempotent-Replayed on 202, WWW-Authenticate on 401', async () => {
  const placeOrder = served.paths['/v1/orders']!.post!.responses;
  expect(Object.keys(placeOrder['202']!.headers ?? {})).toEqual(['Location', 'Idempotent-Replayed']);
  expect(Object.keys(placeOrder['409']!.headers ?? {})).toEqual(['Retry-After']);
  expect(Object.keys(placeOrder['401']!.headers ?? {})).toEqual(['WWW-Authenticate']);

  const tenant = await createTenant(stack.db.pool, 'OpenAPI Tenant');
  const post = () =>
    fetch(`${baseUrl}/v1/orders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tenant.apiKey}`, 'content-type': 'application/json', 'idempotency-key': `openapi-${stack.taskQueue}` },
      body: JSON.stringify({ items: [{ sku: 'SKU-2', quantity: 1 }], paymentToken: 'tok_visa' }),
    });
  const first = await post();
  const again = await post();
  expect([first.status, again.status]).toEqual([202, 202]);
  expect(first.headers.get('location')).toMatch(/^\/v1\/orders\/ord_[0-9a-f]{24}$/);
  expect([first.headers.get('idempotent-replayed'), again.headers.get('idempotent-replayed')]).toEqual([null, 'true']);
  expect(again.headers.get('location')).toBe(first.headers.get('location'));

  const unauthorized = await fetch(`${baseUrl}/v1/products`);
  expect(unauthorized.status).toBe(401);
  expect(unauthorized.headers.get('www-authenticate')).toBe('Bearer');
  expect(unauthorized.headers.get('content-type')).toMatch(/^application\/problem\+json/);
});

test("the typed client's types (src/api-client/schema.ts, written by npm ci's prepare) are what openapi-typescript makes of the committed document", () => {
  const cli = path.resolve(__dirname, '../../node_modules/openapi-typescript/bin/cli.js');
  const generated = execFileSync(process.execPath, [cli, path.resolve(__dirname, '../../openapi.json')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  expect(generated).toBe(fs.readFileSync(path.resolve(__dirname, '../../src/api-client/schema.ts'), 'utf8'));
});

test('the typed client drives the running API through every tenant operation: place, replay, read, cancel, products, policy', async () => {
  const tenant = await createTenant(stack.db.pool, 'Typed Client Tenant');
  const api = createOrdersApiClient({ baseUrl, apiKey: tenant.apiKey });
  const order = {
    params: { header: { 'idempotency-key': `typed-${stack.taskQueue}` } },
    body: { items: [{ sku: 'SKU-3', quantity: 1 }], paymentToken: 'tok_visa' },
  };
  const placed = await api.POST('/v1/orders', order);
  expect(placed.response.status).toBe(202);
  const orderId = placed.data!.orderId;
  const replayed = await api.POST('/v1/orders', order);
  expect(replayed.response.headers.get('idempotent-replayed')).toBe('true');
  expect(replayed.data).toEqual(placed.data);

  const read = await api.GET('/v1/orders/{id}', { params: { path: { id: orderId } } });
  expect(read.data).toMatchObject({ orderId, workflowId: placed.data!.workflowId });
  const cancelled = await api.POST('/v1/orders/{id}/cancel', { params: { path: { id: orderId } }, body: { reason: 'typed client' } });
  expect([202, 409]).toContain(cancelled.response.status); // accepted, or the saga was already past its pivot
  if (cancelled.response.status === 409) expect(cancelled.error).toMatchObject({ status: 409 });

  const products = await api.GET('/v1/products');
  expect(products.data!.products.map((p) => p.sku)).toContain('SKU-3');
  const policy = await api.GET('/v1/idempotency-policy');
  expect(policy.data).toMatchObject({ scope: 'http', keyFormat: { header: 'Idempotency-Key' } });
  const missing = await api.GET('/v1/orders/{id}', { params: { path: { id: 'ord_000000000000000000000000' } } });
  expect(missing.error).toMatchObject({ status: 404 });
});

test('the document validates with a standard OpenAPI 3.1 validator (@readme/openapi-parser)', async () => {
  const result = await validate(structuredClone(committed) as unknown as Parameters<typeof validate>[0]);
  expect(result.valid ? [] : result.errors).toEqual([]);
  expect(result.valid).toBe(true);
});

/** Headers a documented response always carries (Idempotent-Replayed is only on replays). */
const ALWAYS_SENT = ['Location', 'WWW-Authenticate', 'Retry-After'];

test('every route answers only what the document says: the status, its content type and its headers', async () => {
  const tenant = await createTenant(stack.db.pool, 'Conformance Tenant');
  const bearer = { authorization: `Bearer ${tenant.apiKey}` };
  const json = { 'content-type': 'application/json' };
  const order = JSON.stringify({ items: [{ sku: 'SKU-4', quantity: 1 }], paymentToken: 'tok_visa' });
  const key = `conformance-${stack.taskQueue}`;
  type Call = { method: 'GET' | 'POST'; route: string; path?: string; headers?: Record<string, string>; body?: string };
  const calls: Call[] = [
    { method: 'POST', route: '/v1/orders', headers: { ...bearer, ...json, 'idempotency-key': key }, body: order },
    { method: 'POST', route: '/v1/orders', headers: { ...bearer, ...json, 'idempotency-key': key }, body: order },
    { method: 'POST', route: '/v1/orders', headers: { ...bearer, ...json, 'idempotency-key': key }, body: order.replace('SKU-4', 'SKU-5') },
    { method: 'POST', route: '/v1/orders', headers: { ...bearer, ...json }, body: order },
    { method: 'POST', route: '/v1/orders', headers: { ...bearer, ...json, 'idempotency-key': `${key}-bad` }, body: '{"items":[]}' },
    { method: 'POST', route: '/v1/orders', headers: { ...json, 'idempotency-key': key }, body: order },
    { method: 'GET', route: '/v1/orders/{id}', path: '/v1/orders/ord_000000000000000000000000', headers: bearer },
    { method: 'GET', route: '/v1/orders/{id}', path: '/v1/orders/ord_000000000000000000000000' },
    { method: 'POST', route: '/v1/orders/{id}/cancel', path: '/v1/orders/ord_000000000000000000000000/cancel', headers: { ...bearer, ...json }, body: '{}' },
    { method: 'GET', route: '/v1/products', headers: bearer },
    { method: 'GET', route: '/v1/products' },
    { method: 'GET', route: '/v1/idempotency-policy', headers: bearer },
    { method: 'POST', route: '/v1/webhooks/payments', headers: json, body: '{"id":"evt_1"}' },
    { method: 'GET', route: '/healthz' },
    { method: 'GET', route: '/readyz' },
  ];
  const first = await fetch(`${baseUrl}/v1/orders`, { method: 'POST', headers: { ...bearer, ...json, 'idempotency-key': `${key}-found` }, body: order });
  const { orderId } = (await first.json()) as { orderId: string };
  calls.push(
    { method: 'GET', route: '/v1/orders/{id}', path: `/v1/orders/${orderId}`, headers: bearer },
    {
      method: 'POST',
      route: '/v1/orders/{id}/cancel',
      path: `/v1/orders/${orderId}/cancel`,
      headers: { ...bearer, ...json },
      body: '{"reason":"conformance"}',
    },
  );
  const seen = new Set<string>();
  for (const call of calls) {
    const res = await fetch(`${baseUrl}${call.path ?? call.route}`, {
      method: call.method,
      headers: call.headers ?? {},
      ...(call.body !== undefined && { body: call.body }),
    });
    await res.arrayBuffer();
    const operation = `${call.method} ${call.route}`;
    seen.add(operation);
    const documented = served.paths[call.route]?.[call.method.toLowerCase()]?.responses[String(res.status)];
    expect({ operation, status: res.status, documented: documented !== undefined }).toEqual({ operation, status: res.status, documented: true });
    const types = Object.keys(documented!.content ?? {});
    const type = (res.headers.get('content-type') ?? '').split(';')[0]!;
    if (types.length > 0)
      expect({ operation, status: res.status, type, documented: types.includes(type) }).toEqual({ operation, status: res.status, type, documented: true });
    for (const name of Object.keys(documented!.headers ?? {}).filter((h) => ALWAYS_SENT.includes(h))) {
      expect({ operation, status: res.status, [name]: res.headers.has(name) }).toEqual({ operation, status: res.status, [name]: true });
    }
  }
  // Every documented operation was exercised.
  expect([...seen].sort()).toEqual(
    operations(served)
      .map((o) => o.route)
      .sort(),
  );
});
