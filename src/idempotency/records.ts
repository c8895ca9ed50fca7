// One function per statement on idempotency_keys. Callers pass the client (pool or transaction).
//
// Statements are named (node-postgres prepares a named statement once per connection, then only
// binds and executes it): `npm run bench:store` measured parse and plan as a large share of the
// store's server time per call. Invariants: a name always carries the same text (node-postgres
// refuses a name reused for other text); the same statements run in the same order and in the
// same transactions as unnamed ones would, and a protocol-level prepared statement is not undone
// by ROLLBACK. A transaction-mode pooler in front of Postgres must support prepared statements
// (PgBouncer 1.21+ with max_prepared_statements).
import type { Pool, PoolClient } from 'pg';

export type Queryable = Pool | PoolClient;

export type RecordStatus = 'in_progress' | 'completed' | 'failed' | 'aborted' | 'compensated';

export type StoredFailure = { type: string; message: string; details: Record<string, unknown> };

export type IdempotencyRecord = {
  fingerprint: string | null;
  status: RecordStatus;
  result: unknown;
  error: StoredFailure | null;
  epoch: number;
  leaseOwner: string | null;
  /** Milliseconds left on the lease; 0 when there is none or it has run out. */
  leaseMsLeft: number;
  attempts: number;
  /** The record is past expires_at: it no longer deduplicates. */
  expired: boolean;
};

type RecordRow = {
  fingerprint: string | null;
  status: RecordStatus;
  result: unknown;
  error: StoredFailure | null;
  lease_epoch: string;
  lease_owner: string | null;
  lease_ms_left: number;
  attempts: number;
  expired: boolean;
};

const RECORD_COLUMNS = `fingerprint, status, result, error, lease_epoch, lease_owner, attempts,
  COALESCE(GREATEST(0, CEIL(EXTRACT(EPOCH FROM (lease_expires_at - now())) * 1000)), 0)::int AS lease_ms_left,
  expires_at <= now() AS expired`;

function toRecord(row: RecordRow): IdempotencyRecord {
  return {
    fingerprint: row.fingerprint,
    status: row.status,
    result: row.result,
    error: row.error,
    epoch: Number(row.lease_epoch),
    leaseOwner: row.lease_owner,
    leaseMsLeft: row.lease_ms_left,
    attempts: row.attempts,
    expired: row.expired,
  };
}

export async function selectRecord(
  db: Queryable,
  scope: string,
  key: string,
  lock: 'none' | 'for update' = 'none',
): Promise<IdempotencyRecord | undefined> {
  const { rows } = await db.query<RecordRow>({
    name: lock === 'for update' ? 'idem_select_record_for_update' : 'idem_select_record',
    text: `SELECT ${RECORD_COLUMNS} FROM idempotency_keys WHERE scope = $1 AND key = $2 ${lock === 'for update' ? 'FOR UPDATE' : ''}`,
    values: [scope, key],
  });
  return rows[0] && toRecord(rows[0]);
}

/**
 * Claims a key for a local effect: inserts it `in_progress`, or resets a record that has
 * expired. Returns false (with the existing row now locked) when a live record is there.
 */
export async function claimLocal(
  db: Queryable,
  scope: string,
  key: string,
  fingerprint: string,
  ttlSeconds: number,
): Promise<boolean> {
  const { rowCount } = await db.query({
    name: 'idem_claim_local',
    text: `INSERT INTO idempotency_keys AS k (scope, key, fingerprint, status, attempts, expires_at)
     VALUES ($1, $2, $3, 'in_progress', 1, now() + make_interval(secs => $4))
     ON CONFLICT (scope, key) DO UPDATE
       SET fingerprint = EXCLUDED.fingerprint, status = 'in_progress', result = NULL, error = NULL,
           lease_owner = NULL, lease_epoch = 0, lease_expires_at = NULL, attempts = 1,
           created_at = now(), updated_at = now(), completed_at = NULL, expires_at = EXCLUDED.expires_at
       WHERE k.expires_at <= now()`,
    values: [scope, key, fingerprint, ttlSeconds],
  });
  return rowCount === 1;
}

