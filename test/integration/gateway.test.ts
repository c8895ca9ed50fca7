// The payment gateway over real HTTP against a real Postgres. Every case counts rows in the gateway's tables.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GatewayErrorType as ErrorType, GatewayAmbiguousError, GatewayKeyAbortedError } from '../../src/errors';
import { createGatewayClient, type GatewayClient } from '../../apps/gateway/client';
import { startGateway, type RunningGateway } from '../../apps/gateway/server';
import { SIGNATURE_HEADER, verifySignature } from '../../apps/gateway/webhooks';
import { createTestDatabase, type TestDatabase } from '../helpers/database';

let db: TestDatabase;
let gateway: RunningGateway;
let client: GatewayClient;

beforeAll(async () => {
  db = await createTestDatabase({ poolMax: 20 });
  gateway = await startGateway({ pool: db.pool, port: 0, faults: { seed: 42 } });
  client = createGatewayClient({ baseUrl: gateway.url, timeoutMs: 5000 });
});
afterAll(async () => {
  await gateway?.close();
  await db?.drop();
});

const charges = (key: string): Promise<number> => db.count('SELECT count(*) AS n FROM gateway_charges WHERE idempotency_key = $1', [key]);
const refunds = (key: string): Promise<number> =>
  db.count('SELECT count(*) AS n FROM gateway_refunds r JOIN gateway_charges c ON c.id = r.charge_id WHERE c.idempotency_key = $1', [key]);
const tombstones = (key: string): Promise<number> => db.count('SELECT count(*) AS n FROM gateway_key_tombstones WHERE idempotency_key = $1', [key]);
const attempts = (key: string): Promise<number> =>
  db.count('SELECT coalesce(sum(attempts), 0) AS n FROM gateway_key_attempts WHERE idempotency_key = $1', [key]);

type Raw = { status: number; replayed: string | null; text: string };
async function postCharge(key: string | undefined, body: unknown): Promise<Raw> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key !== undefined) headers['idempotency-key'] = key;
  const res = await fetch(`${gateway.url}/charges`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, replayed: res.headers.get('idempotent-replayed'), text: await res.text() };
}
const card = (paymentToken = 'tok_visa') => ({ amount: 1999, currency: 'usd', paymentToken, orderId: 'ord_1' });

