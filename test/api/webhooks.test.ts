// POST /v1/webhooks/payments over real HTTP, with the in-process gateway sending its signed webhooks
// to the API: signature and timestamp checks, a duplicate event applied once, a pending charge
// confirmed by webhook, and a webhook that never arrives reconciled by key; what is refused or ignored
// (a forged signature, an unrouted event type, a key of the wrong shape) and the claim protocol (a
// crashed first handler taken over, a live one answered 409, a failed signal released). Effects are
// counted in our tables (webhook_events, orders, payments), the gateway's (charges, refunds) and the
// saga's query (`paymentConfirmation.signals`).
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { buildApiApp } from '../../apps/orders/api/app';
import { workflowIdFor } from '../../apps/orders/api/http-idempotency';
import { WEBHOOK_ROUTE } from '../../apps/orders/api/routes/webhooks';
import { DEV_WEBHOOK_SECRET } from '../../src/config';
import { createTenant } from '../../apps/orders/domain/tenants';
import { SIGNATURE_HEADER, WebhookDispatcher, signPayload, type WebhookTarget } from '../../apps/gateway/webhooks';
import { sagaStateQuery, type OrderSagaState, type PlaceOrderResult } from '../../apps/orders/workflows/messages';
import { startApi } from '../helpers/api';
import { createOrderStack, type OrderStack } from '../helpers/order-stack';

const NEVER_MS = 600_000;
/** Read by the gateway at each delivery (url) and each pending charge (delayMs): tests retarget it. */
const target: WebhookTarget = { url: 'http://127.0.0.1:1/unset', secret: DEV_WEBHOOK_SECRET, delayMs: NEVER_MS };
let stack: OrderStack;
let app: FastifyInstance;
let baseUrl: string;
let webhookUrl: string;
let tenant: { tenantId: string; apiKey: string };
/** The same API built with a real secret, as in production: the development secret is just a wrong one to it. */
const REAL_SECRET = 'whsec_test_real_secret_5f0c2a9e41b7';
let realApp: FastifyInstance;

beforeAll(async () => {
  stack = await createOrderStack({ stock: 10_000, leaseMs: 2000, gatewayTimeoutMs: 3000, webhook: target });
  await stack.startWorker();
  ({ app, baseUrl } = await startApi(stack, { webhook: { secret: DEV_WEBHOOK_SECRET, toleranceSeconds: 300 } }));
  webhookUrl = `${baseUrl}${WEBHOOK_ROUTE}`;
  tenant = await createTenant(stack.db.pool, 'Webhook tenant');
  ({ app: realApp } = await startApi(stack, { webhook: { secret: REAL_SECRET, toleranceSeconds: 300 } }));
});
afterAll(async () => {
  await realApp?.close();
  await app?.close();
  await stack?.stop();
});
beforeEach(() => {
  target.url = webhookUrl;
  target.delayMs = NEVER_MS;
});

const ITEMS = [{ sku: 'SKU-1', quantity: 1 }];
const webhookRows = (eventId?: string) =>
  eventId === undefined
    ? stack.count('SELECT count(*) AS n FROM webhook_events')
    : stack.count('SELECT count(*) AS n FROM webhook_events WHERE event_id = $1', [eventId]);
const gatewayCharges = (orderId: string) => stack.count('SELECT count(*) AS n FROM gateway_charges WHERE order_id = $1', [orderId]);
const gatewayRefunds = (orderId: string) =>
  stack.count('SELECT count(*) AS n FROM gateway_refunds r JOIN gateway_charges c ON c.id = r.charge_id WHERE c.order_id = $1', [orderId]);
const payments = (orderId: string, status: string) => stack.count('SELECT count(*) AS n FROM payments WHERE order_id = $1 AND status = $2', [orderId, status]);
const orderStatus = async (orderId: string) =>
  (await stack.db.pool.query<{ status: string }>('SELECT status FROM orders WHERE id = $1', [orderId])).rows[0]?.status;

async function postWebhook(
  body: string,
  signature: string | undefined,
): Promise<{ status: number; contentType: string | null; json: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (signature !== undefined) headers[SIGNATURE_HEADER] = signature;
  const res = await fetch(webhookUrl, { method: 'POST', headers, body });
  return { status: res.status, contentType: res.headers.get('content-type'), json: (await res.json()) as Record<string, unknown> };
}

