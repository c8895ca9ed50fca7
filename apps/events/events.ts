// The events the order and wallet sagas publish, one per terminal transition: their envelope, their
// payloads (documented in docs/events.md, their JSON Schema in docs/event-schemas.json) and their IDs.
import { z } from 'zod';

const Id = z.string().min(1).max(100);

export const OrderCompletedV1 = z.object({
  orderId: Id,
  tenantId: z.string().min(1).max(100),
  totalCents: z.number().int().nonnegative(),
  currency: z.string().length(3),
  items: z.array(z.object({ sku: z.string().min(1), quantity: z.number().int().positive() })).min(1),
});
export const OrderCompensatedV1 = z.object({
  orderId: Id,
  tenantId: z.string().min(1).max(100),
  reason: z.string().max(1000),
});
export const TransferCompletedV1 = z.object({ transferId: Id, from: Id, to: Id, amountCents: z.number().int().positive() });
export const TransferCompensatedV1 = z.object({ transferId: Id, from: Id, to: Id, amountCents: z.number().int().positive(), reason: z.string().max(1000) });

/** Payload schema by event type (all at version 1). */
export const EVENT_PAYLOADS = {
  'order.completed': OrderCompletedV1,
  'order.compensated': OrderCompensatedV1,
  'transfer.completed': TransferCompletedV1,
  'transfer.compensated': TransferCompensatedV1,
} as const;
export type EventType = keyof typeof EVENT_PAYLOADS;
export const EVENT_VERSION = 1;

const envelope = <T extends EventType>(type: T) =>
  z.object({
    eventId: z.string().min(1).max(400),
    type: z.literal(type),
    version: z.literal(EVENT_VERSION),
    /** The saga's workflow ID: the event ID is derived from it. */
    workflowId: z.string().min(1).max(300),
    occurredAt: z.iso.datetime({ offset: true }),
    payload: EVENT_PAYLOADS[type],
  });

/** What goes over the broker: the envelope with its payload, one schema per type. */
export const SagaEvent = z.discriminatedUnion('type', [
  envelope('order.completed'),
  envelope('order.compensated'),
  envelope('transfer.completed'),
  envelope('transfer.compensated'),
]);
export type SagaEvent = z.infer<typeof SagaEvent>;
export type EventPayload<T extends EventType> = z.infer<(typeof EVENT_PAYLOADS)[T]>;

/** The one place event IDs are made: the saga's workflow ID and the transition, so a retry writes the same ID. */
export function eventId(workflowId: string, type: EventType): string {
  return `${workflowId}:${type}`;
}

/** The JSON Schema of every event, as documented in docs/event-schemas.json (a test keeps them equal). */
export function eventJsonSchemas(): Record<EventType, unknown> {
  return Object.fromEntries(SagaEvent.options.map((o) => [o.shape.type.value, z.toJSONSchema(o, { io: 'input' })])) as Record<EventType, unknown>;
}
