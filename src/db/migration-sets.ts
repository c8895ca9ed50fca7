// Where each schema's migrations live. Kept apart from migrate.ts (which loads the ESM-only
// runner) so tests can name the sets without loading it.
import path from 'node:path';

export type MigrationSet = { dir: string; table: string };

/** The project's own schema: the idempotency table and the order domain. */
export const APP_MIGRATIONS: MigrationSet = { dir: path.join(__dirname, 'migrations'), table: 'pgmigrations' };
