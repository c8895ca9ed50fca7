-- Up Migration
-- Retention from the saga's life, not from the record's birth (DESIGN §10). A record that belongs to a
-- saga (saga_id set) has no expiry of its own: it lives while its saga is open, and its retention clock
-- starts when the saga closes (a row in idempotency_sagas). Records written before this migration keep
-- the expiry they had (saga_id NULL).
-- Written to run again on an adopted table that already has all of it (IF NOT EXISTS, drop-and-add).
ALTER TABLE idempotency_keys
  ADD COLUMN IF NOT EXISTS saga_id text CHECK (length(saga_id) BETWEEN 1 AND 255),
  ALTER COLUMN expires_at DROP NOT NULL,
  DROP CONSTRAINT IF EXISTS idempotency_keys_one_clock,
  -- Exactly one clock: a saga's records expire with their saga, every other record at expires_at.
  ADD CONSTRAINT idempotency_keys_one_clock CHECK ((saga_id IS NULL) <> (expires_at IS NULL));

CREATE INDEX IF NOT EXISTS idempotency_keys_saga_idx ON idempotency_keys (saga_id) WHERE saga_id IS NOT NULL;

-- One row per closed saga: written once, when the saga reaches a terminal state; never changed.
CREATE TABLE IF NOT EXISTS idempotency_sagas (
  saga_id     text        PRIMARY KEY CHECK (length(saga_id) BETWEEN 1 AND 255),
  outcome     text        NOT NULL CHECK (outcome ~ '^[A-Z][A-Z_]{0,63}$'),
  closed_at   timestamptz NOT NULL DEFAULT now(),
  -- closed_at + the retention of its records' scope: cleanup deletes the records after this.
  expires_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS idempotency_sagas_expires_at_idx ON idempotency_sagas (expires_at);

-- Down Migration
DROP TABLE idempotency_sagas;
-- Records of open sagas get a day's expiry back rather than being deleted.
UPDATE idempotency_keys SET expires_at = now() + interval '1 day' WHERE expires_at IS NULL;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_one_clock;
ALTER TABLE idempotency_keys ALTER COLUMN expires_at SET NOT NULL;
DROP INDEX idempotency_keys_saga_idx;
ALTER TABLE idempotency_keys DROP COLUMN saga_id;
