// One function per statement on idempotency_keys. Callers pass the client (pool or transaction).
//
// Statements are named (node-postgres prepares a named statement once per connection, then only
// binds and executes it): `npm run bench:store` measured parse and plan as a large share of the
// store's server time per call. Invariants: a name always carries the same text (node-postgres
// refuses a name reused for other text); the same statements run in the same order and in the
// same transactions as unnamed ones would, and a protocol-level prepared statement is not undone
// by ROLLBACK. A transaction-mode pooler in front of Postgres must support prepared statements
// (PgBouncer 1.21+ with max_prepared_statements).
//
// Retention (DESIGN §10): a record with a saga ID has no expiry of its own (expires_at NULL): it is
// never reset and never deleted while its saga is open; cleanup deletes it once the saga's row in
// idempotency_sagas has expired. No new record is created for a saga that has closed.
import type { Pool, PoolClient } from 'pg';

/** A pool or a checked-out client: what the store queries through. */
export type Queryable = Pool | PoolClient;

/** The life of a record: in progress, then completed or failed; a compensation ends it aborted (tombstone) or compensated. */
export type RecordStatus = 'in_progress' | 'completed' | 'failed' | 'aborted' | 'compensated';

/** A business failure as stored with its key, and raised again for every duplicate. */
export type StoredFailure = { type: string; message: string; details: Record<string, unknown> };

/** One row of the idempotency table, as the store reads it. */
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
  /** The record is past expires_at: it no longer deduplicates. Never true for a saga's record. */
  expired: boolean;
  /** The saga the record belongs to (its retention follows the saga), or null. */
  sagaId: string | null;
  /** When this record's life began, in microseconds since the epoch: unchanged by takeovers, new after a reset. */
  generation: string;
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
  saga_id: string | null;
  generation: string;
};

const RECORD_COLUMNS = `fingerprint, status, result, error, lease_epoch, lease_owner, attempts, saga_id,
  COALESCE(GREATEST(0, CEIL(EXTRACT(EPOCH FROM (lease_expires_at - now())) * 1000)), 0)::int AS lease_ms_left,
  COALESCE(expires_at <= now(), false) AS expired,
  (EXTRACT(EPOCH FROM created_at) * 1000000)::bigint::text AS generation`;

/** The expiry of a new record: none for a saga's record ($sagaId set), now + TTL otherwise. */
const NEW_EXPIRY = (sagaParam: string, ttlParam: string): string => `CASE WHEN ${sagaParam}::text IS NULL THEN now() + make_interval(secs => ${ttlParam}) END`;

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
    sagaId: row.saga_id,
    generation: row.generation,
  };
}

/** A Postgres identifier, quoted. */
/** Runs a statement that writes at most one row; true when it wrote one. */
async function changesOneRow(db: Queryable, statement: { name: string; text: string; values: unknown[] }): Promise<boolean> {
  const { rowCount } = await db.query(statement);
  return rowCount === 1;
}

