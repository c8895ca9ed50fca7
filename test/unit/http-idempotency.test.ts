// The HTTP idempotency key rules: header checks, the store key format, deterministic order IDs; the Prefer header.
import { orderIdFor, workflowIdFor } from '../../apps/orders/api/http-idempotency';
import { MAX_PREFER_WAIT_S, preferredWait } from '../../apps/orders/api/prefer';
import { checkIdempotencyKey, httpStoreKey, sha256Hex } from 'idempotent-sagas/fastify';
import { validateKey } from 'idempotent-sagas/store';

test('Idempotency-Key: 1–255 printable ASCII, exactly one header', () => {
  expect(checkIdempotencyKey(undefined)).toMatchObject({ ok: false, reason: 'missing' });
  for (const bad of ['', 'x'.repeat(256), 'a\tb', 'caf\u00e9', 'del\x7f', ['a', 'b']]) {
    expect(checkIdempotencyKey(bad)).toMatchObject({ ok: false, reason: 'invalid' });
  }
  for (const good of ['a', ' ', '~'.repeat(255), '550e8400-e29b-41d4-a716-446655440000']) {
    expect(checkIdempotencyKey(good)).toEqual({ ok: true, key: good });
  }
});

test('store key: tenant, method, route and the SHA-256 of the client key; always a valid store key', () => {
  const key = httpStoreKey('ten_abcdefgh12345678', 'post', '/v1/orders', '~'.repeat(255));
  expect(key).toBe(`ten_abcdefgh12345678:POST:/v1/orders:${sha256Hex('~'.repeat(255))}`);
  expect(validateKey(key)).toBe(key);
  expect(httpStoreKey('ten_a', 'POST', '/v1/orders', 'k')).not.toBe(httpStoreKey('ten_b', 'POST', '/v1/orders', 'k'));
});

test('order IDs are a function of (tenant, key, record generation), and differ across tenants and generations', () => {
  const id = orderIdFor('ten_a', 'key-1', '1764000000000000');
  expect(id).toMatch(/^ord_[0-9a-f]{24}$/);
  expect(orderIdFor('ten_a', 'key-1', '1764000000000000')).toBe(id);
  expect(orderIdFor('ten_b', 'key-1', '1764000000000000')).not.toBe(id);
  // The same key after its record expired and was created anew: a new order.
  expect(orderIdFor('ten_a', 'key-1', '1764000000000001')).not.toBe(id);
  // The triple is encoded unambiguously: moving characters between the parts changes the ID.
  expect(orderIdFor('ten_a:', 'b', '1')).not.toBe(orderIdFor('ten_a', ':b', '1'));
  expect(orderIdFor('ten_a', 'b1', '2')).not.toBe(orderIdFor('ten_a', 'b', '12'));
  expect(workflowIdFor(id)).toBe(`order-${id}`);
});

describe('the Prefer header (RFC 7240): only a well-formed wait counts, capped', () => {
  test.each([
    [undefined, undefined],
    ['wait=10', 10],
    ['respond-async, wait=3', 3],
    ['WAIT = "7"', 7],
    [['handling=lenient', 'wait=2'], 2],
    ['wait=3600', MAX_PREFER_WAIT_S],
    ['wait=soon', undefined],
    ['wait=-1', undefined],
    ['respond-async', undefined],
  ])('%j → %j', (header, wait) => {
    expect(preferredWait(header)).toBe(wait);
  });
});
