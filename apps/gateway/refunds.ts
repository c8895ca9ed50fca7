// Refunds: at most one per charge, always the full amount; a refund-by-key that finds no charge tombstones the key.
import type { Pool, PoolClient } from 'pg';
import { withTransaction } from 'idempotent-sagas/store';
import type { ChargeRow } from './charges';
import { newId } from './ids';
import { lockKey } from './key-lock';
import type { RefundRequest, RefundResult } from './schemas';

export type RefundOutcome = { kind: 'result'; created: boolean; result: RefundResult } | { kind: 'charge_not_found' };

type RefundRow = { id: string; charge_id: string; amount: number; created_at: Date };

/** Refunds the charge named by id or by idempotency key; repeating it returns the same refund. */
export function refundOnce(pool: Pool, request: RefundRequest): Promise<RefundOutcome> {
  return withTransaction(pool, async (client): Promise<RefundOutcome> => {
    let charge: ChargeRow | undefined;
    if ('idempotencyKey' in request) {
      // The key's lock orders this against a concurrent charge: either the charge is seen, or it sees the tombstone.
      await lockKey(client, request.idempotencyKey);
      charge = await selectCharge(client, 'idempotency_key', request.idempotencyKey);
      if (!charge) {
        await client.query('INSERT INTO gateway_key_tombstones (idempotency_key) VALUES ($1) ON CONFLICT DO NOTHING', [request.idempotencyKey]);
        return {
          kind: 'result',
          created: false,
          result: { status: 'no_charge', tombstoned: true, idempotencyKey: request.idempotencyKey },
        };
      }
    } else {
      charge = await selectCharge(client, 'id', request.chargeId);
      if (!charge) return { kind: 'charge_not_found' };
    }
    if (charge.status === 'declined') {
      return {
        kind: 'result',
        created: false,
        result: { status: 'not_charged', chargeId: charge.id, idempotencyKey: charge.idempotency_key, chargeStatus: 'declined' },
      };
    }
    // A pending charge is refunded too: whatever the webhook later decides, the net charge is zero.
    const inserted = await client.query<RefundRow>(
      `INSERT INTO gateway_refunds (id, charge_id, amount) VALUES ($1, $2, $3)
       ON CONFLICT (charge_id) DO NOTHING RETURNING *`,
      [newId('re'), charge.id, charge.amount],
    );
    const row = inserted.rows[0] ?? (await client.query<RefundRow>('SELECT * FROM gateway_refunds WHERE charge_id = $1', [charge.id])).rows[0];
    if (!row) throw new Error(`refund of charge ${charge.id} conflicted but cannot be read`);
    const created = inserted.rows.length === 1;
    return {
      kind: 'result',
      created,
      result: {
        status: 'refunded',
        refundId: row.id,
        chargeId: row.charge_id,
        amount: row.amount,
        currency: charge.currency,
        createdAt: row.created_at.toISOString(),
        created,
        idempotencyKey: charge.idempotency_key,
      },
    };
  });
}

/** Locks the charge row so concurrent refunds of one charge queue behind each other. */
async function selectCharge(client: PoolClient, column: 'id' | 'idempotency_key', value: string): Promise<ChargeRow | undefined> {
  const { rows } = await client.query<ChargeRow>(`SELECT * FROM gateway_charges WHERE ${column} = $1 FOR UPDATE`, [value]);
  return rows[0];
}
