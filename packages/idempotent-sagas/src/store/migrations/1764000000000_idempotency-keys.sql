-- Up Migration
-- One row per (scope, key): the idempotency record every effect writes through (DESIGN §3).
-- IF NOT EXISTS: a database whose application created the table before the library had its own
-- migration set adopts it; the next migrations bring it to the same shape either way.
CREATE TABLE IF NOT EXISTS idempotency_keys (
  scope            text        NOT NULL,
  key              text        NOT NULL,
  -- SHA-256 (hex) of the canonical JSON request; NULL only for a tombstone written before any request.
  fingerprint      text,
  status           text        NOT NULL,
  result           jsonb,
  error            jsonb,
  lease_owner      text,
  -- Fencing epoch: bumped by every claim or takeover; only the current epoch may write an outcome.
  lease_epoch      bigint      NOT NULL DEFAULT 0,
  lease_expires_at timestamptz,
  attempts         integer     NOT NULL DEFAULT 0,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  completed_at     timestamptz,
  expires_at       timestamptz NOT NULL,
  PRIMARY KEY (scope, key),
  CONSTRAINT idempotency_keys_status_check
    CHECK (status IN ('in_progress', 'completed', 'failed', 'aborted', 'compensated')),
  CONSTRAINT idempotency_keys_key_check
    CHECK (key ~ '^[\x20-\x7e]{1,255}$'),
  CONSTRAINT idempotency_keys_scope_check
    CHECK (scope ~ '^[a-z][a-z0-9_.:-]{0,63}$')
);

-- Expiry-ordered cleanup walks this index in bounded batches.
CREATE INDEX IF NOT EXISTS idempotency_keys_expires_at_idx ON idempotency_keys (expires_at);

-- Down Migration
DROP TABLE idempotency_keys;
