// The example's own tables (the store's come from idempotent-sagas/store's migrate), and the seats of a show.
import type { Pool } from 'pg';

const TABLES = `
  CREATE TABLE IF NOT EXISTS seats (show_id text NOT NULL, seat_no text NOT NULL, PRIMARY KEY (show_id, seat_no));
  -- No unique key on purpose: a hold applied twice would show as extra rows, which the tests count.
  CREATE TABLE IF NOT EXISTS seat_holds (
    id bigserial PRIMARY KEY, booking_id text NOT NULL, show_id text NOT NULL, seat_no text NOT NULL,
    released_at timestamptz, ticketed_at timestamptz);
  CREATE TABLE IF NOT EXISTS tickets (id bigserial PRIMARY KEY, booking_id text NOT NULL, show_id text NOT NULL, seat_no text NOT NULL);
  -- The payment provider's own table (it lives elsewhere in real life): one charge per idempotency key.
  CREATE TABLE IF NOT EXISTS provider_charges (
    id bigserial PRIMARY KEY, idempotency_key text NOT NULL UNIQUE, booking_id text,
    amount_cents bigint NOT NULL, status text NOT NULL CHECK (status IN ('captured', 'declined', 'refunded', 'voided')));
  -- Every charge request the provider received, applied or not: the tests count calls, not just rows.
  CREATE TABLE IF NOT EXISTS provider_calls (id bigserial PRIMARY KEY, idempotency_key text NOT NULL, at timestamptz NOT NULL DEFAULT now());
`;

/** Creates the example's tables (idempotent). */
export async function createTables(pool: Pool): Promise<void> {
  await pool.query(TABLES);
}

/** Adds a show's seats (idempotent). */
export async function addSeats(pool: Pool, showId: string, seats: string[]): Promise<void> {
  await pool.query(`INSERT INTO seats (show_id, seat_no) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`, [showId, seats]);
}
