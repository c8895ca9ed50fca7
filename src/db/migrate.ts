// The app's schema migrations, run with the library's runner. Safe to run from many processes at
// once: the runner waits on its advisory lock, so the second process finds the work done.
import { migrate as migrateStore, runMigrationSet } from 'idempotent-sagas/store';
import { APP_MIGRATIONS, type MigrationSet } from './migration-sets';

export { APP_MIGRATIONS, type MigrationSet };

/** The prefix of the store's migration names in what migrate() reports as applied. */
export const STORE_MIGRATION_PREFIX = 'idempotent-sagas/';

/**
 * Applies every pending migration of `set`; returns the names of those this call applied. The
 * app's set first applies the library's store migrations (its own set; reported with a prefix).
 */
export async function migrate(databaseUrl: string, log: (msg: string) => void = () => {}, set: MigrationSet = APP_MIGRATIONS): Promise<string[]> {
  const store = set === APP_MIGRATIONS ? (await migrateStore(databaseUrl, { log })).map((name) => `${STORE_MIGRATION_PREFIX}${name}`) : [];
  return [...store, ...(await runMigrationSet(databaseUrl, set, { log }))];
}
