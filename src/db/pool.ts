// The only module that creates a pg Pool. Transactions run on one checked-out client.
import { Pool, type PoolClient, type PoolConfig } from 'pg';

export type Db = Pool;
export type DbClient = PoolClient;

export function createPool(
  connectionString: string,
  opts: { max?: number; onIdleError?: (err: Error) => void } = {},
): Pool {
  const config: PoolConfig = {
    connectionString,
    max: opts.max ?? 20,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 10_000,
    application_name: 'idempotent-sagas',
  };
  const pool = new Pool(config);
  // An idle client whose backend dies emits 'error' on the pool; unhandled, it would crash the process.
  pool.on('error', (err) => opts.onIdleError?.(err));
  return pool;
}

/**
 * Runs `fn` on one checked-out client. If `fn` throws, any open transaction is rolled back;
 * a client whose connection broke is destroyed instead of going back to the pool.
 */
export async function withClient<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // A backend that dies mid-query also emits 'error' on the client; the awaited query reports it.
  const swallow = (): void => {};
  client.on('error', swallow);
  let broken: Error | undefined;
  try {
    return await fn(client);
  } catch (err) {
    await client.query('ROLLBACK').catch((rollbackErr: Error) => (broken = rollbackErr));
    throw err;
  } finally {
    client.off('error', swallow);
    client.release(broken);
  }
}

/** Runs `fn` inside BEGIN/COMMIT on one client; any throw rolls back. */
export function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  return withClient(pool, async (client) => {
    await client.query('BEGIN');
    const value = await fn(client);
    await client.query('COMMIT');
    return value;
  });
}
