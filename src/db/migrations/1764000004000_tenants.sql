-- Up Migration
-- API tenants (DESIGN §8). Each API key maps to one tenant; only the key's SHA-256 (hex) is stored,
-- so a database leak does not leak usable keys. Keys are `sk_` + 32 random bytes (base64url).

CREATE TABLE tenants (
  id            text        PRIMARY KEY CHECK (id ~ '^ten_[A-Za-z0-9_-]{8,64}$'),
  name          text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  api_key_hash  text        NOT NULL UNIQUE CHECK (api_key_hash ~ '^[0-9a-f]{64}$'),
  created_at    timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE tenants;
