-- Up Migration
-- The transactional outbox (docs/events.md): each terminal transition of an order or a wallet transfer
-- writes its event here in the same transaction as the state change, so an event exists if and only
-- if the change committed. The relay (apps/events/relay.ts) publishes rows in seq order and marks them.
CREATE TABLE outbox_events (
  -- Publication order: the relay publishes unpublished rows by ascending seq.
  seq           bigserial   PRIMARY KEY,
  -- Derived from the workflow ID and the transition, never random: `${workflowId}:${type}`. The broker
  -- deduplicates on it (Nats-Msg-Id) and consumers record it in their inbox.
  event_id      text        NOT NULL UNIQUE CHECK (length(event_id) BETWEEN 1 AND 400),
  type          text        NOT NULL CHECK (type IN ('order.completed', 'order.compensated', 'transfer.completed', 'transfer.compensated')),
  version       integer     NOT NULL CHECK (version >= 1),
  -- The saga that made the transition.
  workflow_id   text        NOT NULL CHECK (length(workflow_id) BETWEEN 1 AND 300),
  -- The order ID or transfer ID the event is about.
  aggregate_id  text        NOT NULL CHECK (length(aggregate_id) BETWEEN 1 AND 100),
  payload       jsonb       NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  -- Set once the broker acknowledged the publication; NULL while the event waits.
  published_at  timestamptz,
  -- Publication attempts that did not end in an acknowledgement being recorded (a relay crash or a broker error).
  attempts      integer     NOT NULL DEFAULT 0
);

-- What the relay reads, and the outbox lag (oldest unpublished event).
CREATE INDEX outbox_events_unpublished_idx ON outbox_events (seq) WHERE published_at IS NULL;

-- Down Migration
DROP TABLE outbox_events;
