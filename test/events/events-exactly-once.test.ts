// Events out exactly once, against a real NATS JetStream (a server of this file's own, so it can be
// restarted and its streams are this file's) and a real Postgres: the relay and the shipping consumer
// are killed where it hurts (SIGKILL of their own processes), and the effects are counted.
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import pino from 'pino';
import { Registry } from 'prom-client';
import { withTransaction } from 'idempotent-sagas/store';
import { connectBroker, deadLetterSubject, deleteEventStreams, eventSubject, eventTopology, streamMessageCount } from '../../apps/events/broker';
import { eventId } from '../../apps/events/events';
import { appendEvent } from '../../apps/events/outbox';
import { OutboxRelay } from '../../apps/events/relay';
import { pruneInbox, pruneOutbox } from '../../apps/events/retention';
import { SHIPPING_CONSUMER, ShippingConsumer } from '../../apps/shipping/consumer';
import { loadConfig } from '../../src/config';
import { Stack, type StackNats } from '../../src/stack/stack';
import { startChildProcess } from '../helpers/child-worker';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { ADMIN_URL_VAR, requireTestEnv } from '../helpers/test-env';
import { waitFor } from '../helpers/wait';

const logger = pino({ level: 'silent' });
/** Short enough that a re-publication after it reaches the consumer (the inbox, not the broker, must drop it). */
const DUPLICATE_WINDOW_MS = 1000;
const topology = eventTopology();
const { stream: EVENTS_STREAM, deadLetterStream: DEAD_LETTER_STREAM } = topology;

let stack: Stack;
let nats: StackNats;
let db: TestDatabase;
const running: Array<{ stop(): Promise<void> }> = [];

beforeAll(async () => {
  stack = new Stack(loadConfig({ DATABASE_URL: requireTestEnv(ADMIN_URL_VAR), LOG_LEVEL: 'error' }), logger);
  nats = await stack.nats({ own: true });
});

beforeEach(async () => {
  db = await createTestDatabase();
  // Each test its own streams: what an earlier test left must not be consumed here.
  await deleteEventStreams(nats.url, topology);
});

afterEach(async () => {
  for (const r of running.splice(0).reverse()) await r.stop();
  await db.drop();
});

afterAll(() => stack.close());

/** Commits the terminal transition of order `ord-<i>` (its row in orders, its event in the outbox) as the saga's steps do; returns the event ID. */
async function terminalOrder(i: number, status: 'COMPLETED' | 'COMPENSATED'): Promise<string> {
  const orderId = `ord-${i}`;
  const workflowId = `order-${orderId}`;
  const tenantId = 'default';
  await withTransaction(db.pool, async (client) => {
    await client.query(
      `INSERT INTO orders (id, workflow_id, tenant_id, status, items, total_cents, currency, failure_reason)
       VALUES ($1, $2, $3, $4, '[{"sku":"SKU-1","quantity":1,"priceCents":100}]', 100, 'EUR', $5)`,
      [orderId, workflowId, tenantId, status, status === 'COMPENSATED' ? 'declined' : null],
    );
    if (status === 'COMPLETED') {
      const payload = { orderId, tenantId, totalCents: 100, currency: 'EUR', items: [{ sku: 'SKU-1', quantity: 1 }] };
      await appendEvent(client, { workflowId, type: 'order.completed', aggregateId: orderId, payload });
    } else {
      await appendEvent(client, { workflowId, type: 'order.compensated', aggregateId: orderId, payload: { orderId, tenantId, reason: 'declined' } });
    }
  });
  return eventId(workflowId, status === 'COMPLETED' ? 'order.completed' : 'order.compensated');
}

/** Orders ord-0 … ord-(n-1), all COMPLETED; their event IDs in outbox order. */
async function terminalOrders(n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(await terminalOrder(i, 'COMPLETED'));
  return ids;
}

