// POST /v1/webhooks/payments over real HTTP, with the in-process gateway sending its signed webhooks
// to the API: signature and timestamp checks, a duplicate event applied once, a pending charge
// confirmed by webhook, and a webhook that never arrives reconciled by key. Effects are counted in
// our tables (webhook_events, orders, payments) and the gateway's (charges, refunds).
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildApiApp } from '../../src/api/app';
import { workflowIdFor } from '../../src/api/http-idempotency';
import { WEBHOOK_ROUTE } from '../../src/api/routes/webhooks';
import { DEV_WEBHOOK_SECRET } from '../../src/config';
import { createTenant } from '../../src/domain/tenants';
import { SIGNATURE_HEADER, WebhookDispatcher, signPayload, type WebhookTarget } from '../../src/gateway/webhooks';
import { sagaStateQuery, type OrderSagaState, type PlaceOrderResult } from '../../workflows/messages';
import { createOrderStack, type OrderStack } from '../helpers/order-stack';

const NEVER_MS = 600_000;
/** Read by the gateway at each delivery (url) and each pending charge (delayMs): tests retarget it. */
const target: WebhookTarget = { url: 'http://127.0.0.1:1/unset', secret: DEV_WEBHOOK_SECRET, delayMs: NEVER_MS };
let stack: OrderStack;
let app: FastifyInstance;
let baseUrl: string;
let webhookUrl: string;
let tenant: { tenantId: string; apiKey: string };

beforeAll(async () => {
  stack = await createOrderStack({ stock: 10_000, leaseMs: 2000, gatewayTimeoutMs: 3000, webhook: target });
  await stack.startWorker();
  app = buildApiApp({
    pool: stack.db.pool,
    store: stack.store,
    temporal: { client: stack.client, taskQueue: stack.taskQueue },
    webhook: { secret: DEV_WEBHOOK_SECRET, toleranceSeconds: 300 },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  webhookUrl = `${baseUrl}${WEBHOOK_ROUTE}`;
  tenant = await createTenant(stack.db.pool, 'Webhook tenant');
});
afterAll(async () => {
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

async function postWebhook(body: string, signature: string | undefined): Promise<{ status: number; contentType: string | null; json: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (signature !== undefined) headers[SIGNATURE_HEADER] = signature;
  const res = await fetch(webhookUrl, { method: 'POST', headers, body });
  return { status: res.status, contentType: res.headers.get('content-type'), json: (await res.json()) as Record<string, unknown> };
}

const now = () => Math.floor(Date.now() / 1000);
const eventBody = (id: string, key = 'order-ord-none/charge') =>
  JSON.stringify({ id, type: 'charge.succeeded', created: now(), data: { charge: { id: `ch_${id}`, status: 'succeeded', idempotencyKey: key } } });

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

  test('an event for no saga is acknowledged and recorded', async () => {
    const body = eventBody('evt_no_saga', 'order-ord-does-not-exist/charge');
    const res = await postWebhook(body, signPayload(DEV_WEBHOOK_SECRET, now(), body));
    expect(res).toMatchObject({ status: 200, json: { eventId: 'evt_no_saga', duplicate: false, applied: 'no-saga' } });
    expect(await webhookRows('evt_no_saga')).toBe(1);
  });
});

describe('asynchronous payment confirmation', () => {
  test('a duplicate delivery is acknowledged, recorded once and applied once', async () => {
    const handle = await stack.startOrder({ items: ITEMS, paymentToken: 'tok_pending', options: { paymentConfirmationTimeoutMs: 60_000 } });
    const orderId = handle.workflowId.replace(/^order-/, '');
    await waitForState(handle.workflowId, (s) => s.paymentConfirmation?.state === 'waiting');
    const { rows } = await stack.db.pool.query<{ id: string }>('SELECT id FROM gateway_charges WHERE order_id = $1', [orderId]);
    const chargeId = rows[0]?.id;
    if (!chargeId) throw new Error('no pending charge at the gateway');

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
