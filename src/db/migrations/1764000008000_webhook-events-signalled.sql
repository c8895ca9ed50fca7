-- Up Migration
-- Payment webhooks without a transaction held open across the signal (src/api/webhook-events.ts):
-- the event row is committed first (claimed_at = now()), the saga is signalled, then signalled_at is
-- set. signalled_at NULL means "not applied yet": a redelivery takes the row over once its claim is
-- older than the claim window (or released, claimed_at NULL), and signals again.
-- Rows written before this migration were committed only after their signal: they count as signalled.

ALTER TABLE webhook_events
  ADD COLUMN claimed_at   timestamptz,
  ADD COLUMN signalled_at timestamptz;

UPDATE webhook_events SET claimed_at = received_at, signalled_at = received_at;

ALTER TABLE webhook_events ALTER COLUMN claimed_at SET DEFAULT now();

-- Pruning by age (pruneWebhookEvents) walks this index in bounded batches.
CREATE INDEX webhook_events_received_at_idx ON webhook_events (received_at);

-- Down Migration
DROP INDEX webhook_events_received_at_idx;
ALTER TABLE webhook_events
  DROP COLUMN signalled_at,
  DROP COLUMN claimed_at;
