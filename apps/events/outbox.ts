// Writing to the transactional outbox: always on the caller's transaction client, so the event commits
// with the state change it announces, or not at all.
import type { PoolClient } from 'pg';
import { EVENT_PAYLOADS, EVENT_VERSION, eventId, type EventPayload, type EventType } from './events';

export type OutboxEvent<T extends EventType> = { workflowId: string; type: T; aggregateId: string; payload: EventPayload<T> };

/**
 * Appends the event of one terminal transition. Validates the payload (a bad one fails the step, and
 * with it the transition). A second append of the same transition is a no-op (the ID is derived, not
 * random). Returns the event ID.
 */
export async function appendEvent<T extends EventType>(client: PoolClient, event: OutboxEvent<T>): Promise<string> {
  const payload = EVENT_PAYLOADS[event.type].parse(event.payload);
  const id = eventId(event.workflowId, event.type);
  await client.query(
    `INSERT INTO outbox_events (event_id, type, version, aggregate_id, payload, workflow_id)
     VALUES ($1, $2, $3, $4, $5::jsonb, $6) ON CONFLICT (event_id) DO NOTHING`,
    [id, event.type, EVENT_VERSION, event.aggregateId, JSON.stringify(payload), event.workflowId],
  );
  return id;
}
