-- Up Migration
-- Payment webhooks received by the API (DESIGN §8): one row per gateway event ID, written before the
-- saga is signalled. A redelivery finds its row and is acknowledged; the saga waits only for the first
-- signal, so signalling again after a crash between the insert and the signal applies nothing twice.

CREATE TABLE webhook_events (
  event_id         text        PRIMARY KEY CHECK (length(event_id) BETWEEN 1 AND 255),
  type             text        NOT NULL CHECK (length(type) BETWEEN 1 AND 100),
  charge_id        text        NOT NULL CHECK (length(charge_id) BETWEEN 1 AND 255),
  idempotency_key  text        NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
  received_at      timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE webhook_events;
