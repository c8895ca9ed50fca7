// The event contract: deterministic IDs, payload schemas that refuse what consumers could not read, the
// documented JSON Schema kept equal to the code, and the names one stream name decides.
import { readFileSync } from 'node:fs';
import { eventSubject, eventTopology, deadLetterSubject } from '../../apps/events/broker';
import { EVENT_PAYLOADS, SagaEvent, eventId } from '../../apps/events/events';
import { EVENT_SCHEMAS_PATH, eventSchemasJson } from '../../src/cli/event-schemas';
import { ConfigError, loadConfig } from '../../src/config';

test('an event ID is derived from the workflow ID and the transition, never random', () => {
  expect(eventId('order-ord-1', 'order.completed')).toBe('order-ord-1:order.completed');
  expect(eventId('order-ord-1', 'order.completed')).toBe(eventId('order-ord-1', 'order.completed'));
  expect(eventId('order-ord-1', 'order.compensated')).not.toBe(eventId('order-ord-1', 'order.completed'));
});

test('payloads are checked before they reach the outbox', () => {
  const good = { orderId: 'o-1', tenantId: 't', totalCents: 100, currency: 'EUR', items: [{ sku: 'SKU-1', quantity: 1 }] };
  expect(EVENT_PAYLOADS['order.completed'].safeParse(good).success).toBe(true);
  expect(EVENT_PAYLOADS['order.completed'].safeParse({ ...good, items: [] }).success).toBe(false);
  expect(EVENT_PAYLOADS['order.completed'].safeParse({ ...good, totalCents: -1 }).success).toBe(false);
  expect(EVENT_PAYLOADS['transfer.compensated'].safeParse({ transferId: 'x', from: 'a', to: 'b', amountCents: 5 }).success).toBe(false); // no reason
});

test('the envelope refuses an unknown type or version, and a payload of another type', () => {
  const envelope = { eventId: 'w:order.compensated', type: 'order.compensated', version: 1, workflowId: 'w', occurredAt: '2026-12-04T08:00:00.000Z' };
  const payload = { orderId: 'o', tenantId: 't', reason: 'declined' };
  expect(SagaEvent.safeParse({ ...envelope, payload }).success).toBe(true);
  expect(SagaEvent.safeParse({ ...envelope, version: 2, payload }).success).toBe(false);
  expect(SagaEvent.safeParse({ ...envelope, type: 'order.shipped', payload }).success).toBe(false);
  expect(SagaEvent.safeParse({ ...envelope, type: 'order.completed', payload }).success).toBe(false);
});

test('docs/event-schemas.json is what the code generates (npm run events:schemas)', () => {
  expect(readFileSync(EVENT_SCHEMAS_PATH, 'utf8')).toBe(eventSchemasJson());
});

test('one stream name decides the subjects and the dead letters', () => {
  const t = eventTopology();
  expect(t).toEqual({ stream: 'SAGA_EVENTS', subjectPrefix: 'saga-events', deadLetterStream: 'SAGA_EVENTS_DLQ', deadLetterPrefix: 'saga-events-dlq' });
  expect(eventSubject(t, 'order.completed')).toBe('saga-events.order.completed');
  expect(deadLetterSubject(t, 'shipping')).toBe('saga-events-dlq.shipping');
  expect(eventSubject(eventTopology('DEMO_42'), 'order.compensated')).toBe('demo-42.order.compensated');
});

test('event settings are validated: a bad stream name or a window under a second is refused, naming the variable', () => {
  expect(loadConfig({ EVENTS_STREAM: 'DEMO_1', EVENTS_DUPLICATE_WINDOW_SECONDS: '1' }).events).toMatchObject({ stream: 'DEMO_1', duplicateWindowSeconds: 1 });
  expect(() => loadConfig({ EVENTS_STREAM: 'saga events' })).toThrow(ConfigError);
  expect(() => loadConfig({ EVENTS_STREAM: 'saga events' })).toThrow(/EVENTS_STREAM/);
  expect(() => loadConfig({ EVENTS_DUPLICATE_WINDOW_SECONDS: '0' })).toThrow(/EVENTS_DUPLICATE_WINDOW_SECONDS/);
  expect(() => loadConfig({ CONSUMER_ACK_WAIT_SECONDS: 'soon' })).toThrow(/CONSUMER_ACK_WAIT_SECONDS/);
});