/** Stores the outcome of a local effect claimed in the same transaction. */
export async function finishLocal(
  db: Queryable,
  scope: string,
  key: string,
  outcome: { status: 'completed'; resultJson: string } | { status: 'failed'; errorJson: string },
): Promise<void> {
  await db.query({
    name: 'idem_finish_local',
    text: `UPDATE idempotency_keys
        SET status = $3, result = $4::jsonb, error = $5::jsonb, completed_at = now(), updated_at = now()
      WHERE scope = $1 AND key = $2`,
    values: [
      scope,
      key,
      outcome.status,
      outcome.status === 'completed' ? outcome.resultJson : null,
      outcome.status === 'failed' ? outcome.errorJson : null,
    ],
  });
}

/**
 * Deletes a local claim that committed on its own because the BEGIN sent ahead of it failed: a
 * local claim (no lease) is only ever committed `in_progress` that way, since its transaction
 * stores the outcome before COMMIT. Returns false when there is none.
 */
export async function deleteStrayClaim(db: Queryable, scope: string, key: string, fingerprint: string): Promise<boolean> {
  const { rowCount } = await db.query({
    name: 'idem_delete_stray_claim',
    text: `DELETE FROM idempotency_keys
      WHERE scope = $1 AND key = $2 AND fingerprint = $3 AND status = 'in_progress' AND lease_owner IS NULL AND lease_epoch = 0`,
    values: [scope, key, fingerprint],
  });
  return rowCount === 1;
}

/**
 * Inserts a definitive failure for a key that has no live record (the effect's own
 * transaction was rolled back). Returns false when another caller stored an outcome first.
 */
export async function insertFailure(
  db: Queryable,
  scope: string,
  key: string,
  fingerprint: string,
  errorJson: string,
  ttlSeconds: number,
): Promise<boolean> {
  const { rowCount } = await db.query({
    name: 'idem_insert_failure',
    text: `INSERT INTO idempotency_keys AS k (scope, key, fingerprint, status, error, attempts, completed_at, expires_at)
     VALUES ($1, $2, $3, 'failed', $4::jsonb, 1, now(), now() + make_interval(secs => $5))
     ON CONFLICT (scope, key) DO UPDATE
       SET fingerprint = EXCLUDED.fingerprint, status = 'failed', result = NULL, error = EXCLUDED.error,
           lease_owner = NULL, lease_epoch = 0, lease_expires_at = NULL, attempts = 1,
           created_at = now(), updated_at = now(), completed_at = now(), expires_at = EXCLUDED.expires_at
       WHERE k.expires_at <= now()`,
    values: [scope, key, fingerprint, errorJson, ttlSeconds],
  });
  return rowCount === 1;
}

/** Inserts a leased claim (epoch 1) for an external effect; false when the key exists (row locked). */
export async function insertLease(
  db: Queryable,
  scope: string,
  key: string,
  fingerprint: string,
  owner: string,
  leaseMs: number,
  ttlSeconds: number,
): Promise<boolean> {
  const { rowCount } = await db.query({
    name: 'idem_insert_lease',
    text: `INSERT INTO idempotency_keys AS k
       (scope, key, fingerprint, status, lease_owner, lease_epoch, lease_expires_at, attempts, expires_at)
     VALUES ($1, $2, $3, 'in_progress', $4, 1, now() + make_interval(secs => $5::float8 / 1000), 1,
             now() + make_interval(secs => $6))
     ON CONFLICT (scope, key) DO UPDATE
       SET fingerprint = EXCLUDED.fingerprint, status = 'in_progress', result = NULL, error = NULL,
           lease_owner = EXCLUDED.lease_owner, lease_epoch = k.lease_epoch + 1,
           lease_expires_at = EXCLUDED.lease_expires_at, attempts = 1,
           created_at = now(), updated_at = now(), completed_at = NULL, expires_at = EXCLUDED.expires_at
       WHERE k.expires_at <= now()`,
    values: [scope, key, fingerprint, owner, leaseMs, ttlSeconds],
  });
  return rowCount === 1;
}

/** Takes a lease over (or renews the claim) with a new epoch; the caller holds the row lock. Returns the new epoch. */
export async function bumpEpoch(
  db: Queryable,
  scope: string,
  key: string,
  owner: string,
  leaseMs: number,
): Promise<number> {
  const { rows } = await db.query<{ lease_epoch: string }>({
    name: 'idem_bump_epoch',
    text: `UPDATE idempotency_keys
        SET lease_owner = $3, lease_epoch = lease_epoch + 1, attempts = attempts + 1,
            lease_expires_at = now() + make_interval(secs => $4::float8 / 1000), updated_at = now()
      WHERE scope = $1 AND key = $2
      RETURNING lease_epoch`,
    values: [scope, key, owner, leaseMs],
  });
  return Number(rows[0]?.lease_epoch);
}

