// Schema migrations (node-pg-migrate, plain SQL files). Safe to run from many processes at once:
// the runner waits on its advisory lock, so the second process finds the work done.
import path from 'node:path';
import { runner } from 'node-pg-migrate';

export type MigrationSet = { dir: string; table: string };

/** The project's own schema: the idempotency table and the order domain. */
export const APP_MIGRATIONS: MigrationSet = { dir: path.join(__dirname, 'migrations'), table: 'pgmigrations' };

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
