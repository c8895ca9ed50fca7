// Counts for tests and operators; `duplicateKeys` and `duplicateRefunds` must always be 0.
import type { Pool } from 'pg';

export type GatewayStats = {
  charges: number;
  chargesByStatus: { succeeded: number; declined: number; pending: number };
  refunds: number;
  tombstones: number;
  attempts: number;
  webhookEvents: number;
  webhookEventsDelivered: number;
  /** Idempotency keys holding more than one charge (counted, not assumed from the unique index). */
  duplicateKeys: number;
  /** Charges holding more than one refund. */
  duplicateRefunds: number;
};

export async function gatewayStats(pool: Pool): Promise<GatewayStats> {
  const { rows } = await pool.query<Record<string, string>>(`
    SELECT
      (SELECT count(*) FROM gateway_charges) AS charges,
      (SELECT count(*) FROM gateway_charges WHERE status = 'succeeded') AS succeeded,
      (SELECT count(*) FROM gateway_charges WHERE status = 'declined') AS declined,
      (SELECT count(*) FROM gateway_charges WHERE status = 'pending') AS pending,
      (SELECT count(*) FROM gateway_refunds) AS refunds,
      (SELECT count(*) FROM gateway_key_tombstones) AS tombstones,
      (SELECT coalesce(sum(attempts), 0) FROM gateway_key_attempts) AS attempts,
      (SELECT count(*) FROM gateway_webhook_events) AS webhook_events,
      (SELECT count(*) FROM gateway_webhook_events WHERE delivered_at IS NOT NULL) AS webhook_delivered,
      (SELECT count(*) FROM (SELECT 1 FROM gateway_charges GROUP BY idempotency_key HAVING count(*) > 1) d) AS duplicate_keys,
      (SELECT count(*) FROM (SELECT 1 FROM gateway_refunds GROUP BY charge_id HAVING count(*) > 1) d) AS duplicate_refunds`);
  const r = rows[0]!;
  const n = (name: string): number => Number(r[name]);
  return {
    charges: n('charges'),
    chargesByStatus: { succeeded: n('succeeded'), declined: n('declined'), pending: n('pending') },
    refunds: n('refunds'),
    tombstones: n('tombstones'),
    attempts: n('attempts'),
    webhookEvents: n('webhook_events'),
    webhookEventsDelivered: n('webhook_delivered'),
    duplicateKeys: n('duplicate_keys'),
    duplicateRefunds: n('duplicate_refunds'),
  };
}
