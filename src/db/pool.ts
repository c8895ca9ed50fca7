// The only module that creates a pg Pool. Transactions on it: withTransaction from idempotent-sagas/store.
import { Pool, type PoolConfig } from 'pg';

export type Db = Pool;

export function createPool(connectionString: string, opts: { max?: number; onIdleError?: (err: Error) => void; applicationName?: string } = {}): Pool {
  const config: PoolConfig = {
    connectionString,
    max: opts.max ?? 20,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 10_000,
    application_name: opts.applicationName ?? 'idempotent-sagas',
    // Invariant: code that awaits each query sends what it sent without pipeline mode; only sendInOrder
    // (below) overlaps statements. Pipeline mode refuses cursors and the `rows` option (used nowhere).
    pipeline: true,
  };
  const pool = new Pool(config);
  // An idle client whose backend dies emits 'error' on the pool; unhandled, it would crash the process.
  pool.on('error', (err) => opts.onIdleError?.(err));
  return pool;
}
