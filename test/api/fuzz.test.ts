// Fuzz: 600 generated bad requests (headers, keys, bodies, sizes, encodings, content types,
// methods, paths) from a seeded PRNG, sent as raw bytes over a socket so odd headers and invalid
// UTF-8 reach the server unaltered. Every answer must be a 4xx problem+json without a stack
// trace, nothing may be recorded, and the server must still serve valid requests afterwards.
import { mulberry32 } from '../../src/random';
import net from 'node:net';
import { gzipSync } from 'node:zlib';
import { HTTP_SCOPE } from '../../apps/orders/api/http-idempotency';
import { createTenant } from '../../apps/orders/domain/tenants';
import { useOrderApi } from '../helpers/api';

const SEED = Number(process.env.FUZZ_SEED ?? 20261128);
const CASES = 600;

const { stack, api } = useOrderApi({ stock: 1000 });
let tenant: { tenantId: string; apiKey: string };
beforeAll(async () => {
  tenant = await createTenant(stack.db.pool, 'Fuzz tenant');
});

const prng = (seed: number): (() => number) => mulberry32(seed).next;

type Header = [name: string, value: string | Buffer];
type RawRequest = {
  label: string;
  method: string;
  path: string;
  headers: Header[];
  body?: Buffer;
  contentLength?: string; /** 'auto' (default), 'none', or a literal value */
};
type RawResponse = { status: number; headers: Record<string, string>; body: Buffer };

function serialize(req: RawRequest): Buffer {
  const parts: Buffer[] = [Buffer.from(`${req.method} ${req.path} HTTP/1.1\r\nhost: 127.0.0.1:${api.port}\r\nconnection: close\r\n`, 'latin1')];
  for (const [name, value] of req.headers)
    parts.push(Buffer.from(`${name}: `, 'latin1'), typeof value === 'string' ? Buffer.from(value, 'latin1') : value, Buffer.from('\r\n'));
  const cl = req.contentLength ?? 'auto';
  if (cl === 'auto' && req.body !== undefined) parts.push(Buffer.from(`content-length: ${req.body.length}\r\n`));
  else if (cl !== 'auto' && cl !== 'none') parts.push(Buffer.from(`content-length: ${cl}\r\n`));
  parts.push(Buffer.from('\r\n'));
  if (req.body) parts.push(req.body);
  return Buffer.concat(parts);
}

function dechunk(body: Buffer): Buffer {
  const out: Buffer[] = [];
  let i = 0;
  for (;;) {
    const eol = body.indexOf('\r\n', i);
    if (eol < 0) break;
    const size = parseInt(body.subarray(i, eol).toString('latin1'), 16);
    if (!size) break;
    out.push(body.subarray(eol + 2, eol + 2 + size));
    i = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}

/** One request on its own connection; the answer is read until the server closes it. */
function send(req: RawRequest): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(api.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const finish = (): void => {
      const all = Buffer.concat(chunks);
      const end = all.indexOf('\r\n\r\n');
      if (end < 0) return reject(new Error(`${req.label}: no HTTP answer (${all.length} bytes)`));
      const [statusLine, ...lines] = all.subarray(0, end).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const c = line.indexOf(':');
        headers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
      }
      let body: Buffer = all.subarray(end + 4);
      if (headers['transfer-encoding'] === 'chunked') body = dechunk(body);
      resolve({ status: Number(statusLine?.split(' ')[1]), headers, body });
    };
    socket.on('data', (d: Buffer) => chunks.push(d));
    // The server may answer (413, 400) and close before reading everything we write: that is fine.
    socket.on('error', () => undefined);
    socket.on('close', finish);
    socket.setTimeout(15_000, () => socket.destroy());
    socket.write(serialize(req), () => undefined);
  });
}

const validBody = () => ({ items: [{ sku: 'SKU-1', quantity: 1 }], paymentToken: 'tok_visa' });

