// A payment provider that honours idempotency keys, kept in Postgres so that what it applied survives a
// crashed caller. Tokens steer it: tok_decline is declined; any token charges after `answerDelayMs`.
import type { Pool } from 'pg';

export type ProviderCharge = { chargeId: string; amountCents: number; status: 'captured' | 'declined' | 'refunded' };

export type PaymentProvider = {
  /** Charges once per key; a repeated key answers from the stored charge. Throws for a key voided by a refund. */
  charge(key: string, req: { bookingId: string; amountCents: number; paymentToken: string }): Promise<ProviderCharge>;
  /** The charge held under `key`, if any. */
  lookup(key: string): Promise<ProviderCharge | undefined>;
  /** Refunds a charge (by ID, or by key: a key never charged is voided). Idempotent; says whether a charge was refunded. */
  refund(target: { chargeId: string } | { key: string }): Promise<{ refunded: boolean }>;
};

type Row = { id: string; amount_cents: string; status: ProviderCharge['status'] | 'voided' };
const view = (r: Row): ProviderCharge | undefined =>
  r.status === 'voided' ? undefined : { chargeId: `ch_${r.id}`, amountCents: Number(r.amount_cents), status: r.status };

export function createPaymentProvider(pool: Pool, opts: { answerDelayMs?: number } = {}): PaymentProvider {
  return {
    async charge(key, req) {
      await pool.query(`INSERT INTO provider_calls (idempotency_key) VALUES ($1)`, [key]);
      const status = req.paymentToken === 'tok_decline' ? 'declined' : 'captured';
      await pool.query(
        `INSERT INTO provider_charges (idempotency_key, booking_id, amount_cents, status) VALUES ($1, $2, $3, $4) ON CONFLICT (idempotency_key) DO NOTHING`,
        [key, req.bookingId, req.amountCents, status],
      );
      // Applied and committed; the answer may still be lost on its way back (a crash of the caller).
      if (opts.answerDelayMs) await new Promise((r) => setTimeout(r, opts.answerDelayMs));
      const { rows } = await pool.query<Row>(`SELECT id, amount_cents, status FROM provider_charges WHERE idempotency_key = $1`, [key]);
      const charge = rows[0] && view(rows[0]);
      if (!charge) throw new ProviderRefusal(`key ${key} was voided by a refund; no charge`);
      return charge;
    },
    async lookup(key) {
      const { rows } = await pool.query<Row>(`SELECT id, amount_cents, status FROM provider_charges WHERE idempotency_key = $1`, [key]);
      return rows[0] && view(rows[0]);
    },
    async refund(target) {
      if ('chargeId' in target) {
        const { rowCount } = await pool.query(`UPDATE provider_charges SET status = 'refunded' WHERE id = $1 AND status IN ('captured', 'refunded')`, [
          target.chargeId.replace(/^ch_/, ''),
        ]);
        return { refunded: rowCount === 1 };
      }
      await pool.query(`INSERT INTO provider_charges (idempotency_key, amount_cents, status) VALUES ($1, 0, 'voided') ON CONFLICT DO NOTHING`, [target.key]);
      const { rowCount } = await pool.query(
        `UPDATE provider_charges SET status = 'refunded' WHERE idempotency_key = $1 AND status IN ('captured', 'refunded')`,
        [target.key],
      );
      return { refunded: rowCount === 1 };
    },
  };
}

/** The provider refused the request for good. */
export class ProviderRefusal extends Error {
  override readonly name = 'ProviderRefusal';
}