/** Extends the lease of the current epoch; false when the epoch is stale. */
export async function extendLease(
  db: Queryable,
  scope: string,
  key: string,
  epoch: number,
  leaseMs: number,
): Promise<boolean> {
  const { rowCount } = await db.query({
    name: 'idem_extend_lease',
    text: `UPDATE idempotency_keys
        SET lease_expires_at = now() + make_interval(secs => $4::float8 / 1000), updated_at = now()
      WHERE scope = $1 AND key = $2 AND lease_epoch = $3 AND status = 'in_progress'`,
    values: [scope, key, epoch, leaseMs],
  });
  return rowCount === 1;
}

/** Ends the lease of the current epoch early, leaving the key in progress (the outcome is unknown). */
export async function releaseLease(db: Queryable, scope: string, key: string, epoch: number): Promise<boolean> {
  const { rowCount } = await db.query({
    name: 'idem_release_lease',
    text: `UPDATE idempotency_keys SET lease_expires_at = now(), updated_at = now()
      WHERE scope = $1 AND key = $2 AND lease_epoch = $3 AND status = 'in_progress'`,
    values: [scope, key, epoch],
  });
  return rowCount === 1;
}

/** Stores a definitive outcome only when `epoch` is still current; false when fenced. */
export async function finishLease(
  db: Queryable,
  scope: string,
  key: string,
  epoch: number,
  outcome: { status: 'completed'; resultJson: string } | { status: 'failed'; errorJson: string },
): Promise<boolean> {
  const { rowCount } = await db.query({
    name: 'idem_finish_lease',
    text: `UPDATE idempotency_keys
        SET status = $4, result = $5::jsonb, error = $6::jsonb, lease_expires_at = NULL,
            completed_at = now(), updated_at = now()
      WHERE scope = $1 AND key = $2 AND lease_epoch = $3 AND status = 'in_progress'`,
    values: [
      scope,
      key,
      epoch,
      outcome.status,
      outcome.status === 'completed' ? outcome.resultJson : null,
      outcome.status === 'failed' ? outcome.errorJson : null,
    ],
  });
  return rowCount === 1;
}

/** Writes the `aborted` tombstone for a forward key that has no record; false when one exists (row locked). */
export async function insertTombstone(db: Queryable, scope: string, key: string, ttlSeconds: number): Promise<boolean> {
  const { rowCount } = await db.query({
    name: 'idem_insert_tombstone',
    text: `INSERT INTO idempotency_keys (scope, key, status, completed_at, expires_at)
     VALUES ($1, $2, 'aborted', now(), now() + make_interval(secs => $3))
     ON CONFLICT (scope, key) DO NOTHING`,
    values: [scope, key, ttlSeconds],
  });
  return rowCount === 1;
}

/** Marks a locked forward record compensated (its effect was undone) or aborted (it never applied). */
export async function markUndone(
  db: Queryable,
  scope: string,
  key: string,
  status: 'compensated' | 'aborted',
  epoch?: number,
): Promise<boolean> {
  const { rowCount } = await db.query({
    name: 'idem_mark_undone',
    text: `UPDATE idempotency_keys SET status = $3, lease_expires_at = NULL, updated_at = now(), completed_at = now()
      WHERE scope = $1 AND key = $2 AND ($4::bigint IS NULL OR lease_epoch = $4)`,
    values: [scope, key, status, epoch ?? null],
  });
  return rowCount === 1;
}

/**
 * Deletes at most `limit` expired records, oldest first, skipping rows another transaction holds.
 * Not named, unlike the rest: a cached generic plan would choose how to find the rows without
 * seeing the batch size, and this runs once per batch, not once per call.
 */
export async function deleteExpiredBatch(db: Queryable, limit: number): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM idempotency_keys k USING (
        SELECT scope, key FROM idempotency_keys WHERE expires_at <= now()
         ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED) doomed
      WHERE k.scope = doomed.scope AND k.key = doomed.key`,
    [limit],
  );
  return rowCount ?? 0;
}
