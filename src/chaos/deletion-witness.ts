// Chaos's witness of cleanup, kept apart from the store it watches (and from the migration runner, so tests can load it).
import type { Pool } from 'pg';

/**
 * A witness of cleanup, apart from the store: every deleted idempotency record is logged with whether
 * its saga was still open at that moment (its order not COMPLETED/COMPENSATED; for a saga that never
 * created an order, no close recorded). `liveRecordsDeleted` counts the open ones; it must stay 0.
 */
export async function installDeletionWitness(pool: Pool): Promise<void> {
  await pool.query(`
    CREATE TABLE chaos_deleted_records (scope text NOT NULL, key text NOT NULL, saga_id text, status text NOT NULL, lease_epoch bigint NOT NULL, live boolean NOT NULL, deleted_at timestamptz NOT NULL DEFAULT clock_timestamp());
    CREATE FUNCTION chaos_witness_delete() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO chaos_deleted_records (scope, key, saga_id, status, lease_epoch, live) VALUES (OLD.scope, OLD.key, OLD.saga_id, OLD.status, OLD.lease_epoch,
          OLD.saga_id IS NOT NULL AND CASE
            WHEN EXISTS (SELECT 1 FROM orders o WHERE o.workflow_id = OLD.saga_id)
              THEN NOT EXISTS (SELECT 1 FROM orders o WHERE o.workflow_id = OLD.saga_id AND o.status IN ('COMPLETED', 'COMPENSATED'))
            ELSE NOT EXISTS (SELECT 1 FROM idempotency_sagas s WHERE s.saga_id = OLD.saga_id)
          END);
        RETURN OLD;
      END $$;
    CREATE TRIGGER chaos_witness_delete AFTER DELETE ON idempotency_keys FOR EACH ROW EXECUTE FUNCTION chaos_witness_delete();`);
}

/** Deleted records, and those whose saga was open when they went (the witness's count). */
export async function deletionWitness(pool: Pool): Promise<{ deleted: number; live: number; liveExamples: string[] }> {
  const { rows } = await pool.query<{ deleted: string; live: string; examples: string[] | null }>(
    `SELECT count(*) AS deleted, count(*) FILTER (WHERE live) AS live, (array_agg(key) FILTER (WHERE live))[1:3] AS examples FROM chaos_deleted_records`,
  );
  return { deleted: Number(rows[0]?.deleted ?? 0), live: Number(rows[0]?.live ?? 0), liveExamples: rows[0]?.examples ?? [] };
}

/**
 * Interrupted work that was taken over: forward step records completed at a later epoch than the
 * first claim (a lease that lapsed with its worker, or an ambiguous answer released), counted over the
 * records still there and those cleanup deleted. A compensation's fence also bumps the epoch, but
 * leaves its record `compensated`, so it is not counted.
 */
export async function takeoverWitness(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(
    `SELECT (SELECT count(*) FROM idempotency_keys WHERE scope = 'step' AND status = 'completed' AND lease_epoch > 1)
          + (SELECT count(*) FROM chaos_deleted_records WHERE scope = 'step' AND status = 'completed' AND lease_epoch > 1) AS n`,
  );
  return Number(rows[0]?.n ?? 0);
}