describe('POST /charges', () => {
  test('50 concurrent identical charges with one key: one charge row, 50 byte-identical answers', async () => {
    const key = 'wf-concurrent/charge';
    const answers = await Promise.all(Array.from({ length: 50 }, () => postCharge(key, card())));
    expect(await charges(key)).toBe(1);
    expect(await attempts(key)).toBe(50);
    expect(new Set(answers.map((a) => a.status))).toEqual(new Set([201]));
    expect(new Set(answers.map((a) => a.text)).size).toBe(1);
    expect(answers.filter((a) => a.replayed === null)).toHaveLength(1);
    expect(answers.filter((a) => a.replayed === 'true')).toHaveLength(49);
    expect(JSON.parse(answers[0]!.text)).toMatchObject({ status: 'succeeded', amount: 1999, currency: 'usd', idempotencyKey: key, orderId: 'ord_1' });
  });

  test('a replay is byte-identical and marked; reordered fields and upper-case currency are the same request', async () => {
    const key = 'wf-replay/charge';
    const first = await postCharge(key, card());
    expect(first).toMatchObject({ status: 201, replayed: null });
    const again = await postCharge(key, { orderId: 'ord_1', paymentToken: 'tok_visa', currency: 'USD', amount: 1999 });
    expect(again).toEqual({ status: 201, replayed: 'true', text: first.text });
    const viaClient = await client.charge(key, card());
    expect(viaClient).toMatchObject({ kind: 'succeeded', replayed: true, charge: JSON.parse(first.text) as object });
    expect(await charges(key)).toBe(1);
  });

  test('the same key with a different body is 422 and charges nothing more', async () => {
    const key = 'wf-mismatch/charge';
    await client.charge(key, card());
    const other = await postCharge(key, { ...card(), amount: 2000 });
    expect(other.status).toBe(422);
    expect(JSON.parse(other.text)).toMatchObject({ error: 'idempotency_key_reused' });
    await expect(client.charge(key, { ...card(), orderId: 'ord_2' })).rejects.toMatchObject({
      type: ErrorType.GatewayRejected,
      retryable: false,
      status: 422,
      error: 'idempotency_key_reused',
    });
    expect(await charges(key)).toBe(1);
    expect(await db.count('SELECT amount AS n FROM gateway_charges WHERE idempotency_key = $1', [key])).toBe(1999);
  });

  test('a decline is stored and every replay gets the same decline', async () => {
    const key = 'wf-decline/charge';
    const first = await client.charge(key, card('tok_decline_insufficient_funds'));
    expect(first).toMatchObject({ kind: 'declined', declineCode: 'insufficient_funds', replayed: false });
    const raw = await postCharge(key, card('tok_decline_insufficient_funds'));
    expect(raw).toMatchObject({ status: 402, replayed: 'true' });
    expect(JSON.parse(raw.text)).toEqual(first.charge);
    expect(await charges(key)).toBe(1);
    expect(await db.count(`SELECT count(*) AS n FROM gateway_charges WHERE idempotency_key = $1 AND status = 'declined'`, [key])).toBe(1);
  });

  test('bad keys and bodies are 400 and record nothing, not even an attempt', async () => {
    const before = await db.count('SELECT count(*) AS n FROM gateway_charges');
    const beforeAttempts = await db.count('SELECT count(*) AS n FROM gateway_key_attempts');
    const cases: Array<[string | undefined, unknown, string]> = [
      [undefined, card(), 'idempotency_key_missing'],
      ['k'.repeat(256), card(), 'idempotency_key_invalid'],
      ['tab\tkey', card(), 'idempotency_key_invalid'],
      ['ok-key', { ...card(), amount: 0 }, 'invalid_request'],
      ['ok-key', { ...card(), amount: 10_000_001 }, 'invalid_request'],
      ['ok-key', { ...card(), amount: 1.5 }, 'invalid_request'],
      ['ok-key', { ...card(), currency: 'us' }, 'invalid_request'],
      ['ok-key', { ...card(), extra: true }, 'invalid_request'],
      ['ok-key', '{"amount":', 'invalid_json'],
    ];
    for (const [key, body, error] of cases) {
      const res = await postCharge(key, body);
      expect({ status: res.status, error: (JSON.parse(res.text) as { error: string }).error }).toEqual({ status: 400, error });
      expect(res.text).not.toMatch(/at .*\.(ts|js):\d+/); // no stack traces
    }
    expect(await db.count('SELECT count(*) AS n FROM gateway_charges')).toBe(before);
    expect(await db.count('SELECT count(*) AS n FROM gateway_key_attempts')).toBe(beforeAttempts);
  });

  test('a key with slashes and spaces is looked up by key (URL-encoded)', async () => {
    const key = 'tenant a/wf%1?x=#y/charge';
    const { charge } = await client.charge(key, card());
    expect(await client.getChargeByKey(key)).toEqual({ ...charge, refunded: false, refundId: null });
    expect(await client.lookupKey('never/seen')).toEqual({ charge: undefined, tombstoned: false });
    expect(await charges(key)).toBe(1);
  });
});

describe('refunds and tombstones', () => {
  test('refunding twice (and 10 times at once) leaves one refund row and returns the same refund', async () => {
    const key = 'wf-refund/charge';
    const { charge } = await client.charge(key, card());
    const first = await client.refund({ chargeId: charge.id });
    expect(first).toMatchObject({ status: 'refunded', created: true, chargeId: charge.id, amount: 1999 });
    const second = await client.refund({ chargeId: charge.id });
    const byKey = await client.refund({ idempotencyKey: key });
    const burst = await Promise.all(Array.from({ length: 10 }, () => client.refund({ chargeId: charge.id })));
    for (const r of [second, byKey, ...burst]) {
      expect(r).toEqual({ ...first, created: false });
    }
    expect(await refunds(key)).toBe(1);
    expect(await charges(key)).toBe(1);
    expect(await client.getChargeByKey(key)).toMatchObject({ refunded: true, refundId: first.status === 'refunded' ? first.refundId : 'x' });
  });

  test('refund-by-key before the charge tombstones the key: the late charge is refused 409 and no charge row exists', async () => {
    const key = 'wf-tomb/charge';
    const refund = await client.refund({ idempotencyKey: key });
    expect(refund).toEqual({ status: 'no_charge', tombstoned: true, idempotencyKey: key });
    expect(await client.refund({ idempotencyKey: key })).toEqual(refund);
    expect(await tombstones(key)).toBe(1);

    const raw = await postCharge(key, card());
    expect(raw.status).toBe(409);
    expect(JSON.parse(raw.text)).toEqual({ error: 'key_aborted', message: expect.any(String) as string });
    const late = client.charge(key, card());
    await expect(late).rejects.toBeInstanceOf(GatewayKeyAbortedError);
    await expect(late).rejects.toMatchObject({ type: ErrorType.GatewayKeyAborted, retryable: false, key });
    expect(await charges(key)).toBe(0);
    expect(await client.lookupKey(key)).toEqual({ charge: undefined, tombstoned: true });
    expect(await client.getChargeByKey(key)).toBeUndefined();
  });

  test('a charge racing a refund-by-key: either charged and refunded, or tombstoned and refused, never charged and unrefunded', async () => {
    for (let i = 0; i < 20; i++) {
      const key = `wf-race-${i}/charge`;
      const [charge, refund] = await Promise.allSettled([client.charge(key, card()), client.refund({ idempotencyKey: key })]);
      const net = (await charges(key)) - (await refunds(key));
      expect(net).toBe(0);
      if (refund.status === 'fulfilled' && refund.value.status === 'no_charge') {
        expect(charge.status === 'rejected' && charge.reason).toBeInstanceOf(GatewayKeyAbortedError);
        expect(await charges(key)).toBe(0);
      } else {
        expect(charge.status).toBe('fulfilled');
        expect(await refunds(key)).toBe(1);
      }
    }
  });

  test('refunding a declined charge is a clear "not charged" and writes no refund', async () => {
    const key = 'wf-refund-declined/charge';
    const { charge } = await client.charge(key, card('tok_decline'));
    expect(await client.refund({ chargeId: charge.id })).toEqual({
      status: 'not_charged',
      chargeId: charge.id,
      idempotencyKey: key,
      chargeStatus: 'declined',
    });
    expect(await refunds(key)).toBe(0);
    expect(await tombstones(key)).toBe(0);
  });

  test('refunding an unknown charge id is 404 and writes nothing', async () => {
    await expect(client.refund({ chargeId: 'ch_nope' })).rejects.toMatchObject({ status: 404, error: 'charge_not_found' });
    expect(await db.count(`SELECT count(*) AS n FROM gateway_refunds WHERE charge_id = 'ch_nope'`)).toBe(0);
  });
});

