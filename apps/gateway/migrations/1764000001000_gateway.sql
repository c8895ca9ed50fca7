-- Up Migration
-- The payment gateway's own records (DESIGN §7): an independent witness of double charges.

-- One row per idempotency key, ever: the natural-key witness that no key is charged twice.
CREATE TABLE gateway_charges (
  id               text        PRIMARY KEY,
  idempotency_key  text        NOT NULL,
  -- SHA-256 (hex) of the canonical JSON request; the same key with another fingerprint is refused.
  fingerprint      text        NOT NULL,
  amount           integer     NOT NULL,
  currency         text        NOT NULL,
  payment_token    text        NOT NULL,
  order_id         text,
  -- Current state; a pending charge is later resolved to succeeded (by the webhook sender).
  status           text        NOT NULL,
  decline_code     text,
  -- The first answer, byte for byte: every replay sends exactly this status and body.
  response_status  integer     NOT NULL,
  response_body    text        NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  resolved_at      timestamptz,
  CONSTRAINT gateway_charges_idempotency_key_key UNIQUE (idempotency_key),
  CONSTRAINT gateway_charges_status_check CHECK (status IN ('succeeded', 'declined', 'pending')),
  CONSTRAINT gateway_charges_amount_check CHECK (amount BETWEEN 1 AND 10000000),
  CONSTRAINT gateway_charges_currency_check CHECK (currency ~ '^[a-z]{3}$'),
  CONSTRAINT gateway_charges_key_check CHECK (idempotency_key ~ '^[\x20-\x7e]{1,255}$'),
  CONSTRAINT gateway_charges_decline_check CHECK ((status = 'declined') = (decline_code IS NOT NULL))
);

-- At most one refund per charge, always for the full amount.
CREATE TABLE gateway_refunds (
  id          text        PRIMARY KEY,
  charge_id   text        NOT NULL REFERENCES gateway_charges (id),
  amount      integer     NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT gateway_refunds_charge_id_key UNIQUE (charge_id),
  CONSTRAINT gateway_refunds_amount_check CHECK (amount > 0)
);

-- A refund-by-key that found no charge: a later charge with this key is refused (409 key_aborted).
CREATE TABLE gateway_key_tombstones (
  idempotency_key  text        PRIMARY KEY,
  created_at       timestamptz NOT NULL DEFAULT now()
);

-- Every valid POST /charges per key, counted before anything else: drives the per-attempt magic tokens.
CREATE TABLE gateway_key_attempts (
  idempotency_key  text        PRIMARY KEY,
  attempts         integer     NOT NULL,
  first_at         timestamptz NOT NULL DEFAULT now(),
  last_at          timestamptz NOT NULL DEFAULT now()
);

-- Signed webhook events; the body is stored as sent, so a redelivery is byte-identical.
CREATE TABLE gateway_webhook_events (
  id            text        PRIMARY KEY,
  type          text        NOT NULL,
  charge_id     text        NOT NULL REFERENCES gateway_charges (id),
  body          text        NOT NULL,
  attempts      integer     NOT NULL DEFAULT 0,
  last_status   integer,
  last_error    text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  delivered_at  timestamptz,
  -- One event per state change of a charge.
  CONSTRAINT gateway_webhook_events_charge_type_key UNIQUE (charge_id, type)
);

-- Down Migration
DROP TABLE gateway_webhook_events;
DROP TABLE gateway_key_attempts;
DROP TABLE gateway_key_tombstones;
DROP TABLE gateway_refunds;
DROP TABLE gateway_charges;