/** Runs a batch delete whose only parameter is the batch size; the number of rows it deleted. */
async function deleteBatch(db: Queryable, text: string, limit: number): Promise<number> {
  const { rowCount } = await db.query(text, [limit]);
  return rowCount ?? 0;
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * The statements on the store's tables in `schema` (where its migrations created them). Statement
 * names carry the schema, so one connection can serve stores in several schemas.
 */
export function recordStatements(schema = 'public') {
  const KEYS = `${quoteIdent(schema)}.idempotency_keys`;
  const SAGAS = `${quoteIdent(schema)}.idempotency_sagas`;
  const n = (name: string): string => (schema === 'public' ? name : `${name}@${schema}`);
  /** A new record for a saga is created only while the saga is open. */
  const SAGA_OPEN = (sagaParam: string): string => `(${sagaParam}::text IS NULL OR NOT EXISTS (SELECT 1 FROM ${SAGAS} s WHERE s.saga_id = ${sagaParam}::text))`;

  return {
    selectRecord,
    claimLocal,
    insertCompleted,
    finishLocal,
    deleteStrayClaim,
    insertFailure,
    insertLease,
    bumpEpoch,
    extendLease,
    releaseLease,
    finishLease,
    insertTombstone,
    markUndone,
    insertSagaClosed,
    deleteExpiredBatch,
    deleteClosedSagaRecordsBatch,
    deleteFinishedSagasBatch,
    countRetained,
  };

  async function selectRecord(db: Queryable, scope: string, key: string, lock: 'none' | 'for update' = 'none'): Promise<IdempotencyRecord | undefined> {
    const { rows } = await db.query<RecordRow>({
      name: lock === 'for update' ? n('idem_select_record_for_update') : n('idem_select_record'),
      text: `SELECT ${RECORD_COLUMNS} FROM ${KEYS} WHERE scope = $1 AND key = $2 ${lock === 'for update' ? 'FOR UPDATE' : ''}`,
      values: [scope, key],
    });
    return rows[0] && toRecord(rows[0]);
  }

  /**
   * Claims a key for a local effect: inserts it `in_progress`, or resets a record that has
   * expired. Returns false when a live record is there (the row now locked) or when the record
   * would belong to a saga that has closed (no row).
   */
  async function claimLocal(db: Queryable, scope: string, key: string, fingerprint: string, ttlSeconds: number, sagaId: string | null): Promise<boolean> {
    return changesOneRow(db, {
      name: n('idem_claim_local'),
      text: `INSERT INTO ${KEYS} AS k (scope, key, saga_id, fingerprint, status, attempts, expires_at)
     SELECT $1, $2, $5, $3, 'in_progress', 1, ${NEW_EXPIRY('$5', '$4')} WHERE ${SAGA_OPEN('$5')}
     ON CONFLICT (scope, key) DO UPDATE
       SET fingerprint = EXCLUDED.fingerprint, status = 'in_progress', result = NULL, error = NULL,
           lease_owner = NULL, lease_epoch = 0, lease_expires_at = NULL, attempts = 1, saga_id = EXCLUDED.saga_id,
           created_at = now(), updated_at = now(), completed_at = NULL, expires_at = EXCLUDED.expires_at
       WHERE k.expires_at <= now()`,
      values: [scope, key, fingerprint, ttlSeconds, sagaId],
    });
  }

  /**
   * Inserts a completed record in the effect's transaction (the key written once, at its end). A key already
   * there fails it with unique_violation, and a closed saga with not_null_violation (its scope, a primary-key
   * column, is then NULL): either aborts the transaction, so a COMMIT sent behind it rolls the effect back.
   */
  async function insertCompleted(
    db: Queryable,
    scope: string,
    key: string,
    fingerprint: string,
    resultJson: string,
    ttlSeconds: number,
    sagaId: string | null,
  ): Promise<void> {
    await db.query({
      name: n('idem_insert_completed'),
      text: `INSERT INTO ${KEYS} (scope, key, saga_id, fingerprint, status, result, attempts, completed_at, expires_at)
      VALUES (CASE WHEN ${SAGA_OPEN('$6')} THEN $1 END, $2, $6, $3, 'completed', $4::jsonb, 1, now(), ${NEW_EXPIRY('$6', '$5')})`,
      values: [scope, key, fingerprint, resultJson, ttlSeconds, sagaId],
    });
  }

  /** Stores the outcome of a local effect claimed in the same transaction. */
  async function finishLocal(
    db: Queryable,
    scope: string,
    key: string,
    outcome: { status: 'completed'; resultJson: string } | { status: 'failed'; errorJson: string },
  ): Promise<void> {
    await db.query({
      name: n('idem_finish_local'),
      text: `UPDATE ${KEYS}
        SET status = $3, result = $4::jsonb, error = $5::jsonb, completed_at = now(), updated_at = now()
      WHERE scope = $1 AND key = $2`,
      values: [scope, key, outcome.status, outcome.status === 'completed' ? outcome.resultJson : null, outcome.status === 'failed' ? outcome.errorJson : null],
    });
  }

  /**
   * Deletes a local claim that committed on its own because the BEGIN sent ahead of it failed: a
   * local claim (no lease) is only ever committed `in_progress` that way, since its transaction
   * stores the outcome before COMMIT. Returns false when there is none.
   */
  async function deleteStrayClaim(db: Queryable, scope: string, key: string, fingerprint: string): Promise<boolean> {
    return changesOneRow(db, {
      name: n('idem_delete_stray_claim'),
      text: `DELETE FROM ${KEYS}
      WHERE scope = $1 AND key = $2 AND fingerprint = $3 AND status = 'in_progress' AND lease_owner IS NULL AND lease_epoch = 0`,
      values: [scope, key, fingerprint],
    });
  }

  /**
   * Inserts a definitive failure for a key that has no live record (the effect's own
   * transaction was rolled back). Returns false when another caller stored an outcome first
   * (the row now locked), or when the saga has closed (no row).
   */
  async function insertFailure(
    db: Queryable,
    scope: string,
    key: string,
    fingerprint: string,
    errorJson: string,
    ttlSeconds: number,
    sagaId: string | null,
  ): Promise<boolean> {
    return changesOneRow(db, {
      name: n('idem_insert_failure'),
      text: `INSERT INTO ${KEYS} AS k (scope, key, saga_id, fingerprint, status, error, attempts, completed_at, expires_at)
     SELECT $1, $2, $6, $3, 'failed', $4::jsonb, 1, now(), ${NEW_EXPIRY('$6', '$5')} WHERE ${SAGA_OPEN('$6')}
     ON CONFLICT (scope, key) DO UPDATE
       SET fingerprint = EXCLUDED.fingerprint, status = 'failed', result = NULL, error = EXCLUDED.error,
           lease_owner = NULL, lease_epoch = 0, lease_expires_at = NULL, attempts = 1, saga_id = EXCLUDED.saga_id,
           created_at = now(), updated_at = now(), completed_at = now(), expires_at = EXCLUDED.expires_at
       WHERE k.expires_at <= now()`,
      values: [scope, key, fingerprint, errorJson, ttlSeconds, sagaId],
    });
  }

  /**
   * Inserts a leased claim (epoch 1) for an external effect, or resets an expired record with a new
   * epoch; false when a live record exists (row locked) or the saga has closed (no row).
   */
  async function insertLease(
    db: Queryable,
    scope: string,
    key: string,
    fingerprint: string,
    owner: string,
    leaseMs: number,
    ttlSeconds: number,
    sagaId: string | null,
  ): Promise<boolean> {
    return changesOneRow(db, {
      name: n('idem_insert_lease'),
      text: `INSERT INTO ${KEYS} AS k
       (scope, key, saga_id, fingerprint, status, lease_owner, lease_epoch, lease_expires_at, attempts, expires_at)
     SELECT $1, $2, $7, $3, 'in_progress', $4, 1, now() + make_interval(secs => $5::float8 / 1000), 1,
            ${NEW_EXPIRY('$7', '$6')} WHERE ${SAGA_OPEN('$7')}
     ON CONFLICT (scope, key) DO UPDATE
       SET fingerprint = EXCLUDED.fingerprint, status = 'in_progress', result = NULL, error = NULL,
           lease_owner = EXCLUDED.lease_owner, lease_epoch = k.lease_epoch + 1,
           lease_expires_at = EXCLUDED.lease_expires_at, attempts = 1, saga_id = EXCLUDED.saga_id,
           created_at = now(), updated_at = now(), completed_at = NULL, expires_at = EXCLUDED.expires_at
       WHERE k.expires_at <= now()`,
      values: [scope, key, fingerprint, owner, leaseMs, ttlSeconds, sagaId],
    });
  }

  /** Takes a lease over (or renews the claim) with a new epoch; the caller holds the row lock. Returns the new epoch. */
  async function bumpEpoch(db: Queryable, scope: string, key: string, owner: string, leaseMs: number): Promise<number> {
    const { rows } = await db.query<{ lease_epoch: string }>({
      name: n('idem_bump_epoch'),
      text: `UPDATE ${KEYS}
        SET lease_owner = $3, lease_epoch = lease_epoch + 1, attempts = attempts + 1,
            lease_expires_at = now() + make_interval(secs => $4::float8 / 1000), updated_at = now()
      WHERE scope = $1 AND key = $2
      RETURNING lease_epoch`,
      values: [scope, key, owner, leaseMs],
    });
    return Number(rows[0]?.lease_epoch);
  }

  /**
   * Extends the live lease of the current epoch; false when the epoch is stale or the lease was
   * released or ran out. clock_timestamp(), not now(): a heartbeat that waited on the row lock
   * behind a release must see the released lease as over, whenever its own transaction began.
   */
  async function extendLease(db: Queryable, scope: string, key: string, epoch: number, leaseMs: number): Promise<boolean> {
    return changesOneRow(db, {
      name: n('idem_extend_lease'),
      text: `UPDATE ${KEYS}
        SET lease_expires_at = now() + make_interval(secs => $4::float8 / 1000), updated_at = now()
      WHERE scope = $1 AND key = $2 AND lease_epoch = $3 AND status = 'in_progress'
        AND lease_expires_at > clock_timestamp()`,
      values: [scope, key, epoch, leaseMs],
    });
  }

  /** Ends the lease of the current epoch early, leaving the key in progress (the outcome is unknown). */
  async function releaseLease(db: Queryable, scope: string, key: string, epoch: number): Promise<boolean> {
    return changesOneRow(db, {
      name: n('idem_release_lease'),
      text: `UPDATE ${KEYS} SET lease_expires_at = now(), updated_at = now()
      WHERE scope = $1 AND key = $2 AND lease_epoch = $3 AND status = 'in_progress'`,
      values: [scope, key, epoch],
    });
  }

  /** Stores a definitive outcome only when `epoch` is still current; false when fenced. */
  async function finishLease(
    db: Queryable,
    scope: string,
    key: string,
    epoch: number,
    outcome: { status: 'completed'; resultJson: string } | { status: 'failed'; errorJson: string },
  ): Promise<boolean> {
    return changesOneRow(db, {
      name: n('idem_finish_lease'),
      text: `UPDATE ${KEYS}
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
  }

  /** Writes the `aborted` tombstone for a forward key that has no record; false when one exists (row locked). */
  async function insertTombstone(db: Queryable, scope: string, key: string, ttlSeconds: number, sagaId: string | null): Promise<boolean> {
    return changesOneRow(db, {
      name: n('idem_insert_tombstone'),
      text: `INSERT INTO ${KEYS} (scope, key, saga_id, status, completed_at, expires_at)
     VALUES ($1, $2, $4, 'aborted', now(), ${NEW_EXPIRY('$4', '$3')})
     ON CONFLICT (scope, key) DO NOTHING`,
      values: [scope, key, ttlSeconds, sagaId],
    });
  }

  /** Marks a locked forward record compensated (its effect was undone) or aborted (it never applied). */
  async function markUndone(db: Queryable, scope: string, key: string, status: 'compensated' | 'aborted', epoch?: number): Promise<boolean> {
    return changesOneRow(db, {
      name: n('idem_mark_undone'),
      text: `UPDATE ${KEYS} SET status = $3, lease_expires_at = NULL, updated_at = now(), completed_at = now()
      WHERE scope = $1 AND key = $2 AND ($4::bigint IS NULL OR lease_epoch = $4)`,
      values: [scope, key, status, epoch ?? null],
    });
  }

  /**
   * Records that a saga has closed: the retention clock of its records starts now. Written once;
   * false when it was already closed (the first close stands).
   */
  async function insertSagaClosed(db: Queryable, sagaId: string, outcome: string, ttlSeconds: number): Promise<boolean> {
    return changesOneRow(db, {
      name: n('idem_insert_saga_closed'),
      text: `INSERT INTO ${SAGAS} (saga_id, outcome, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))
     ON CONFLICT (saga_id) DO NOTHING`,
      values: [sagaId, outcome, ttlSeconds],
    });
  }

  // Cleanup statements are not named, unlike the rest: a cached generic plan would choose how to find
  // the rows without seeing the batch size, and each runs once per batch, not once per call.

  /** Deletes the key rows `doomed` selects (scope, key; `limit` is its $1). */
  function deleteKeys(db: Queryable, doomed: string, limit: number): Promise<number> {
    return deleteBatch(db, `DELETE FROM ${KEYS} k USING (${doomed}) doomed WHERE k.scope = doomed.scope AND k.key = doomed.key`, limit);
  }

  /** Deletes at most `limit` expired records that belong to no saga, oldest first; never one in progress. */
  async function deleteExpiredBatch(db: Queryable, limit: number): Promise<number> {
    return deleteKeys(
      db,
      `SELECT scope, key FROM ${KEYS} WHERE expires_at <= now() AND status <> 'in_progress'
         ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
      limit,
    );
  }

  /** Deletes at most `limit` records of sagas closed longer ago than their retention; never one in progress. */
  async function deleteClosedSagaRecordsBatch(db: Queryable, limit: number): Promise<number> {
    return deleteKeys(
      db,
      `SELECT r.scope, r.key FROM ${SAGAS} s JOIN ${KEYS} r ON r.saga_id = s.saga_id
         WHERE s.expires_at <= now() AND r.status <> 'in_progress'
         ORDER BY s.expires_at LIMIT $1 FOR UPDATE OF r SKIP LOCKED`,
      limit,
    );
  }

  /** Deletes at most `limit` expired saga rows whose records are all gone. */
  async function deleteFinishedSagasBatch(db: Queryable, limit: number): Promise<number> {
    return deleteBatch(
      db,
      `DELETE FROM ${SAGAS} s USING (
        SELECT saga_id FROM ${SAGAS} x WHERE x.expires_at <= now()
           AND NOT EXISTS (SELECT 1 FROM ${KEYS} k WHERE k.saga_id = x.saga_id)
         ORDER BY x.expires_at LIMIT $1 FOR UPDATE SKIP LOCKED) doomed
      WHERE s.saga_id = doomed.saga_id`,
      limit,
    );
  }

  /** What cleanup keeps although a clock says otherwise, or because no clock has started. */
  async function countRetained(db: Queryable): Promise<{ inProgress: number; openSagaRecords: number }> {
    const { rows } = await db.query<{ in_progress: string; open_saga_records: string }>(
      `SELECT
       (SELECT count(*) FROM ${KEYS} k WHERE k.status = 'in_progress' AND (k.expires_at <= now()
          OR EXISTS (SELECT 1 FROM ${SAGAS} s WHERE s.saga_id = k.saga_id AND s.expires_at <= now()))) AS in_progress,
       (SELECT count(*) FROM ${KEYS} k WHERE k.saga_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM ${SAGAS} s WHERE s.saga_id = k.saga_id)) AS open_saga_records`,
    );
    return { inProgress: Number(rows[0]?.in_progress ?? 0), openSagaRecords: Number(rows[0]?.open_saga_records ?? 0) };
  }
}

export type RecordStatements = ReturnType<typeof recordStatements>;