/** One bad request; each generator breaks at least one thing that must be refused. */
function generate(rand: () => number, n: number): RawRequest {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const printable = (len: number) => Array.from({ length: len }, () => String.fromCharCode(int(0x21, 0x7e))).join('');
  const key = () => `fuzz-${n}-${printable(int(1, 20))}`;
  const auth = (): Header => ['authorization', `Bearer ${tenant.apiKey}`];
  const json = (v: unknown) => Buffer.from(JSON.stringify(v));
  const order = (headers: Header[], body: Buffer | undefined, label: string, extra: Partial<RawRequest> = {}): RawRequest => ({
    label,
    method: 'POST',
    path: '/v1/orders',
    headers: [...headers, ...(body !== undefined && !headers.some(([h]) => h === 'content-type') ? [['content-type', 'application/json'] as Header] : [])],
    ...(body !== undefined && { body }),
    ...extra,
  });

  const badAuth: Array<() => Header[]> = [
    () => [],
    () => [['authorization', `Basic ${tenant.apiKey}`]],
    () => [['authorization', 'Bearer']],
    () => [['authorization', 'Bearer ']],
    () => [['authorization', `Bearer sk_${printable(int(1, 60))}`]],
    () => [['authorization', `Bearer ${tenant.apiKey}x`]],
    () => [['authorization', `Bearer ${tenant.apiKey.slice(0, -1)}`]],
    () => [['authorization', `Bearer  ${tenant.apiKey}`]],
    () => [['authorization', `Bearer ${tenant.apiKey} ${printable(4)}`]],
    () => [['authorization', `Bearer ${'A'.repeat(int(513, 4000))}`]],
    () => [['authorization', Buffer.concat([Buffer.from('Bearer sk_'), Buffer.from('caf\u00e9\u{1f600}', 'utf8')])]],
    // Duplicates: Node keeps the first Authorization, which here is the wrong one.
    () => [
      ['authorization', 'Bearer sk_wrong'],
      ['authorization', `Bearer ${tenant.apiKey}`],
    ],
    () => [
      ['authorization', ''],
      ['authorization', `Bearer ${tenant.apiKey}`],
    ],
  ];
  const badKeys: Array<() => Header[]> = [
    () => [],
    () => [['idempotency-key', '']],
    () => [['idempotency-key', 'k'.repeat(256)]],
    () => [['idempotency-key', printable(int(256, 2000))]],
    () => [['idempotency-key', `${key()}\t${printable(3)}`]],
    () => [['idempotency-key', Buffer.concat([Buffer.from(key()), Buffer.from([int(0x01, 0x08)]), Buffer.from('x')])]],
    () => [['idempotency-key', Buffer.concat([Buffer.from(key()), Buffer.from([0x7f])])]],
    () => [['idempotency-key', Buffer.from(`${key()}-caf\u00e9`, 'utf8')]],
    () => [['idempotency-key', Buffer.from(`\u{1f511}${key()}`, 'utf8')]],
    () => [['idempotency-key', Buffer.from([0xff, 0xfe, 0x41])]],
    () => [
      ['idempotency-key', key()],
      ['idempotency-key', key()],
    ],
    () => {
      const k = key();
      return [
        ['idempotency-key', k],
        ['idempotency-key', k],
      ];
    },
    () => [
      ['idempotency-key', key()],
      ['Idempotency-Key', ''],
    ],
  ];
  const badBodies: Array<() => { body: Buffer | undefined; headers?: Header[]; contentLength?: RawRequest['contentLength'] }> = [
    () => ({
      body: Buffer.from(
        pick([
          '{',
          '{"items": [',
          '[1,2',
          '{"items": [{"sku": "SKU-1", "quantity": 1}], "paymentToken": "t"',
          'null x',
          "{'a': 1}",
          'NaN',
          '{"a":1,}',
          '\u0000',
        ]),
      ),
    }),
    () => ({ body: Buffer.from(printable(int(1, 200))) }),
    () => ({
      body: json(
        pick([
          null,
          1,
          'str',
          true,
          [],
          [validBody()],
          { items: 'SKU-1', paymentToken: 't' },
          { items: [{ sku: 1, quantity: '1' }], paymentToken: 't' },
          { items: [{ sku: 'SKU-1', quantity: 1 }], paymentToken: 42 },
        ]),
      ),
    }),
    () => ({
      body: Buffer.from(
        `{"items":[{"sku":"SKU-1","quantity":${pick(['1e400', '-1e400', '9007199254740993', '1.5', '1e3000', '123456789012345678901234567890', '0.0000001'])}}],"paymentToken":"t"}`,
      ),
    }),
    () => ({ body: json({ items: [{ sku: 'SKU-1', quantity: pick([0, -1, -int(2, 1_000_000), 1001, int(1001, 1e9)]) }], paymentToken: 't' }) }),
    () => ({ body: json({ items: Array.from({ length: int(51, 80) }, (_, i) => ({ sku: `SKU-${i}`, quantity: 1 })), paymentToken: 't' }) }),
    () => ({ body: json({ items: [], paymentToken: 't' }) }),
    () => ({
      body: json({
        items: [
          { sku: 'SKU-1', quantity: 1 },
          { sku: 'SKU-1', quantity: 2 },
        ],
        paymentToken: 't',
      }),
    }),
    () => ({ body: json({ ...validBody(), [pick(['extra', '__proto__x', 'constructor', 'currency', 'tenantId'])]: printable(5) }) }),
    () => ({ body: json({ items: [{ sku: 'SKU-1', quantity: 1, price: 0 }], paymentToken: 't' }) }),
    () => ({ body: Buffer.from('{"items":[{"sku":"SKU-1","quantity":1}],"paymentToken":"t","__proto__":{"admin":true}}') }),
    () => ({ body: Buffer.from('{"items":[{"sku":"SKU-1","quantity":1}],"paymentToken":"t","constructor":{"prototype":{"x":1}}}') }),
    () => {
      const depth = int(100, 5000);
      return { body: Buffer.from(`{"items":${'['.repeat(depth)}${']'.repeat(depth)},"paymentToken":"t"}`) };
    },
    () => {
      const depth = int(100, 3000);
      return { body: Buffer.from(`{"items":[{"sku":"SKU-1","quantity":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}],"paymentToken":"t"}`) };
    },
    () => ({ body: json({ items: [{ sku: 'SKU-1', quantity: 1 }], paymentToken: 'x'.repeat(int(65 * 1024, 200 * 1024)) }) }),
    () => ({ body: Buffer.alloc(int(65 * 1024, 300 * 1024), 0x20) }),
    () => ({ body: Buffer.from('{}'), contentLength: String(int(65 * 1024, 10_000_000)) }),
    // Invalid UTF-8: lone continuation bytes, overlong encodings, truncated sequences, surrogates.
    () => {
      const bad = pick([[0xff], [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xc3]]);
      const where = pick(['token', 'sku', 'key', 'raw']);
      const before =
        where === 'token'
          ? '{"items":[{"sku":"SKU-1","quantity":1}],"paymentToken":"tok_'
          : where === 'sku'
            ? '{"items":[{"sku":"SKU-'
            : where === 'key'
              ? '{"'
              : '';
      const after = where === 'token' ? '"}' : where === 'sku' ? '","quantity":1}],"paymentToken":"t"}' : where === 'key' ? '":1}' : '';
      return { body: Buffer.concat([Buffer.from(before), Buffer.from(bad), Buffer.from(after)]) };
    },
    () => ({ body: undefined }),
    () => ({ body: Buffer.alloc(0) }),
    () => ({ body: Buffer.from('   \r\n\t ') }),
    () => ({ body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"items": [')]) }),
    // Content types and encodings.
    () => ({
      body: json(validBody()),
      headers: [
        [
          'content-type',
          pick([
            'text/plain',
            'text/plain; charset=utf-8',
            'application/x-www-form-urlencoded',
            'multipart/form-data; boundary=x',
            'application/xml',
            'application/octet-stream',
            'application/jsonx',
            'json',
            '*/*',
            'application/problem+json',
          ]),
        ],
      ],
    }),
    () => ({ body: Buffer.from('items=SKU-1&paymentToken=t'), headers: [['content-type', 'application/x-www-form-urlencoded']] }),
    () => ({ body: json(validBody()), headers: [['content-type', '']] }),
    () => ({ body: json(validBody()), headers: [] as Header[], contentLength: 'auto' as const, noContentType: true }),
    () => ({
      body: gzipSync(json(validBody())),
      headers: [
        ['content-type', 'application/json'],
        ['content-encoding', 'gzip'],
      ],
    }),
    () => ({
      body: Buffer.from(json(validBody()).toString('utf8'), 'utf16le'),
      headers: [['content-type', pick(['application/json; charset=utf-16', 'application/json; charset=utf-16le', 'application/json'])]],
    }),
    () => ({
      body: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(JSON.stringify(validBody()), 'utf16le')]),
      headers: [['content-type', 'application/json; charset=utf-16']],
    }),
    () => ({
      body: json(validBody()),
      headers: [
        ['content-type', 'application/json'],
        ['content-type', 'text/plain'],
      ],
    }),
    () => ({
      body: Buffer.from('{"items":[', 'latin1'),
      headers: [['content-type', pick(['application/json; charset=latin1', 'application/json; charset="utf-8"', 'application/json;charset=bogus'])]],
    }),
    () => ({ body: json(validBody()), contentLength: pick(['-1', 'abc', '1.5', '99999999999999999999']) }),
    () => ({ body: json(validBody()), headers: [['transfer-encoding', 'chunked']], contentLength: 'auto' as const }),
  ];
  const badRoutes: Array<() => RawRequest> = [
    () => ({
      label: 'method',
      method: pick(['PUT', 'PATCH', 'DELETE', 'OPTIONS']),
      path: '/v1/orders',
      headers: [auth(), ['idempotency-key', key()], ['content-type', 'application/json']],
      body: json(validBody()),
    }),
    () => ({ label: 'GET list', method: 'GET', path: '/v1/orders', headers: [auth()] }),
    () => ({
      label: 'path',
      method: 'POST',
      path: pick([
        '/v1/order',
        '/V1/orders',
        '/v1/orders/',
        '/v2/orders',
        '/v1//orders',
        '/v1/orders%00',
        '/v1/%2e%2e/orders',
        '/../v1/orders',
        '/v1/products',
      ]),
      headers: [auth(), ['idempotency-key', key()], ['content-type', 'application/json']],
      body: json(validBody()),
    }),
    () => ({
      label: 'order id',
      method: 'GET',
      path: `/v1/orders/${pick(['..%2F..%2Fetc', 'ord_' + 'x'.repeat(200), '%00', 'ord%20x', 'ord_does_not_exist', "ord'; DROP TABLE orders;--"].map(encodeURI))}`,
      headers: [auth()],
    }),
    () => ({
      label: 'cancel',
      method: 'POST',
      path: `/v1/orders/ord_${printable(0) || 'missing'}${int(0, 1e6)}/cancel`,
      headers: [auth(), ['content-type', 'application/json']],
      body: json(pick([{}, { reason: 'x' }, { reason: 1 }, { extra: true }])),
    }),
    () => ({ label: 'long id', method: 'GET', path: `/v1/orders/ord_${'x'.repeat(int(101, 2000))}`, headers: [auth()] }),
    () => ({
      label: 'bad escape',
      method: pick(['GET', 'POST']),
      path: pick(['/v1/orders/%E0%A4%A', '/v1/orders/%zz', '/v1/orders/%', '/v1/orders/%C0%AF/cancel']),
      headers: [auth()],
    }),
    () => ({ label: 'long url', method: 'GET', path: `/v1/products?${'q'.repeat(int(20_000, 80_000))}`, headers: [auth()] }),
    () => ({ label: 'products no auth', method: 'GET', path: '/v1/products', headers: pick(badAuth)() }),
    () => ({ label: 'policy no auth', method: 'GET', path: '/v1/idempotency-policy', headers: pick(badAuth)() }),
    () => ({ label: 'healthz post', method: 'POST', path: '/healthz', headers: [['content-type', 'application/json']], body: json({}) }),
  ];

  const kind = pick(['auth', 'auth', 'key', 'key', 'body', 'body', 'body', 'body', 'route'] as const);
  if (kind === 'auth') {
    // A bad key is refused whatever else is right, and whatever else is wrong.
    const keyHeaders: Header[] = rand() < 0.7 ? [['idempotency-key', key()]] : pick(badKeys)();
    return order([...pick(badAuth)(), ...keyHeaders], rand() < 0.7 ? json(validBody()) : pick(badBodies)().body, `auth#${n}`);
  }
  if (kind === 'key') return order([auth(), ...pick(badKeys)()], json(validBody()), `key#${n}`);
  if (kind === 'body') {
    const b = pick(badBodies)() as ReturnType<(typeof badBodies)[number]> & { noContentType?: boolean };
    const headers: Header[] = [auth(), ['idempotency-key', key()], ...(b.headers ?? [])];
    const req = order(headers, b.body, `body#${n}`, b.contentLength !== undefined ? { contentLength: b.contentLength } : {});
    if (b.noContentType) req.headers = req.headers.filter(([h]) => h !== 'content-type');
    return req;
  }
  return { ...pick(badRoutes)(), label: `route#${n}` };
}

const counts = async () => ({
  httpKeys: await stack.count('SELECT count(*) AS n FROM idempotency_keys WHERE scope = $1', [HTTP_SCOPE]),
  orders: await stack.count('SELECT count(*) AS n FROM orders'),
  tenants: await stack.count('SELECT count(*) AS n FROM tenants'),
});

test(`${CASES} generated bad requests: only 4xx problems, nothing recorded, the server still answers`, async () => {
  const before = await counts();
  const rand = prng(SEED);
  const failures: string[] = [];
  const statuses = new Map<number, number>();
  for (let n = 0; n < CASES; n += 1) {
    const req = generate(rand, n);
    const res = await send(req);
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    const text = res.body.toString('utf8');
    const hdrs = req.headers.map(([h, v]) => `${h}=${JSON.stringify(v.toString('latin1').slice(0, 30))}`).join(' ');
    const what = `${req.label} ${req.method} ${req.path.slice(0, 60)} [${hdrs}] body=${JSON.stringify((req.body ?? Buffer.alloc(0)).toString('latin1').slice(0, 60))} → ${res.status} ${text.slice(0, 120)}`;
    if (!(res.status >= 400 && res.status < 500)) failures.push(`not 4xx: ${what}`);
    if (!/^application\/problem\+json/.test(res.headers['content-type'] ?? '')) failures.push(`not problem+json (${res.headers['content-type']}): ${what}`);
    else {
      try {
        const p = JSON.parse(text) as { type?: unknown; status?: unknown; stack?: unknown };
        if (typeof p.type !== 'string' || p.status !== res.status) failures.push(`problem without type/status: ${what}`);
        if ('stack' in p) failures.push(`stack field: ${what}`);
      } catch {
        failures.push(`problem body is not JSON: ${what}`);
      }
    }
    if (/\n\s+at |\.ts:\d+|node_modules/.test(text)) failures.push(`stack trace: ${what}`);
  }
  expect(failures).toEqual([]);
  // Every class of refusal was exercised, not just one.
  expect([...statuses.keys()].sort()).toEqual(expect.arrayContaining([400, 401, 404, 413, 415]));
  expect(await counts()).toEqual(before);

  // Still healthy: a valid order is accepted and the liveness probe answers.
  const ok = await send({
    label: 'valid',
    method: 'POST',
    path: '/v1/orders',
    headers: [
      ['authorization', `Bearer ${tenant.apiKey}`],
      ['idempotency-key', 'after-fuzz'],
      ['content-type', 'application/json'],
    ],
    body: Buffer.from(JSON.stringify(validBody())),
  });
  expect(ok.status).toBe(202);
  const health = await send({ label: 'healthz', method: 'GET', path: '/healthz', headers: [] });
  expect(health.status).toBe(200);
  const { orderId } = JSON.parse(ok.body.toString('utf8')) as { orderId: string };
  await stack.client.workflow.getHandle(`order-${orderId}`).result();
}, 180_000);
