// idempotent-sagas/fastify on a route of its own (not the orders API): a tiny Fastify app whose POST
// handler counts its executions, against a real Postgres store, over real HTTP.
import http from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import { idempotentRoute, type IdempotencyOutcome } from 'idempotent-sagas/fastify';
import { IdempotencyStore } from 'idempotent-sagas/store';
import { createTestDatabase, type TestDatabase } from '../helpers/database';

let db: TestDatabase;
let app: FastifyInstance;
let base: string;
const executions: string[] = [];
const outcomes: IdempotencyOutcome[] = [];
/** A handler that holds its request until released: to catch the second request in flight. */
let gate: Promise<void> | undefined;

beforeAll(async () => {
  db = await createTestDatabase();
  const store = new IdempotencyStore(db.pool, { defaultTtlSeconds: 3600 });
  const idempotency = idempotentRoute({
    store,
    scope: 'widgets',
    leaseMs: 3000,
    tenantOf: (request) => String(request.headers['x-tenant'] ?? 'none'),
    onOutcome: (o) => void outcomes.push(o),
  });
  app = Fastify();
  app.post<{ Body: { name: string } }>(
    '/widgets',
    { onRequest: idempotency.onRequest },
    idempotency.handler<{ Body: { name: string } }>(async (request, claim) => {
      executions.push(`${claim.tenantId}:${request.body.name}`);
      await gate;
      const id = `w_${claim.generation}_${executions.length}`;
      return { statusCode: 201, headers: { location: `/widgets/${id}` }, body: JSON.stringify({ id, name: request.body.name, at: Date.now() }) };
    }),
  );
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});
afterAll(async () => {
  await app?.close();
  await db?.drop();
});
beforeEach(() => {
  executions.length = 0;
  outcomes.length = 0;
  gate = undefined;
});

const post = async (body: unknown, headers: Record<string, string> = {}) => {
  const res = await fetch(`${base}/widgets`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.status, headers: res.headers, text: await res.text() };
};

test('a repeat is the first response byte for byte, with its Location and Idempotent-Replayed; the handler ran once', async () => {
  const first = await post({ name: 'a' }, { 'idempotency-key': 'k1', 'x-tenant': 't1' });
  const again = await post({ name: 'a' }, { 'idempotency-key': 'k1', 'x-tenant': 't1' });
  expect(first.status).toBe(201);
  expect(again.status).toBe(201);
  expect(again.text).toBe(first.text);
  expect(again.headers.get('location')).toBe(first.headers.get('location'));
  expect(first.headers.get('idempotent-replayed')).toBeNull();
  expect(again.headers.get('idempotent-replayed')).toBe('true');
  expect(executions).toEqual(['t1:a']);
  expect(outcomes).toEqual(['executed', 'replayed']);
});

test('no key, an invalid key or two keys: 400 problem, nothing recorded, the handler never runs', async () => {
  const missing = await post({ name: 'b' });
  expect(missing.status).toBe(400);
  expect(missing.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(JSON.parse(missing.text)).toMatchObject({ status: 400, title: 'The Idempotency-Key header is required' });
  expect((await post({ name: 'b' }, { 'idempotency-key': 'caf\u00e9' })).status).toBe(400);
  // Two header lines (fetch would merge them into one "x, y"): node:http sends an array value as repeated lines.
  const twice = await new Promise<{ status: number }>((resolve, reject) => {
    const req = http.request(`${base}/widgets`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': ['x', 'y'] } }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0 });
    });
    req.on('error', reject);
    req.end('{"name":"b"}');
  });
  expect(twice.status).toBe(400);
  expect(executions).toEqual([]);
  expect(await db.count(`SELECT count(*) AS n FROM idempotency_keys WHERE scope = 'widgets' AND key LIKE '%:POST:/widgets:%'`)).toBe(1); // k1 only
});

test('the same key with another body: 422, the first response stands', async () => {
  await post({ name: 'c' }, { 'idempotency-key': 'k3', 'x-tenant': 't1' });
  const other = await post({ name: 'different' }, { 'idempotency-key': 'k3', 'x-tenant': 't1' });
  expect(other.status).toBe(422);
  expect(executions).toEqual(['t1:c']);
  expect(outcomes).toEqual(['executed', 'mismatch']);
});

test('while the first request is in flight: 409 with Retry-After; after it, the replay', async () => {
  let release!: () => void;
  gate = new Promise((r) => (release = r));
  const first = post({ name: 'd' }, { 'idempotency-key': 'k4', 'x-tenant': 't1' });
  await new Promise((r) => setTimeout(r, 300));
  const during = await post({ name: 'd' }, { 'idempotency-key': 'k4', 'x-tenant': 't1' });
  expect(during.status).toBe(409);
  expect(Number(during.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  release();
  const done = await first;
  const after = await post({ name: 'd' }, { 'idempotency-key': 'k4', 'x-tenant': 't1' });
  expect(after.text).toBe(done.text);
  expect(executions).toEqual(['t1:d']);
});

test('two tenants, one key: two independent requests', async () => {
  const a = await post({ name: 'e' }, { 'idempotency-key': 'shared', 'x-tenant': 'ta' });
  const b = await post({ name: 'e' }, { 'idempotency-key': 'shared', 'x-tenant': 'tb' });
  expect(a.status).toBe(201);
  expect(b.status).toBe(201);
  expect(b.text).not.toBe(a.text);
  expect(b.headers.get('idempotent-replayed')).toBeNull();
  expect(executions).toEqual(['ta:e', 'tb:e']);
});

test('a handler that throws releases the key: the next attempt executes at once', async () => {
  gate = Promise.reject(new Error('boom'));
  gate.catch(() => undefined);
  expect((await post({ name: 'f' }, { 'idempotency-key': 'k6', 'x-tenant': 't1' })).status).toBe(500);
  gate = undefined;
  expect((await post({ name: 'f' }, { 'idempotency-key': 'k6', 'x-tenant': 't1' })).status).toBe(201);
  expect(executions).toEqual(['t1:f', 't1:f']);
});