describe('faults', () => {
  test('tok_fail_5xx_2: two ambiguous 503s that applied nothing, then one charge', async () => {
    const key = 'wf-5xx/charge';
    for (let i = 0; i < 2; i++) {
      const attempt = client.charge(key, card('tok_fail_5xx_2'));
      await expect(attempt).rejects.toBeInstanceOf(GatewayAmbiguousError);
      await expect(attempt).rejects.toMatchObject({ type: ErrorType.GatewayAmbiguous, retryable: true, reason: 'server_error', status: 503 });
      expect(await charges(key)).toBe(0);
    }
    const third = await client.charge(key, card('tok_fail_5xx_2'));
    expect(third).toMatchObject({ kind: 'succeeded', replayed: false });
    expect(await charges(key)).toBe(1);
    expect(await attempts(key)).toBe(3);
  });

  test('tok_apply_timeout_1: the client times out, yet the charge exists; the retry gets it as a replay', async () => {
    const key = 'wf-timeout/charge';
    const impatient = createGatewayClient({ baseUrl: gateway.url, timeoutMs: 300 });
    const started = Date.now();
    const first = impatient.charge(key, card('tok_apply_timeout_1'));
    await expect(first).rejects.toMatchObject({ type: ErrorType.GatewayAmbiguous, reason: 'timeout' });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await charges(key)).toBe(1);
    const retry = await impatient.charge(key, card('tok_apply_timeout_1'));
    expect(retry).toMatchObject({ kind: 'succeeded', replayed: true });
    expect(retry.charge.id).toBe((await client.getChargeByKey(key))!.id);
    expect(await charges(key)).toBe(1);
  });

  test('tok_apply_drop: the connection dies without an answer, yet the charge exists; the retry gets it as a replay', async () => {
    const key = 'wf-drop/charge';
    const first = client.charge(key, card('tok_apply_drop'));
    await expect(first).rejects.toMatchObject({ type: ErrorType.GatewayAmbiguous, reason: 'connection' });
    expect(await charges(key)).toBe(1);
    const retry = await client.charge(key, card('tok_apply_drop'));
    expect(retry).toMatchObject({ kind: 'succeeded', replayed: true });
    expect(await charges(key)).toBe(1);
    expect(await attempts(key)).toBe(2);
  });

  test('closing the gateway abandons a held answer at once: the client sees an ambiguous error, the charge stays', async () => {
    const key = 'wf-close-while-held/charge';
    const second = await startGateway({ pool: db.pool, port: 0 });
    const patient = createGatewayClient({ baseUrl: second.url, timeoutMs: 20_000 });
    const held = patient.charge(key, card('tok_apply_timeout'));
    held.catch(() => undefined);
    const deadline = Date.now() + 5000;
    while ((await charges(key)) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const started = Date.now();
    await second.close();
    expect(Date.now() - started).toBeLessThan(2000);
    await expect(held).rejects.toMatchObject({ type: ErrorType.GatewayAmbiguous, reason: 'connection' });
    expect(await charges(key)).toBe(1);
  });

  test('random faults at runtime: serverErrorRate 1 applies nothing; the same seed gives the same declines', async () => {
    const put = (faults: object) =>
      fetch(`${gateway.url}/_admin/faults`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(faults) });
    expect((await put({ serverErrorRate: 1, seed: 1 })).status).toBe(200);
    await expect(client.charge('wf-down/charge', card())).rejects.toBeInstanceOf(GatewayAmbiguousError);
    expect(await charges('wf-down/charge')).toBe(0);

    const run = async (tag: string): Promise<string[]> => {
      expect((await put({ declineRate: 0.5, seed: 7 })).status).toBe(200);
      const kinds: string[] = [];
      for (let i = 0; i < 12; i++) kinds.push((await client.charge(`wf-seed-${tag}-${i}/charge`, card())).kind);
      return kinds;
    };
    const a = await run('a');
    const b = await run('b');
    expect(a).toEqual(b);
    expect(a).toContain('declined');
    expect(a).toContain('succeeded');
    expect(await db.count(`SELECT count(*) AS n FROM gateway_charges WHERE idempotency_key LIKE 'wf-seed-%'`)).toBe(24);

    expect((await put({ declineRate: 2 })).status).toBe(400);
    expect((await put({})).status).toBe(200);
    const faults = (await (await fetch(`${gateway.url}/_admin/faults`)).json()) as Record<string, number>;
    expect(faults).toMatchObject({ declineRate: 0, serverErrorRate: 0, hangMs: 30_000 });
  });
});

