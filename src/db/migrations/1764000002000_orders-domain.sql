-- Up Migration
-- The order domain (DESIGN §6). Natural keys back the idempotency store up: an order per
-- workflow, a reservation per (order, product), a payment per order.

CREATE TABLE products (
  sku          text    PRIMARY KEY CHECK (sku ~ '^[A-Z0-9][A-Z0-9-]{0,63}$'),
  name         text    NOT NULL,
  price_cents  integer NOT NULL CHECK (price_cents > 0),
  -- on_hand + reserved + sold = total_stock for ever; the run's checks verify it.
  total_stock  integer NOT NULL CHECK (total_stock >= 0),
  on_hand      integer NOT NULL CHECK (on_hand >= 0),
  reserved     integer NOT NULL DEFAULT 0 CHECK (reserved >= 0),
  sold         integer NOT NULL DEFAULT 0 CHECK (sold >= 0)
);

CREATE TABLE orders (
  id              text        PRIMARY KEY,
  workflow_id     text        NOT NULL UNIQUE,
  tenant_id       text        NOT NULL,
  status          text        NOT NULL CHECK (status IN ('PENDING', 'COMPLETED', 'COMPENSATED', 'COMPENSATION_STUCK')),
  items           jsonb       NOT NULL,
  total_cents     integer     NOT NULL CHECK (total_cents > 0),
  currency        text        NOT NULL,
  failure_reason  text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT compensated_has_reason CHECK (status <> 'COMPENSATED' OR failure_reason IS NOT NULL)
);
CREATE INDEX orders_tenant_idx ON orders (tenant_id, created_at);

CREATE TABLE reservations (
  order_id    text        NOT NULL REFERENCES orders (id),
  sku         text        NOT NULL REFERENCES products (sku),
  quantity    integer     NOT NULL CHECK (quantity > 0),
  -- held until the order is confirmed (consumed) or compensated (released).
  status      text        NOT NULL CHECK (status IN ('held', 'released', 'consumed')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (order_id, sku)
);

CREATE TABLE payments (
  order_id         text        PRIMARY KEY REFERENCES orders (id),
  idempotency_key  text        NOT NULL UNIQUE,
  charge_id        text        NOT NULL UNIQUE,
  amount_cents     integer     NOT NULL CHECK (amount_cents > 0),
  currency         text        NOT NULL,
  status           text        NOT NULL CHECK (status IN ('captured', 'refunded')),
  refund_id        text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE payments;
DROP TABLE reservations;
DROP TABLE orders;
DROP TABLE products;