const count = (sql: string): Promise<number> => db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`).then((r) => r.rows[0]!.n);
const shipments = (): Promise<number> => count("shipping_actions WHERE kind = 'shipment'");
const published = (): Promise<number> => count('outbox_events WHERE published_at IS NOT NULL');

const streamMessages = (stream: string): Promise<number> => streamMessageCount(nats.url, stream);

function relay(opts: Partial<Parameters<typeof OutboxRelay.start>[0]> = {}): Promise<OutboxRelay> {
  return OutboxRelay.start({
    pool: db.pool,
    databaseUrl: db.url,
    natsUrl: nats.url,
    logger,
    pollIntervalMs: 50,
    duplicateWindowMs: DUPLICATE_WINDOW_MS,
    ...opts,
  }).then((r) => (running.push(r), r));
}

function consumer(opts: Partial<Parameters<typeof ShippingConsumer.start>[0]> = {}): Promise<ShippingConsumer> {
  return ShippingConsumer.start({ pool: db.pool, natsUrl: nats.url, logger, ackWaitMs: 1000, duplicateWindowMs: DUPLICATE_WINDOW_MS, ...opts }).then(
    (c) => (running.push(c), c),
  );
}

/** The environment of a relay or consumer process of this test. */
function serviceEnv(extra: Record<string, string>): Record<string, string> {
  return {
    DATABASE_URL: db.url,
    NATS_URL: nats.url,
    EVENTS_DUPLICATE_WINDOW_SECONDS: '1',
    RELAY_POLL_INTERVAL_MS: '50',
    CONSUMER_ACK_WAIT_SECONDS: '1',
    ...extra,
  };
}

test('every outbox event is published once, in outbox order, and applied once', async () => {
  const ids = await terminalOrders(20);
  const shipping = await consumer();
  await relay();
  await waitFor(async () => (await shipments()) === 20, '20 shipments');
  expect(await published()).toBe(20);
  expect(await streamMessages(EVENTS_STREAM)).toBe(20);
  expect(shipping.counts).toEqual({ applied: 20, duplicates: 0, redelivered: 0, deadLettered: 0 });
  // Outbox order is stream order.
  const nc = await connectBroker(nats.url, 'test-order');
  const jsm = await jetstreamManager(nc);
  const inStream: string[] = [];
  for (let seq = 1; seq <= 20; seq++) inStream.push((await jsm.streams.getMessage(EVENTS_STREAM, { seq }))!.json<{ eventId: string }>().eventId);
  await nc.close();
  expect(inStream).toEqual(ids);
});

test('an event published twice by two relays is applied once: the broker drops the second inside its window, the inbox after it', async () => {
  const [id] = await terminalOrders(1);
  // Two relays that do not take turns (exclusive off), each publishing the same unmarked row: the first
  // publishes and "crashes" before marking, the second publishes it again.
  const first = await relay({ exclusive: false, pollIntervalMs: 60_000, hooks: { afterPublish: () => Promise.reject(new Error('crashed before marking')) } });
  await expect(first.publishBatch()).rejects.toThrow('crashed before marking');
  const second = await relay({ exclusive: false, pollIntervalMs: 60_000 });
  await second.publishBatch(); // inside the duplicate window: the broker acknowledges it as a duplicate
  expect(await streamMessages(EVENTS_STREAM)).toBe(1);
  // Outside the window the broker stores it again: only the consumer's inbox stands between it and a second shipment.
  await db.pool.query('UPDATE outbox_events SET published_at = NULL');
  await new Promise((r) => setTimeout(r, DUPLICATE_WINDOW_MS + 500));
  await second.publishBatch();
  expect(await streamMessages(EVENTS_STREAM)).toBe(2);

  const shipping = await consumer();
  await waitFor(async () => shipping.counts.applied + shipping.counts.duplicates === 2, 'both copies consumed');
  expect(shipping.counts).toMatchObject({ applied: 1, duplicates: 1 });
  expect(await shipments()).toBe(1);
  expect(await count(`shipping_inbox WHERE event_id = '${id}'`)).toBe(1);
});

test('the relay killed between publish and mark: the event is published again and applied once', async () => {
  await terminalOrders(1);
  const child = await startChildProcess('apps/events/relay-main.ts', serviceEnv({ RELAY_FAULT_PAUSE_AFTER_PUBLISH_MS: '60000' }), 'paused after publishing');
  running.push({ stop: () => child.stop(1000) });
  await child.kill('SIGKILL');
  expect(await count('outbox_events WHERE published_at IS NULL AND attempts = 1')).toBe(1);
  expect(await streamMessages(EVENTS_STREAM)).toBe(1);
  await new Promise((r) => setTimeout(r, DUPLICATE_WINDOW_MS + 500)); // past the broker's window: the inbox must drop it

  const next = await relay();
  await waitFor(async () => (await published()) === 1, 'the event marked published by the next relay');
  expect(await streamMessages(EVENTS_STREAM)).toBe(2);
  expect(next.published).toBe(1);
  const shipping = await consumer();
  await waitFor(async () => shipping.counts.applied + shipping.counts.duplicates === 2, 'both copies consumed');
  expect(await shipments()).toBe(1);
  expect(shipping.counts).toMatchObject({ applied: 1, duplicates: 1 });
});

test('the consumer killed between its effect and the ack: the event is redelivered and applied once', async () => {
  await terminalOrders(1);
  await relay();
  await waitFor(async () => (await published()) === 1, 'the event published');
  const child = await startChildProcess('apps/shipping/main.ts', serviceEnv({ CONSUMER_FAULT_PAUSE_AFTER_APPLY_MS: '60000' }), 'paused after applying');
  running.push({ stop: () => child.stop(1000) });
  await child.kill('SIGKILL');
  expect(await shipments()).toBe(1); // applied and committed, never acknowledged

  const shipping = await consumer();
  await waitFor(async () => shipping.counts.duplicates === 1, 'the redelivered event dropped by the inbox');
  expect(shipping.counts).toMatchObject({ applied: 0, duplicates: 1 });
  expect(shipping.counts.redelivered).toBeGreaterThanOrEqual(1);
  expect(await shipments()).toBe(1);
});

test('a poison event goes to the dead-letter subject with its reason, and the consumer goes on', async () => {
  const shipping = await consumer();
  const nc = await connectBroker(nats.url, 'test-poison');
  const js = jetstream(nc);
  await js.publish(eventSubject(topology, 'order.completed'), 'not json at all');
  await js.publish(eventSubject(topology, 'order.completed'), JSON.stringify({ eventId: 'x', type: 'order.completed', version: 1, payload: {} }));
  await nc.close();
  await terminalOrders(1);
  await relay();
  await waitFor(async () => (await shipments()) === 1, 'the good event applied after the poison ones');
  expect(shipping.counts).toMatchObject({ applied: 1, deadLettered: 2 });
  expect(await streamMessages(DEAD_LETTER_STREAM)).toBe(2);

  const reader = await connectBroker(nats.url, 'test-dlq');
  const jsm = await jetstreamManager(reader);
  const first = (await jsm.streams.getMessage(DEAD_LETTER_STREAM, { seq: 1 }))!;
  const second = (await jsm.streams.getMessage(DEAD_LETTER_STREAM, { seq: 2 }))!;
  await reader.close();
  expect(first.subject).toBe(deadLetterSubject(topology, SHIPPING_CONSUMER));
  expect(first.string()).toBe('not json at all');
  expect(first.header.get('Dead-Letter-Reason')).toMatch(/^not JSON/);
  expect(second.header.get('Dead-Letter-Reason')).toMatch(/^schema: /);
  expect(second.header.get('Original-Subject')).toBe(eventSubject(topology, 'order.completed'));
});

test('a NATS restart loses nothing: events committed while the broker is down are published and applied once it is back', async () => {
  await terminalOrders(5);
  const shipping = await consumer();
  await relay();
  await waitFor(async () => (await shipments()) === 5, 'the first five shipments');
  await nats.child!.kill('SIGKILL');
  // Five more terminal orders while the broker is down.
  for (let i = 5; i < 10; i++) await terminalOrder(i, 'COMPENSATED');
  await new Promise((r) => setTimeout(r, 500));
  expect(await published()).toBe(5);
  await nats.child!.start();
  await waitFor(async () => (await count("shipping_actions WHERE kind = 'cancellation'")) === 5, 'five cancellations after the restart', 45_000);
  expect(await shipments()).toBe(5);
  expect(await published()).toBe(10);
  expect(await count('(SELECT order_id, kind FROM shipping_actions GROUP BY 1, 2 HAVING count(*) > 1) twice')).toBe(0);
  expect(shipping.counts.applied).toBe(10);
});

test('retention: published outbox rows and inbox rows past it are deleted in batches, an unpublished row never', async () => {
  await terminalOrders(5);
  const shipping = await consumer();
  const r = await relay();
  await waitFor(async () => (await shipments()) === 5, 'five shipments');
  await r.stop();
  await shipping.stop();
  running.splice(0);
  await terminalOrder(5, 'COMPENSATED'); // committed, never published
  // Days compressed: three published rows and three inbox rows are a day old, and the unpublished one too.
  await db.pool.query(
    `UPDATE outbox_events SET published_at = CASE WHEN published_at IS NOT NULL THEN now() - interval '1 day' END, created_at = now() - interval '1 day' WHERE aggregate_id IN ('ord-0', 'ord-1', 'ord-2', 'ord-5')`,
  );
  await db.pool.query(
    `UPDATE shipping_inbox SET received_at = now() - interval '1 day' WHERE event_id LIKE 'order-ord-0:%' OR event_id LIKE 'order-ord-1:%' OR event_id LIKE 'order-ord-2:%'`,
  );
  expect(await pruneOutbox(db.pool, { olderThanSeconds: 3600, batchSize: 2 })).toBe(3);
  expect(await pruneInbox(db.pool, { olderThanSeconds: 3600, batchSize: 2 })).toBe(3);
  expect(await count('outbox_events')).toBe(3); // ord-3, ord-4 (published an hour ago at most) and ord-5 (unpublished)
  expect(await count("outbox_events WHERE aggregate_id = 'ord-5' AND published_at IS NULL")).toBe(1);
  expect(await count('shipping_inbox')).toBe(2);
  expect(await shipments()).toBe(5); // the effects stay: retention is of the bookkeeping only
});

test('the relay and the consumer report what they did as metrics', async () => {
  await terminalOrders(3);
  const registry = new Registry();
  const shipping = await consumer({ registry });
  await relay({ registry });
  await waitFor(async () => shipping.counts.applied === 3, 'three applied');
  const metrics = await registry.metrics();
  expect(metrics).toMatch(/^outbox_events_published_total\{type="order.completed"\} 3$/m);
  expect(metrics).toMatch(/^inbox_events_applied_total\{type="order.completed"\} 3$/m);
  expect(metrics).toMatch(/^outbox_lag_seconds 0$/m);
  expect(metrics).toMatch(/^inbox_duplicates_dropped_total 0$/m);
  expect(metrics).toMatch(/^inbox_events_dead_lettered_total 0$/m);
});
