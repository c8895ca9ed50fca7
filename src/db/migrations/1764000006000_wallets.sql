-- Up Migration
-- Wallets and their ledger, for the transfer saga (workflows/transfer.ts): a second user of the saga
-- helper and the idempotency store. The idempotency key is the first line of defence against applying
-- a step twice; UNIQUE (transfer_id, wallet_id, kind) on the ledger is the second.

CREATE TABLE wallets (
  id             text   PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 100),
  balance_cents  bigint NOT NULL CHECK (balance_cents >= 0)
);

CREATE TABLE ledger_entries (
  id            bigserial   PRIMARY KEY,
  transfer_id   text        NOT NULL CHECK (length(transfer_id) BETWEEN 1 AND 100),
  wallet_id     text        NOT NULL REFERENCES wallets (id),
  -- Negative for a debit (and for the reversal of a credit), positive for a credit.
  amount_cents  bigint      NOT NULL CHECK (amount_cents <> 0),
  kind          text        NOT NULL CHECK (kind IN ('debit', 'credit', 'debit-reversal', 'credit-reversal')),
  created_at    timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT ledger_entries_natural_key UNIQUE (transfer_id, wallet_id, kind)
);

CREATE INDEX ledger_entries_wallet_idx ON ledger_entries (wallet_id);

-- Down Migration
DROP TABLE ledger_entries;
DROP TABLE wallets;
