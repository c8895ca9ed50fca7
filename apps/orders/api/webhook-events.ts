// The `webhook_events` table (migrations 1764000005000, 1764000008000): one statement per function,
// each autocommitted, so no connection is held across the saga's signal.
//
// A row's life: recorded (claimed_at = now(), signalled_at NULL) → signalled (signalled_at set).
// Invariants: signalled_at is set only after the saga was signalled (or found closed), and never
// cleared; a row with signalled_at NULL is taken over only when its claim is released (claimed_at
// NULL) or older than the claim window, so at most one handler signals at a time.
import type { Pool, PoolClient } from 'pg';
import { type PruneOptions, pruneInBatches } from '../../../src/db/prune';

type Queryable = Pool | PoolClient;

export type WebhookEventRecord = { eventId: string; type: string; chargeId: string; idempotencyKey: string };

/** Inserts the event, claimed now; false when its ID is already recorded (nothing changed). */
export async function recordWebhookEvent(db: Queryable, event: WebhookEventRecord): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO webhook_events (event_id, type, charge_id, idempotency_key, claimed_at) VALUES ($1, $2, $3, $4, now())
     ON CONFLICT (event_id) DO NOTHING`,
    [event.eventId, event.type, event.chargeId, event.idempotencyKey],
  );
  return rowCount === 1;
}

/**
 * Takes over a recorded, not yet signalled event whose claim was released or is older than
 * `claimWindowSeconds` (its handler crashed, or its signal failed); true when this caller now holds it.
 */
export async function takeOverWebhookEvent(db: Queryable, eventId: string, claimWindowSeconds: number): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE webhook_events SET claimed_at = now()
      WHERE event_id = $1 AND signalled_at IS NULL
        AND (claimed_at IS NULL OR claimed_at <= now() - $2 * interval '1 second')`,
    [eventId, claimWindowSeconds],
  );
  return rowCount === 1;
}

export type WebhookEventState = {
  signalled: boolean;
  /** Seconds until a live claim may be taken over (0 when released or expired). */
  claimExpiresInSeconds: number;
};

/** Where a recorded event stands; undefined when its ID is not recorded (e.g. pruned meanwhile). */
export async function readWebhookEvent(db: Queryable, eventId: string, claimWindowSeconds: number): Promise<WebhookEventState | undefined> {
  const { rows } = await db.query<{ signalled: boolean; expires_in: number | string }>(
    `SELECT signalled_at IS NOT NULL AS signalled,
            coalesce(greatest(0, extract(epoch FROM claimed_at + $2 * interval '1 second' - now())), 0) AS expires_in
       FROM webhook_events WHERE event_id = $1`,
    [eventId, claimWindowSeconds],
  );
  const row = rows[0];
  return row && { signalled: row.signalled, claimExpiresInSeconds: Number(row.expires_in) };
}

/** Records that the event was applied (signalled, or its saga found closed); false when it already was. */
export async function markWebhookEventSignalled(db: Queryable, eventId: string): Promise<boolean> {
  const { rowCount } = await db.query(`UPDATE webhook_events SET signalled_at = now() WHERE event_id = $1 AND signalled_at IS NULL`, [eventId]);
  return rowCount === 1;
}

/** Gives up a claim after a failed signal, so the next redelivery takes the event over at once. */
export async function releaseWebhookEventClaim(db: Queryable, eventId: string): Promise<boolean> {
  const { rowCount } = await db.query(`UPDATE webhook_events SET claimed_at = NULL WHERE event_id = $1 AND signalled_at IS NULL`, [eventId]);
  return rowCount === 1;
}

/** Deletes at most `limit` events received, and last claimed, more than `olderThanSeconds` ago. */
export async function deleteOldWebhookEventsBatch(db: Queryable, olderThanSeconds: number, limit: number): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM webhook_events e USING (
        SELECT event_id FROM webhook_events
         WHERE received_at < now() - $1 * interval '1 second'
           AND (claimed_at IS NULL OR claimed_at < now() - $1 * interval '1 second')
         ORDER BY received_at LIMIT $2 FOR UPDATE SKIP LOCKED) doomed
      WHERE e.event_id = doomed.event_id`,
    [olderThanSeconds, limit],
  );
  return rowCount ?? 0;
}

/**
 * Prunes `webhook_events` older than the retention, `batchSize` rows per statement, until a batch
 * comes back short (or after `maxBatches`); returns how many rows were deleted. A redelivery of a
 * pruned event is recorded and signalled again, which the saga ignores (it acts on the first signal),
 * so the retention should outlast the gateway's redeliveries (config.webhookEventsRetentionSeconds).
 */
export function pruneWebhookEvents(pool: Pool, opts: PruneOptions): Promise<number> {
  return pruneInBatches(pool, opts, deleteOldWebhookEventsBatch);
}
