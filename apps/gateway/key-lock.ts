// Serialises every write for one idempotency key (charge, refund-by-key, tombstone) inside a transaction.
import type { PoolClient } from 'pg';

/** Namespace of the gateway's advisory locks (the first half of the two-int lock key). */
const LOCK_CLASS = 740_100;
/** Longest wait for another request holding the key before answering 409 in-progress. */
const LOCK_TIMEOUT = '5s';

export class KeyBusyError extends Error {
  override readonly name = 'KeyBusyError';
}

/**
 * Takes the transaction-scoped lock of `key`; released by COMMIT or ROLLBACK. Under READ COMMITTED
 * the next statement sees every row the previous holder committed.
 */
export async function lockKey(client: PoolClient, key: string): Promise<void> {
  await client.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
  try {
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CLASS, key]);
  } catch (err) {
    if ((err as { code?: string }).code === '55P03') throw new KeyBusyError(`idempotency key is busy: ${key}`);
    throw err;
  }
}
