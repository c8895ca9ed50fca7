// The store's own migrations (plain SQL, node-pg-migrate), apart from any application's: their own
// directory and their own table of applied migrations, in a schema of the caller's choice. Safe to
// run from many processes at once: the runner waits on its advisory lock.
import path from 'node:path';
import type { ClientConfig, Pool } from 'pg';

/** Where the store's migrations live and the table that records which ran. */
export const STORE_MIGRATIONS: MigrationSet = { dir: path.join(__dirname, 'migrations'), table: 'idempotent_sagas_migrations' };

/** Where and how the store's migrations run. */
export type MigrateOptions = {
  /** The schema to create the store's tables (and its migrations table) in; created if missing. Default `public`. */
  schema?: string;
  log?: (msg: string) => void;
};

/** A directory of plain-SQL migrations and the table that records which of them ran. */
export type MigrationSet = { dir: string; table: string };

/**
 * Applies the store's pending migrations to the database `db` (a pool, whose connection settings
 * are used for a connection of its own, or a connection string). Returns the names it applied.
 */
export function migrate(db: Pool | string, opts: MigrateOptions = {}): Promise<string[]> {
  return runMigrationSet(typeof db === 'string' ? db : connectionOf(db), STORE_MIGRATIONS, opts);
}

/**
 * Applies a set's pending migrations, all in one transaction, in order (a set whose applied history
 * disagrees with its files is refused). An application can run its own sets with it too.
 */
export async function runMigrationSet(databaseUrl: string | ClientConfig, set: MigrationSet, opts: MigrateOptions = {}): Promise<string[]> {
  const log = opts.log ?? (() => {});
  const schema = opts.schema ?? 'public';
  // Loaded when first needed: the runner is ESM-only, and importing the store must not load it.
  const { runner } = await import('node-pg-migrate');
  const applied = await runner({
    databaseUrl,
    dir: set.dir,
    direction: 'up',
    migrationsTable: set.table,
    schema,
    createSchema: schema !== 'public',
    advisoryLockMode: 'wait',
    singleTransaction: true,
    checkOrder: true,
    log,
    logger: { debug: () => {}, info: log, warn: log, error: log },
  });
  return applied.map((m) => m.name);
}

/** The pool's connection settings, for one plain (not pipelined) connection of the migration's own. */
function connectionOf(pool: Pool): ClientConfig {
  const { connectionString, host, port, user, password, database, ssl } = pool.options;
  return { connectionString, host, port, user, password, database, ssl };
}
