// Schema migrations (node-pg-migrate, plain SQL files). Safe to run from many processes at once:
// the runner waits on its advisory lock, so the second process finds the work done.
import { runner } from 'node-pg-migrate';
import { APP_MIGRATIONS, type MigrationSet } from './migration-sets';

export { APP_MIGRATIONS, type MigrationSet };

/** Applies every pending migration of `set`; returns the names of those this call applied. */
export async function migrate(
  databaseUrl: string,
  log: (msg: string) => void = () => {},
  set: MigrationSet = APP_MIGRATIONS,
): Promise<string[]> {
  const applied = await runner({
    databaseUrl,
    dir: set.dir,
    direction: 'up',
    migrationsTable: set.table,
    advisoryLockMode: 'wait',
    singleTransaction: true,
    checkOrder: true,
    log,
    logger: { debug: () => {}, info: log, warn: log, error: log },
  });
  return applied.map((m) => m.name);
}