const now = () => Math.floor(Date.now() / 1000);
/** An order ID of the shape the API makes (orderIdFor): `ord_` + 24 lowercase hex. */
const newOrderId = () => `ord_${randomBytes(12).toString('hex')}`;
const eventBody = (id: string, key = `${workflowIdFor(newOrderId())}/charge`, type = 'charge.succeeded') =>
  JSON.stringify({ id, type, created: now(), data: { charge: { id: `ch_${id}`, status: 'succeeded', idempotencyKey: key } } });
const signed = (body: string, secret = DEV_WEBHOOK_SECRET) => signPayload(secret, now(), body);
const signalledRows = (eventId: string) => stack.count('SELECT count(*) AS n FROM webhook_events WHERE event_id = $1 AND signalled_at IS NOT NULL', [eventId]);

/** Posts to another instance of the API (built with another secret or client), listening on its own port. */
async function postWebhookTo(other: FastifyInstance, body: string, signature: string) {
  const url = `http://127.0.0.1:${(other.server.address() as AddressInfo).port}${WEBHOOK_ROUTE}`;
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signature }, body });
  return { status: res.status, headers: res.headers, json: (await res.json()) as Record<string, unknown> };
}

async function waitForState(workflowId: string, accept: (s: OrderSagaState) => boolean, timeoutMs = 15_000): Promise<OrderSagaState> {
  const deadline = Date.now() + timeoutMs;
  const handle = stack.client.workflow.getHandle(workflowId);
  for (;;) {
    const state = await handle.query(sagaStateQuery).catch(() => undefined);
    if (state && accept(state)) return state;
    if (Date.now() > deadline) throw new Error(`saga ${workflowId} never reached the state; last: ${JSON.stringify(state)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('signature and timestamp', () => {
  test('a missing, malformed or wrong signature is a 401 problem and records nothing', async () => {
    const before = await webhookRows();
    const body = eventBody('evt_bad_sig');
    const t = now();
    const answers = [
      await postWebhook(body, undefined),
      await postWebhook(body, 'garbage'),
      await postWebhook(body, signPayload('whsec_some_other_secret_value', t, body)),
      await postWebhook(`${body} `, signPayload(DEV_WEBHOOK_SECRET, t, body)), // the body changed after signing
    ];
    for (const res of answers) {
      expect(res.status).toBe(401);
      expect(res.contentType).toMatch(/^application\/problem\+json/);
      expect(res.json.type).toBe('https://idempotent-sagas.dev/problems/webhook-signature-invalid');
    }
    expect(await webhookRows()).toBe(before);
  });

  test('a correctly signed but stale timestamp is a 400 problem and records nothing', async () => {
    const before = await webhookRows();
    const body = eventBody('evt_stale');
    for (const t of [now() - 301 - 5, now() + 301 + 5]) {
      const res = await postWebhook(body, signPayload(DEV_WEBHOOK_SECRET, t, body));
      expect(res.status).toBe(400);
      expect(res.json.type).toBe('https://idempotent-sagas.dev/problems/webhook-timestamp-stale');
    }
    expect(await webhookRows()).toBe(before);
  });

  test('an event for no saga (a well-shaped key, no such workflow) is acknowledged and recorded as applied', async () => {
    const body = eventBody('evt_no_saga');
    const res = await postWebhook(body, signPayload(DEV_WEBHOOK_SECRET, now(), body));
    expect(res).toMatchObject({ status: 200, json: { eventId: 'evt_no_saga', duplicate: false, applied: 'no-saga' } });
    expect(await webhookRows('evt_no_saga')).toBe(1);
    expect(await signalledRows('evt_no_saga')).toBe(1);
    const again = await postWebhook(body, signed(body));
    expect(again).toMatchObject({ status: 200, json: { eventId: 'evt_no_saga', duplicate: true, applied: 'already-recorded' } });
    expect(await webhookRows('evt_no_saga')).toBe(1);
  });
});

describe('asynchronous payment confirmation', () => {
  test('a duplicate delivery is acknowledged, recorded once and applied once', async () => {
    const { handle, orderId, chargeId } = await pendingChargeSaga();

    // The gateway's own code confirms the charge and delivers its stored event: three times, two at once.
    const dispatcher = new WebhookDispatcher(stack.db.pool, target);
    const eventId = await dispatcher.confirm(chargeId);
    if (!eventId) throw new Error('the charge was not pending');
    const deliveries = [await dispatcher.deliver(eventId), ...(await Promise.all([dispatcher.deliver(eventId), dispatcher.deliver(eventId)]))];
    for (const d of deliveries) expect(d).toMatchObject({ delivered: true, status: 200 });
    await dispatcher.close();

    const result = (await handle.result()) as PlaceOrderResult;
    expect(result).toMatchObject({ status: 'COMPLETED', chargeId });
    expect(await webhookRows(eventId)).toBe(1);
    const state = await handle.query(sagaStateQuery);
    expect(state.paymentConfirmation).toEqual({ state: 'signalled', signals: 1, eventId });
    expect(await gatewayCharges(orderId)).toBe(1);
    expect(await payments(orderId, 'captured')).toBe(1);
  });

  test('a tok_pending order placed over HTTP is confirmed by the webhook and completes well before the timeout', async () => {
    target.delayMs = 300;
    const started = Date.now();
    const res = await fetch(`${baseUrl}/v1/orders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tenant.apiKey}`, 'idempotency-key': `pending-${started}`, 'content-type': 'application/json' },
      body: JSON.stringify({ items: ITEMS, paymentToken: 'tok_pending' }),
    });
    expect(res.status).toBe(202);
    const { orderId } = (await res.json()) as { orderId: string };
    const handle = stack.client.workflow.getHandle(workflowIdFor(orderId));
    const result = (await handle.result()) as PlaceOrderResult;
    const elapsed = Date.now() - started;
    expect(result.status).toBe('COMPLETED');
    expect(elapsed).toBeLessThan(15_000); // the default wait is 30 s: the webhook cut it short
    const state = await handle.query(sagaStateQuery);
    expect(state.paymentConfirmation).toMatchObject({ state: 'signalled', signals: 1 });
    expect(await stack.count('SELECT count(*) AS n FROM webhook_events WHERE idempotency_key = $1', [`${workflowIdFor(orderId)}/charge`])).toBe(1);
    expect(await orderStatus(orderId)).toBe('COMPLETED');
    expect(await gatewayCharges(orderId)).toBe(1);
    expect(await stack.count(`SELECT count(*) AS n FROM gateway_charges WHERE order_id = $1 AND status = 'succeeded'`, [orderId])).toBe(1);
    expect(await payments(orderId, 'captured')).toBe(1);
  }, 30_000);

  test('a webhook that never arrives: the charge resolved at the gateway, so reconciliation by key completes the order', async () => {
    target.delayMs = 200;
    target.url = 'http://127.0.0.1:1/unreachable'; // the gateway confirms the charge but cannot deliver
    const handle = await stack.startOrder({ items: ITEMS, paymentToken: 'tok_pending', options: { paymentConfirmationTimeoutMs: 2500 } });
    const orderId = handle.workflowId.replace(/^order-/, '');
    const result = (await handle.result()) as PlaceOrderResult;
    expect(result.status).toBe('COMPLETED');
    const state = await handle.query(sagaStateQuery);
    expect(state.paymentConfirmation).toMatchObject({ state: 'timed-out', signals: 0 });
    expect(await stack.count('SELECT count(*) AS n FROM webhook_events WHERE idempotency_key = $1', [`${handle.workflowId}/charge`])).toBe(0);
    expect(await orderStatus(orderId)).toBe('COMPLETED');
    expect(await gatewayCharges(orderId)).toBe(1);
    expect(await gatewayRefunds(orderId)).toBe(0);
    expect(await payments(orderId, 'captured')).toBe(1);
  }, 30_000);

  test('a webhook that never arrives and a charge still pending: PAYMENT_NOT_CONFIRMED, compensated, the pending charge refunded', async () => {
    const handle = await stack.startOrder({ items: ITEMS, paymentToken: 'tok_pending', options: { paymentConfirmationTimeoutMs: 1500 } });
    const orderId = handle.workflowId.replace(/^order-/, '');
    const result = (await handle.result()) as PlaceOrderResult;
    expect(result.status).toBe('COMPENSATED');
    expect(result.reason).toMatch(/^PAYMENT_NOT_CONFIRMED/);
    const state = await handle.query(sagaStateQuery);
    expect(state.paymentConfirmation).toMatchObject({ state: 'timed-out', signals: 0 });
    expect(await orderStatus(orderId)).toBe('COMPENSATED');
    expect(await gatewayCharges(orderId)).toBe(1);
    expect(await gatewayRefunds(orderId)).toBe(1);
    expect(await payments(orderId, 'captured')).toBe(0);
    expect(await stack.count(`SELECT count(*) AS n FROM reservations WHERE order_id = $1 AND status = 'held'`, [orderId])).toBe(0);
  }, 30_000);
});

/** A saga waiting for the confirmation of its charge, still pending at the gateway. */
async function pendingChargeSaga(): Promise<{ handle: WorkflowHandle; orderId: string; chargeId: string }> {
  const orderId = newOrderId();
  const handle = await stack.startOrder({ items: ITEMS, orderId, paymentToken: 'tok_pending', options: { paymentConfirmationTimeoutMs: 60_000 } });
  await waitForState(handle.workflowId, (s) => s.paymentConfirmation?.state === 'waiting');
  const { rows } = await stack.db.pool.query<{ id: string }>('SELECT id FROM gateway_charges WHERE order_id = $1', [orderId]);
  const chargeId = rows[0]?.id;
  if (!chargeId) throw new Error('no pending charge at the gateway');
  return { handle, orderId, chargeId };
}

/**
 * A saga waiting for its payment confirmation, its charge already resolved at the gateway (by the
 * gateway's own code, which does not deliver here): a signal ends the wait and reconciliation completes it.
 */
async function waitingSaga(): Promise<{ workflowId: string; orderId: string; key: string; chargeId: string }> {
  const { handle, orderId, chargeId } = await pendingChargeSaga();
  const dispatcher = new WebhookDispatcher(stack.db.pool, target);
  const confirmed = await dispatcher.confirm(chargeId);
  await dispatcher.close();
  if (!confirmed) throw new Error('the charge was not pending');
  return { workflowId: handle.workflowId, orderId, key: `${handle.workflowId}/charge`, chargeId };
}

const chargeEvent = (id: string, saga: { key: string; chargeId: string }, type = 'charge.succeeded', key = saga.key) =>
  JSON.stringify({ id, type, created: now(), data: { charge: { id: saga.chargeId, status: 'succeeded', idempotencyKey: key } } });

async function signalsOf(workflowId: string): Promise<number | undefined> {
  return (await stack.client.workflow.getHandle(workflowId).query(sagaStateQuery)).paymentConfirmation?.signals;
}

/** Ends a waiting saga with a genuine event and checks it was still waiting: exactly one signal, the order completed. */
async function confirmAndFinish(saga: { workflowId: string; orderId: string; key: string; chargeId: string }, eventId: string): Promise<void> {
  expect(await signalsOf(saga.workflowId)).toBe(0);
  const body = chargeEvent(eventId, saga);
  expect(await postWebhook(body, signed(body))).toMatchObject({ status: 200, json: { applied: 'signalled', duplicate: false } });
  const result = (await stack.client.workflow.getHandle(saga.workflowId).result()) as PlaceOrderResult;
  expect(result.status).toBe('COMPLETED');
  const state = await stack.client.workflow.getHandle(saga.workflowId).query(sagaStateQuery);
  expect(state.paymentConfirmation).toEqual({ state: 'signalled', signals: 1, eventId });
  expect(await gatewayCharges(saga.orderId)).toBe(1);
  expect(await payments(saga.orderId, 'captured')).toBe(1);
}

describe('what is refused or ignored', () => {
  test('an API with a real secret refuses (401) a webhook signed with the public development secret; nothing is recorded or signalled', async () => {
    const saga = await waitingSaga();
    const forged = chargeEvent('evt_forged_dev', saga);
    const res = await postWebhookTo(realApp, forged, signed(forged, DEV_WEBHOOK_SECRET));
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.json.type).toBe('https://idempotent-sagas.dev/problems/webhook-signature-invalid');
    expect(await webhookRows('evt_forged_dev')).toBe(0);
    expect(await signalsOf(saga.workflowId)).toBe(0);
    // The same event signed with the real secret is applied by that API: the refusal was the secret's.
    const genuine = chargeEvent('evt_real_secret', saga);
    expect(await postWebhookTo(realApp, genuine, signed(genuine, REAL_SECRET))).toMatchObject({ status: 200, json: { applied: 'signalled' } });
    expect(await signalsOf(saga.workflowId)).toBe(1);
    expect(((await stack.client.workflow.getHandle(saga.workflowId).result()) as PlaceOrderResult).status).toBe('COMPLETED');
  }, 30_000);

  test('an event type the route does not apply is acknowledged (200, ignored); nothing is recorded or signalled', async () => {
    const saga = await waitingSaga();
    for (const [i, type] of ['charge.failed', 'charge.refunded', 'charge.dispute.created', 'payout.paid'].entries()) {
      const body = chargeEvent(`evt_unrouted_${i}`, saga, type);
      const res = await postWebhook(body, signed(body));
      expect(res).toMatchObject({ status: 200, json: { received: true, eventId: `evt_unrouted_${i}`, duplicate: false, applied: 'ignored' } });
      expect(res.json.reason).toContain(type);
      expect(await webhookRows(`evt_unrouted_${i}`)).toBe(0);
    }
    // An unrouted type needs only an id and a type: its body is not ours to validate.
    const bare = JSON.stringify({ id: 'evt_unrouted_bare', type: 'customer.created', data: { anything: [1, 2] } });
    expect(await postWebhook(bare, signed(bare))).toMatchObject({ status: 200, json: { applied: 'ignored' } });
    expect(await webhookRows('evt_unrouted_bare')).toBe(0);
    await confirmAndFinish(saga, 'evt_after_unrouted');
  }, 30_000);

  test("a charge key not of the order saga's shape is acknowledged (200, ignored); nothing is recorded or signalled", async () => {
    const saga = await waitingSaga();
    const hex = saga.orderId.slice('ord_'.length);
    const keys = [
      `${saga.workflowId}/refund`, // the old route signalled whatever came before the last '/': this saga
      `${saga.workflowId}/charge/x`,
      saga.workflowId,
      `order-ord_${hex.toUpperCase()}/charge`,
      `order-ord_${hex.slice(1)}/charge`,
      `order-ord_${hex}0/charge`,
      `wallet-${hex}/charge`,
      `x/${saga.key}`,
    ];
    for (const [i, key] of keys.entries()) {
      const body = chargeEvent(`evt_bad_key_${i}`, saga, 'charge.succeeded', key);
      const res = await postWebhook(body, signed(body));
      expect({ key, ...res }).toMatchObject({ key, status: 200, json: { eventId: `evt_bad_key_${i}`, applied: 'ignored' } });
      expect(await webhookRows(`evt_bad_key_${i}`)).toBe(0);
    }
    await confirmAndFinish(saga, 'evt_after_bad_keys');
  }, 30_000);

  test('a routed event that does not match the schema is a 400 problem and records nothing', async () => {
    const body = JSON.stringify({ id: 'evt_no_charge', type: 'charge.succeeded', data: {} });
    const res = await postWebhook(body, signed(body));
    expect(res.status).toBe(400);
    expect(res.json.type).toBe('https://idempotent-sagas.dev/problems/validation-error');
    expect(await webhookRows('evt_no_charge')).toBe(0);
  });
});

describe('record, signal, then mark signalled (no transaction held across the signal)', () => {
  const insertUnsignalled = (eventId: string, saga: { key: string; chargeId: string }, claimedAgo: string | null) =>
    stack.db.pool.query(
      `INSERT INTO webhook_events (event_id, type, charge_id, idempotency_key, received_at, claimed_at)
       VALUES ($1, 'charge.succeeded', $2, $3, now() - interval '1 hour', CASE WHEN $4::interval IS NULL THEN NULL ELSE now() - $4::interval END)`,
      [eventId, saga.chargeId, saga.key, claimedAgo],
    );

  test('a first handler that crashed after recording: a redelivery after the claim window takes the row over and signals, once', async () => {
    const saga = await waitingSaga();
    const eventId = 'evt_crashed_first_handler';
    await insertUnsignalled(eventId, saga, '1 minute'); // recorded, never signalled, claim long lapsed
    const body = chargeEvent(eventId, saga);
    expect(await postWebhook(body, signed(body))).toMatchObject({ status: 200, json: { eventId, duplicate: false, applied: 'signalled' } });
    expect(await webhookRows(eventId)).toBe(1);
    expect(await signalledRows(eventId)).toBe(1);
    // A later redelivery finds it signalled: acknowledged, not signalled again.
    expect(await postWebhook(body, signed(body))).toMatchObject({ status: 200, json: { eventId, duplicate: true, applied: 'already-recorded' } });
    const result = (await stack.client.workflow.getHandle(saga.workflowId).result()) as PlaceOrderResult;
    expect(result.status).toBe('COMPLETED');
    const state = await stack.client.workflow.getHandle(saga.workflowId).query(sagaStateQuery);
    expect(state.paymentConfirmation).toEqual({ state: 'signalled', signals: 1, eventId });
    expect(await payments(saga.orderId, 'captured')).toBe(1);
  }, 30_000);

  test("a redelivery while the first handler's claim is live answers 409 with Retry-After and signals nothing; once released, the next signals", async () => {
    const saga = await waitingSaga();
    const eventId = 'evt_live_claim';
    await insertUnsignalled(eventId, saga, '0 seconds');
    const body = chargeEvent(eventId, saga);
    const res = await fetch(webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signed(body) }, body });
    expect(res.status).toBe(409);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(10);
    expect(((await res.json()) as { type: string }).type).toBe('https://idempotent-sagas.dev/problems/webhook-event-in-progress');
    expect(await signalsOf(saga.workflowId)).toBe(0);
    expect(await signalledRows(eventId)).toBe(0);
    // The holder gives its claim up (as after a failed signal): the next delivery takes over at once.
    await stack.db.pool.query('UPDATE webhook_events SET claimed_at = NULL WHERE event_id = $1', [eventId]);
    expect(await postWebhook(body, signed(body))).toMatchObject({ status: 200, json: { applied: 'signalled' } });
    expect(await signalsOf(saga.workflowId)).toBe(1);
    expect(await signalledRows(eventId)).toBe(1);
    expect(((await stack.client.workflow.getHandle(saga.workflowId).result()) as PlaceOrderResult).status).toBe('COMPLETED');
  }, 30_000);

  test('a signal that fails (not WorkflowNotFound) answers 503 problem+json without internals, releases the claim, and the redelivery signals at once', async () => {
    const saga = await waitingSaga();
    let attempts = 0;
    const failing = {
      withDeadline: <T>(_deadline: number, fn: () => Promise<T>) => fn(),
      workflow: {
        getHandle: () => ({
          signal: () => {
            attempts += 1;
            return Promise.reject(new Error('14 UNAVAILABLE: temporal is down (internal detail)'));
          },
        }),
      },
    } as unknown as Client;
    const brokenApp = buildApiApp({ pool: stack.db.pool, store: stack.store, temporal: { client: failing, taskQueue: stack.taskQueue } });
    await brokenApp.listen({ host: '127.0.0.1', port: 0 });
    try {
      const eventId = 'evt_signal_fails';
      const body = chargeEvent(eventId, saga);
      const res = await postWebhookTo(brokenApp, body, signed(body));
      expect(attempts).toBe(1);
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(res.json.type).toBe('https://idempotent-sagas.dev/problems/service-unavailable');
      expect(JSON.stringify(res.json)).not.toMatch(/UNAVAILABLE|internal detail|\bat /);
      // Recorded, not signalled, claim released.
      expect(await stack.count('SELECT count(*) AS n FROM webhook_events WHERE event_id = $1 AND signalled_at IS NULL AND claimed_at IS NULL', [eventId])).toBe(
        1,
      );
      expect(await signalsOf(saga.workflowId)).toBe(0);
      // The gateway's redelivery reaches a healthy API: taken over at once (no claim window to wait out), signalled once.
      const started = Date.now();
      expect(await postWebhook(body, signed(body))).toMatchObject({ status: 200, json: { eventId, duplicate: false, applied: 'signalled' } });
      expect(Date.now() - started).toBeLessThan(5000);
      expect(await signalsOf(saga.workflowId)).toBe(1);
      expect(await signalledRows(eventId)).toBe(1);
      expect(((await stack.client.workflow.getHandle(saga.workflowId).result()) as PlaceOrderResult).status).toBe('COMPLETED');
    } finally {
      await brokenApp.close();
    }
  }, 30_000);
});
