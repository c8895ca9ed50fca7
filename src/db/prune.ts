// Retention deletes in bounded batches: one statement per batch (each takes the age and the batch size),
// until a batch comes back short or after `maxBatches`. Used for webhook events, outbox and inbox rows.
import type { Pool } from 'pg';
import { InvalidInputError } from 'idempotent-sagas/store';

export type PruneOptions = { olderThanSeconds: number; batchSize: number; maxBatches?: number };

/** Runs `deleteBatch(pool, olderThanSeconds, batchSize)` until a batch deletes fewer than `batchSize`; returns the rows deleted. */
export async function pruneInBatches(
  pool: Pool,
  opts: PruneOptions,
  deleteBatch: (pool: Pool, olderThanSeconds: number, limit: number) => Promise<number>,
): Promise<number> {
  if (!Number.isFinite(opts.olderThanSeconds) || opts.olderThanSeconds <= 0) throw new InvalidInputError('olderThanSeconds', 'must be a positive number');
  if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) throw new InvalidInputError('batchSize', 'must be a positive integer');
  let deleted = 0;
  for (let batches = 0; opts.maxBatches === undefined || batches < opts.maxBatches; batches += 1) {
    const n = await deleteBatch(pool, opts.olderThanSeconds, opts.batchSize);
    deleted += n;
    if (n < opts.batchSize) break;
  }
  return deleted;
}

/** A batch of one DELETE statement whose $1 is the age in seconds and $2 the batch size. */
export function deleteStatement(sql: string): (pool: Pool, olderThanSeconds: number, limit: number) => Promise<number> {
  return async (pool, olderThanSeconds, limit) => (await pool.query(sql, [olderThanSeconds, limit])).rowCount ?? 0;
}
