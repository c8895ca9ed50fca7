-- Up Migration
-- The shipping service's own tables (an example consumer of the saga events, docs/events.md): its inbox
-- and its effects, apart from the order app's schema and with their own migrations table.

-- One row per event this service applied, written in the transaction of its effect: a redelivered or
-- re-published event finds its ID here and is acknowledged without being applied again.
CREATE TABLE shipping_inbox (
  event_id    text        PRIMARY KEY CHECK (length(event_id) BETWEEN 1 AND 400),
  type        text        NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now()
);
-- What retention deletes by (db:cleanup, INBOX_RETENTION_SECONDS).
CREATE INDEX shipping_inbox_received_at_idx ON shipping_inbox (received_at);

-- What shipping does: one shipment per completed order, one cancellation per compensated order. Deliberately
-- no unique constraint on (order_id, kind): the inbox is the only guard, so an event applied twice shows
-- here as a second row (the chaos run's eventsAppliedTwice).
CREATE TABLE shipping_actions (
  id          bigserial   PRIMARY KEY,
  order_id    text        NOT NULL,
  kind        text        NOT NULL CHECK (kind IN ('shipment', 'cancellation')),
  event_id    text        NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX shipping_actions_order_idx ON shipping_actions (order_id);

-- Down Migration
DROP TABLE shipping_actions;
DROP TABLE shipping_inbox;