describe('webhooks', () => {
  let receiver: Server;
  let hooked: RunningGateway;
  const received: Array<{ body: string; signature: string | undefined }> = [];
  const secret = 'whsec_test_secret_0123456789';

  beforeAll(async () => {
    receiver = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        received.push({ body, signature: req.headers[SIGNATURE_HEADER.toLowerCase()] as string | undefined });
        res.writeHead(received.length === 1 ? 500 : 200).end(); // the first delivery fails: it is retried
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
    hooked = await startGateway({ pool: db.pool, port: 0, webhook: { url, secret, delayMs: 50 } });
  });
  afterAll(async () => {
    await hooked?.close();
    await new Promise((resolve) => receiver?.close(resolve));
  });

  test('tok_pending answers 202, then a signed charge.succeeded confirms it (retried after a failed delivery)', async () => {
    const key = 'wf-pending/charge';
    const pendingClient = createGatewayClient({ baseUrl: hooked.url, timeoutMs: 5000 });
    const first = await pendingClient.charge(key, card('tok_pending'));
    expect(first).toMatchObject({ kind: 'pending', charge: { status: 'pending' } });

    const deadline = Date.now() + 10_000;
    while (received.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(received).toHaveLength(2);
    expect(received[1]!.body).toBe(received[0]!.body); // a redelivery sends the same bytes
    for (const r of received) expect(verifySignature(secret, r.signature, r.body)).toMatchObject({ ok: true });
    expect(verifySignature('whsec_other_secret_0123456789', received[1]!.signature, received[1]!.body)).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    const event = JSON.parse(received[1]!.body) as { id: string; type: string; data: { charge: { id: string; status: string } } };
    expect(event).toMatchObject({ type: 'charge.succeeded', data: { charge: { id: first.charge.id, status: 'succeeded' } } });
    expect(event.id).toMatch(/^evt_/);

    expect(await pendingClient.getChargeByKey(key)).toMatchObject({ status: 'succeeded' });
    // The replay is still the first answer: 202 pending, byte for byte.
    expect(await pendingClient.charge(key, card('tok_pending'))).toMatchObject({ kind: 'pending', replayed: true });
    expect(await db.count(`SELECT count(*) AS n FROM gateway_webhook_events WHERE charge_id = $1`, [first.charge.id])).toBe(1);
    expect(await db.count(`SELECT attempts AS n FROM gateway_webhook_events WHERE charge_id = $1 AND delivered_at IS NOT NULL`, [first.charge.id])).toBe(2);
    expect(await charges(key)).toBe(1);
  });
});

describe('the witness', () => {
  test('after everything above, no key holds two charges and no charge two refunds', async () => {
    const stats = (await (await fetch(`${gateway.url}/_admin/stats`)).json()) as Record<string, unknown>;
    expect(stats).toMatchObject({ duplicateKeys: 0, duplicateRefunds: 0 });
    expect(stats.charges).toBe(await db.count('SELECT count(*) AS n FROM gateway_charges'));
    expect(stats.refunds).toBe(await db.count('SELECT count(*) AS n FROM gateway_refunds'));
    const health = await fetch(`${gateway.url}/healthz`);
    expect(health.status).toBe(200);
    const missing = await fetch(`${gateway.url}/nope`);
    expect(await missing.json()).toEqual({ error: 'route_not_found' });
  });
});
