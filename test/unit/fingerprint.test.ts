import { InvalidInputError, canonicalJson, fingerprint } from 'idempotent-sagas/store';

describe('canonicalJson', () => {
  test('sorts keys at every depth and drops insignificant whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } })).toBe('{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
  });

  test('orders members by UTF-16 code units (RFC 8785)', () => {
    expect(canonicalJson({ '\u00e9': 1, z: 2, Z: 3, '10': 4, '9': 5 })).toBe('{"10":4,"9":5,"Z":3,"z":2,"\u00e9":1}');
  });

  test('keeps array order and encodes numbers like JSON', () => {
    expect(canonicalJson([3, 1, 2, 1e21, -0, 0.1])).toBe('[3,1,2,1e+21,0,0.1]');
  });

  test.each([
    ['undefined', undefined],
    ['NaN', Number.NaN],
    ['Infinity', -Infinity],
    ['a BigInt', 1n],
    ['a function', () => 1],
    ['a symbol', Symbol('s')],
    ['a Date', new Date(0)],
    ['a Map', new Map()],
    ['undefined inside an object', { a: undefined }],
  ])('refuses %s', (_name, value) => {
    expect(() => canonicalJson({ v: value })).toThrow(InvalidInputError);
  });

  test('refuses a cycle but accepts a shared, acyclic reference', () => {
    const shared = { x: 1 };
    expect(canonicalJson({ a: shared, b: shared })).toBe('{"a":{"x":1},"b":{"x":1}}');
    const cyclic: Record<string, unknown> = {};
    cyclic.me = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow(/cycle/);
  });

  test('accepts objects without a prototype', () => {
    const bare = Object.create(null) as Record<string, unknown>;
    bare.k = 1;
    expect(canonicalJson(bare)).toBe('{"k":1}');
  });
});

describe('fingerprint', () => {
  test('the same request with reordered fields gives the same fingerprint', () => {
    const a = fingerprint({ items: [{ sku: 'A', quantity: 2 }], paymentToken: 'tok' });
    const b = fingerprint(JSON.parse('{ "paymentToken" : "tok",\n "items": [ {"quantity":2, "sku":"A"} ] }'));
    expect(a).toBe(b);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
  });

  test('a different request gives a different fingerprint', () => {
    expect(fingerprint({ a: 1 })).not.toBe(fingerprint({ a: 2 }));
    expect(fingerprint([1, 2])).not.toBe(fingerprint([2, 1]));
    expect(fingerprint({ a: '1' })).not.toBe(fingerprint({ a: 1 }));
  });

  test('is SHA-256 of the canonical text', () => {
    // sha256('{"a":1}')
    expect(fingerprint({ a: 1 })).toBe('015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862');
  });
});
