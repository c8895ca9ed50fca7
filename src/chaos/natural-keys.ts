// `npm run chaos -- --no-natural-keys`: the run's database loses the unique constraints that back the
// idempotency store up (DESIGN §6, "natural keys ... a second line of defence"), so a store failure
// becomes a visible duplicate row that the invariants count, instead of an error the constraint absorbs.
import type { Pool } from 'pg';

/** The constraints dropped, each with what it guarantees. Orders keep their primary key: it is the order's identity, referenced by every other table. */
export const NATURAL_KEY_CONSTRAINTS: ReadonlyArray<{ table: string; constraint: string; guarantees: string }> = [
  { table: 'reservations', constraint: 'reservations_pkey', guarantees: 'one reservation per (order, product)' },
  { table: 'payments', constraint: 'payments_pkey', guarantees: 'one payment per order' },
  { table: 'payments', constraint: 'payments_idempotency_key_key', guarantees: 'one payment per charge key' },
  { table: 'payments', constraint: 'payments_charge_id_key', guarantees: 'one payment per gateway charge' },
  { table: 'orders', constraint: 'orders_workflow_id_key', guarantees: 'one order per saga' },
  { table: 'ledger_entries', constraint: 'ledger_entries_natural_key', guarantees: 'one ledger row per (transfer, wallet, kind)' },
];

/** Drops every natural-key constraint from the run's (freshly migrated) database. */
export async function dropNaturalKeys(pool: Pool): Promise<void> {
  for (const { table, constraint } of NATURAL_KEY_CONSTRAINTS) {
    await pool.query(`ALTER TABLE ${table} DROP CONSTRAINT ${constraint}`);
  }
}
